import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MessageQueueSpec } from '../api/types.ts';
import { type K8sObject, render } from '../render/render.ts';
import { CLUSTER_ID_KEY, CLUSTER_PASSWORD_KEY, kafka } from './kafka.ts';

const cr = (spec: Omit<MessageQueueSpec, 'engine'>) => ({
  apiVersion: 'mqop.dev/v1alpha1' as const,
  kind: 'MessageQueue' as const,
  metadata: { name: 'orders', namespace: 'shop', uid: 'u-1' },
  spec: { engine: 'kafka' as const, ...spec },
});
const inputs = {
  credentials: { username: 'app-user', password: 'pw-Zq9xT4-unique' },
  internal: {
    [CLUSTER_ID_KEY]: 'AbCdEfGhIjKlMnOpQrStUw',
    [CLUSTER_PASSWORD_KEY]: '00112233445566778899aabbccddeeff',
  },
};

const objects = (spec: Omit<MessageQueueSpec, 'engine'>) => render(cr(spec), inputs).objects;
const ofKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
const one = (objs: K8sObject[], kind: string, name?: string) => {
  const found = ofKind(objs, kind).filter((o) => name === undefined || o.metadata.name === name);
  assert.equal(found.length, 1, `expected one ${kind} ${name ?? ''}`);
  return found[0] as K8sObject;
};
// biome-ignore lint/suspicious/noExplicitAny: rendered JSON is walked structurally in tests.
type Any = any;
const sts = (objs: K8sObject[]) => one(objs, 'StatefulSet', 'orders-kafka') as Any;
const container = (objs: K8sObject[]) => sts(objs).spec.template.spec.containers[0];
const configData = (objs: K8sObject[]) => (one(objs, 'ConfigMap', 'orders-kafka-config') as Any).data;
/** server.properties as a map; fails on a key written twice (the last would silently win). */
const props = (objs: K8sObject[]) => {
  const out: Record<string, string> = {};
  for (const line of String(configData(objs)['server.properties']).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    const k = line.slice(0, i);
    assert.ok(!(k in out), `duplicate key ${k}`);
    out[k] = line.slice(i + 1);
  }
  return out;
};
const podHost = (i: number) => `orders-kafka-${i}.orders-kafka-headless.shop.svc.cluster.local`;
const kinds = (objs: K8sObject[]) =>
  objs
    .map((o) => o.kind)
    .sort()
    .join(',');

test('one replica: a single KRaft voter with replication factor 1 and no PDB', () => {
  const objs = objects({ replicas: 1 });
  assert.equal(kinds(objs), 'ConfigMap,Secret,Service,Service,StatefulSet');
  const p = props(objs);
  assert.equal(p['process.roles'], 'broker,controller');
  assert.equal(p['controller.quorum.voters'], `0@${podHost(0)}:9093`);
  assert.equal(p['default.replication.factor'], '1');
  assert.equal(p['offsets.topic.replication.factor'], '1');
  assert.equal(p['transaction.state.log.replication.factor'], '1');
  assert.equal(p['min.insync.replicas'], '1');
  assert.equal(p['log.dirs'], '/var/lib/kafka/data/logs');
  const s = sts(objs);
  assert.equal(s.spec.replicas, 1);
  assert.equal(s.spec.podManagementPolicy, 'Parallel');
  assert.equal(s.spec.serviceName, 'orders-kafka-headless');
  assert.equal(s.spec.volumeClaimTemplates[0].metadata.name, 'data');
});

test('three replicas: three voters, replication factor 3 / min ISR 2, a PDB', () => {
  const objs = objects({ replicas: 3 });
  assert.equal(kinds(objs), 'ConfigMap,PodDisruptionBudget,Secret,Service,Service,StatefulSet');
  const p = props(objs);
  assert.equal(p['controller.quorum.voters'], [0, 1, 2].map((i) => `${i}@${podHost(i)}:9093`).join(','));
  assert.equal(p['default.replication.factor'], '3');
  assert.equal(p['offsets.topic.replication.factor'], '3');
  assert.equal(p['transaction.state.log.min.isr'], '2');
  assert.equal(p['min.insync.replicas'], '2');
  assert.equal(sts(objs).spec.replicas, 3);
  assert.equal((one(objs, 'PodDisruptionBudget', 'orders-kafka') as Any).spec.maxUnavailable, 1);
});

