/**
 * kind-config.yaml: a kind v1alpha4 Cluster with one control plane and two workers, host ports
 * that are valid NodePorts on loopback only, and the containerd registry-mirror hook. (kind itself
 * can't run on the CI machines: its nodes need privileged containers, DESIGN.md §5.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

const file = fileURLToPath(new URL('../../kind-config.yaml', import.meta.url));

interface PortMapping {
  containerPort: number;
  hostPort: number;
  listenAddress?: string;
  protocol?: string;
}
interface KindConfig {
  kind: string;
  apiVersion: string;
  name?: string;
  nodes: { role: string; extraPortMappings?: PortMapping[] }[];
  containerdConfigPatches?: string[];
}

const doc = parseDocument(readFileSync(file, 'utf8'), { uniqueKeys: true });
const cfg = doc.toJS() as KindConfig;

test('kind-config.yaml parses as one kind v1alpha4 Cluster', () => {
  assert.deepEqual(doc.errors, []);
  assert.equal(cfg.kind, 'Cluster');
  assert.equal(cfg.apiVersion, 'kind.x-k8s.io/v1alpha4');
  assert.equal(cfg.name, 'mqop');
  // Only fields kind's v1alpha4 Cluster and Node types have (kind rejects unknown fields).
  const clusterFields = new Set([
    'kind',
    'apiVersion',
    'name',
    'nodes',
    'networking',
    'featureGates',
    'runtimeConfig',
    'kubeadmConfigPatches',
    'kubeadmConfigPatchesJSON6902',
    'containerdConfigPatches',
    'containerdConfigPatchesJSON6902',
  ]);
  for (const k of Object.keys(cfg)) assert.ok(clusterFields.has(k), `unknown Cluster field ${k}`);
  const nodeFields = new Set([
    'role',
    'image',
    'labels',
    'extraMounts',
    'extraPortMappings',
    'kubeadmConfigPatches',
    'kubeadmConfigPatchesJSON6902',
  ]);
  for (const n of cfg.nodes)
    for (const k of Object.keys(n)) assert.ok(nodeFields.has(k), `unknown Node field ${k}`);
});

test('one control-plane node and two workers', () => {
  assert.deepEqual(
    cfg.nodes.map((n) => n.role),
    ['control-plane', 'worker', 'worker'],
  );
});

test('host ports: NodePorts of the examples, loopback only, no duplicates', () => {
  const maps = cfg.nodes.flatMap((n) => n.extraPortMappings ?? []);
  assert.ok(maps.length >= 6, `${maps.length} port mappings`);
  for (const m of maps) {
    assert.ok(m.containerPort >= 30000 && m.containerPort <= 32767, `${m.containerPort} is not a NodePort`);
    assert.equal(m.hostPort, m.containerPort);
    assert.equal(m.listenAddress, '127.0.0.1');
    assert.equal(m.protocol, 'TCP');
  }
  const ports = maps.map((m) => m.hostPort);
  assert.equal(new Set(ports).size, ports.length, 'duplicate host port');
});

test('containerdConfigPatches: registry config_path points at /etc/containerd/certs.d', () => {
  const patch = cfg.containerdConfigPatches?.join('\n') ?? '';
  assert.match(patch, /^\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\]$/m);
  assert.match(patch, /^\s+config_path = "\/etc\/containerd\/certs\.d"$/m);
});