test('listeners: SASL everywhere, SCRAM for clients and replication, PLAIN for controllers', () => {
  const p = props(objects({ replicas: 3 }));
  assert.equal(p.listeners, 'CLIENT://:9092,CONTROLLER://:9093,REPLICATION://:9094');
  assert.equal(
    p['listener.security.protocol.map'],
    'CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,REPLICATION:SASL_PLAINTEXT',
  );
  assert.equal(p['inter.broker.listener.name'], 'REPLICATION');
  assert.equal(p['controller.listener.names'], 'CONTROLLER');
  assert.equal(p['sasl.mechanism.inter.broker.protocol'], 'SCRAM-SHA-512');
  assert.equal(p['sasl.mechanism.controller.protocol'], 'PLAIN');
  assert.match(p['authorizer.class.name'] ?? '', /StandardAuthorizer/);
  // Per-pod and secret values are not in the ConfigMap: the start script adds them.
  for (const k of ['node.id', 'advertised.listeners', 'super.users']) assert.ok(!(k in p), k);
  const start = String(configData(objects({ replicas: 3 }))['start.sh']);
  assert.match(start, /advertised\.listeners=CLIENT:\/\/\$self:9092,REPLICATION:\/\/\$self:9094/);
  assert.match(start, /self="\$POD_NAME\.orders-kafka-headless\.shop\.svc\.cluster\.local"/);
  assert.match(start, /kafka-storage\.sh format --cluster-id "\$CLUSTER_ID"/);
  assert.match(
    start,
    /--add-scram "SCRAM-SHA-512=\[name=\\"\$KAFKA_USERNAME\\",password=\\"\$KAFKA_PASSWORD\\"\]"/,
  );
  assert.match(start, /exec \/opt\/kafka\/bin\/kafka-server-start\.sh "\$run\/server\.properties"/);
});

test('ephemeral storage: no claim templates, the data volume is an emptyDir', () => {
  const objs = objects({ replicas: 3, storage: { ephemeral: true } });
  const s = sts(objs);
  assert.equal(s.spec.volumeClaimTemplates, undefined);
  const data = s.spec.template.spec.volumes.find((v: Any) => v.name === 'data');
  assert.ok(data.emptyDir, 'data is an emptyDir');
  assert.ok(
    container(objs).volumeMounts.some((m: Any) => m.name === 'data' && m.mountPath === '/var/lib/kafka/data'),
  );
});

test('persistent storage: claims of the requested size and class', () => {
  const s = sts(objects({ storage: { size: '50Gi', storageClassName: 'fast', deleteClaim: true } }));
  const claim = s.spec.volumeClaimTemplates[0];
  assert.equal(claim.spec.resources.requests.storage, '50Gi');
  assert.equal(claim.spec.storageClassName, 'fast');
  assert.equal(s.spec.persistentVolumeClaimRetentionPolicy.whenDeleted, 'Delete');
});

test('user config is merged: new keys added, defaults overridden, managed keys kept', () => {
  const p = props(
    objects({
      replicas: 3,
      // log.dirs is refused by the CRD; the renderer keeps its own value even if one slips through.
      config: { 'log.retention.hours': '72', 'min.insync.replicas': '1', 'log.dirs': '/elsewhere' },
    }),
  );
  assert.equal(p['log.retention.hours'], '72');
  assert.equal(p['min.insync.replicas'], '1');
  assert.equal(p['log.dirs'], '/var/lib/kafka/data/logs');
});

test('credentials never appear in a ConfigMap or in the pod spec', () => {
  const objs = objects({ replicas: 3 });
  const secrets = [
    inputs.credentials.username,
    inputs.credentials.password,
    inputs.internal[CLUSTER_PASSWORD_KEY],
  ];
  for (const cm of ofKind(objs, 'ConfigMap')) {
    const text = JSON.stringify(cm);
    for (const s of secrets)
      assert.ok(!text.includes(s), `ConfigMap ${cm.metadata.name} contains a credential`);
  }
  const podSpec = JSON.stringify(sts(objs).spec.template);
  for (const s of secrets) assert.ok(!podSpec.includes(s), 'pod template contains a credential');
  const env = container(objs).env as Any[];
  const ref = (name: string) => env.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
  assert.deepEqual(ref('KAFKA_USERNAME'), { name: 'orders-credentials', key: 'username' });
  assert.deepEqual(ref('KAFKA_PASSWORD'), { name: 'orders-credentials', key: 'password' });
  assert.deepEqual(ref('CLUSTER_ID'), { name: 'orders-kafka-internal', key: 'cluster-id' });
  assert.deepEqual(ref('CLUSTER_PASSWORD'), { name: 'orders-kafka-internal', key: 'cluster-password' });
  // A user-supplied Secret is referenced by its own name.
  const custom = container(objects({ auth: { secretName: 'kafka-admin' } })).env as Any[];
  assert.equal(custom.find((e) => e.name === 'KAFKA_PASSWORD').valueFrom.secretKeyRef.name, 'kafka-admin');
});

test('the internal Secret is the controller’s: the renderer does not render it', () => {
  const names = objects({ replicas: 3 }).map((o) => o.metadata.name);
  assert.ok(!names.includes('orders-kafka-internal'));
});

test('restricted pod security, probes, resources and the config hash', () => {
  const objs = objects({ replicas: 3, resources: { limits: { memory: '4Gi' } } });
  const pod = sts(objs).spec.template;
  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  assert.equal(pod.spec.securityContext.runAsUser, 1000);
  assert.equal(pod.spec.securityContext.fsGroup, 1000);
  assert.equal(pod.spec.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.spec.automountServiceAccountToken, false);
  const c = container(objs);
  assert.deepEqual(c.command, ['sh', '/etc/kafka/mqop/start.sh']);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.startupProbe.tcpSocket.port, 9093);
  assert.equal(c.livenessProbe.tcpSocket.port, 9093);
  assert.deepEqual(c.readinessProbe.exec.command, ['bash', '/etc/kafka/mqop/ready.sh']);
  assert.deepEqual(c.resources, { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '4Gi' } });
  assert.match(c.env.find((e: Any) => e.name === 'KAFKA_HEAP_OPTS').value, /MaxRAMPercentage/);
  // Writable paths are emptyDirs, so the root filesystem can stay read-only.
  const mounts = c.volumeMounts.map((m: Any) => m.mountPath).sort();
  assert.deepEqual(mounts, ['/etc/kafka/mqop', '/run/kafka', '/tmp', '/var/lib/kafka/data']);
  const hash = pod.metadata.annotations['mqop.dev/config-hash'];
  assert.match(hash, /^[0-9a-f]{16}$/);
  const other = sts(objects({ replicas: 3, config: { 'log.retention.hours': '1' } })).spec.template;
  assert.notEqual(other.metadata.annotations['mqop.dev/config-hash'], hash);
});

test('services: headless with every port and not-ready addresses, client with 9092 only', () => {
  const objs = objects({ replicas: 3, service: { type: 'LoadBalancer' } });
  const headless = one(objs, 'Service', 'orders-kafka-headless') as Any;
  assert.equal(headless.spec.clusterIP, 'None');
  assert.equal(headless.spec.publishNotReadyAddresses, true);
  assert.deepEqual(
    headless.spec.ports.map((p: Any) => p.port),
    [9092, 9093, 9094],
  );
  const client = one(objs, 'Service', 'orders-kafka') as Any;
  assert.equal(client.spec.type, 'LoadBalancer');
  assert.deepEqual(
    client.spec.ports.map((p: Any) => p.port),
    [9092],
  );
});

test('endpoint and binding: client Service for bootstrap, every pod in bootstrap.servers', () => {
  const objs = objects({ replicas: 3 });
  const data = (one(objs, 'Secret', 'orders-connection') as Any).data as Record<string, string>;
  const get = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
  assert.equal(get('type'), 'kafka');
  assert.equal(get('host'), 'orders-kafka.shop.svc.cluster.local');
  assert.equal(get('port'), '9092');
  assert.equal(get('uri'), 'kafka://orders-kafka.shop.svc.cluster.local:9092');
  assert.equal(get('bootstrap.servers'), [0, 1, 2].map((i) => `${podHost(i)}:9092`).join(','));
  assert.equal(get('sasl.mechanism'), 'SCRAM-SHA-512');
  assert.equal(get('security.protocol'), 'SASL_PLAINTEXT');
  assert.equal(get('username'), inputs.credentials.username);
});

test('internal values: a Kafka-format cluster id and an unrelated hex password', () => {
  const r = new Uint8Array(32).fill(0xff);
  const id = kafka.internal[CLUSTER_ID_KEY]?.(r) ?? '';
  assert.equal(id.length, 22);
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  assert.ok(!id.startsWith('-'), 'a leading dash would read as a command-line option');
  assert.equal(Buffer.from(id, 'base64url').length, 16);
  const seq = Uint8Array.from({ length: 32 }, (_, i) => i);
  const pw = kafka.internal[CLUSTER_PASSWORD_KEY]?.(seq) ?? '';
  assert.equal(pw, Buffer.from(seq.subarray(16)).toString('hex'));
  assert.ok(
    !Buffer.from(kafka.internal[CLUSTER_ID_KEY]?.(seq) ?? '', 'base64url')
      .toString('hex')
      .includes(pw),
  );
});

test('rendering is deterministic', () => {
  const spec = { replicas: 3, config: { 'num.partitions': '6', 'log.retention.hours': '24' } };
  assert.equal(JSON.stringify(render(cr(spec), inputs)), JSON.stringify(render(cr(spec), inputs)));
});

test('the start script is valid POSIX sh and the readiness script valid bash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqop-kafka-'));
  try {
    const data = configData(objects({ replicas: 3 }));
    writeFileSync(join(dir, 'start.sh'), data['start.sh']);
    writeFileSync(join(dir, 'ready.sh'), data['ready.sh']);
    execFileSync('sh', ['-n', join(dir, 'start.sh')]);
    execFileSync('bash', ['-n', join(dir, 'ready.sh')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
