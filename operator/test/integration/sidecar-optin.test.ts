/**
 * ZeroMQ sidecars only where invited, against a real API server: a Deployment named in
 * `zeromq.sidecarFor` without the opt-in annotation is never written (same spec, same annotations,
 * no managedFields entry and no write request of mqop's); with the annotation it gets the sidecar,
 * running the operator image and not the MessageQueue's `spec.image`; without it again, the
 * sidecar comes out.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MessageQueue } from '../../src/api/types.ts';
import type { KubeObject } from '../../src/controller/kube-client.ts';
import { DEPLOYMENT, MESSAGE_QUEUE } from '../../src/controller/resources.ts';
import { patchManager } from '../../src/controller/steps/patches.ts';
import { SIDECAR_CONTAINER, SIDECAR_INVITATION } from '../../src/engines/zeromq.ts';
import { type Cluster, type OperatorProcess, startCluster, startOperator, waitFor } from './cluster.ts';

const NS = 'it-optin';
const OPERATOR_IMAGE = 'registry.example/mqop/mqop:optin-test';
const TENANT_IMAGE = 'registry.example/tenant/anything:1';

let c: Cluster;
let op: OperatorProcess;

type Deployment = KubeObject & {
  spec: { template: { spec: { containers: { name: string; image: string }[] } } };
  metadata: KubeObject['metadata'] & { managedFields?: { manager: string }[] };
};

const deployment = (name: string, annotations?: Record<string, string>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: NS, ...(annotations ? { annotations } : {}) },
  spec: {
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'app', image: 'busybox' }] },
    },
  },
});

const getDeployment = (name: string) => c.client.get<Deployment>(DEPLOYMENT, NS, name);
const getMq = () => c.client.get<MessageQueue & KubeObject>(MESSAGE_QUEUE, NS, 'ticks');
const containers = async (name: string) =>
  (await getDeployment(name)).spec.template.spec.containers.map((x) => x.name).sort();
const managers = async (name: string) =>
  ((await getDeployment(name)).metadata.managedFields ?? []).map((m) => m.manager);
const condition = async (reason: string) =>
  (await getMq()).status?.conditions?.find((x) => x.reason === reason);

before(async () => {
  c = await startCluster();
  op = await startOperator(c, {
    identity: 'op-optin',
    resyncSeconds: 5,
    extraArgs: [`--operator-image=${OPERATOR_IMAGE}`],
  });
  await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await c.client.create(deployment('stranger') as never);
  await c.client.create(deployment('invited', { [SIDECAR_INVITATION]: 'ticks' }) as never);
});

after(async () => {
  await op?.kill('SIGTERM');
  await c?.stop();
});

test('a Deployment without the opt-in is left untouched and the MessageQueue says what to add', async () => {
  const before = await getDeployment('stranger');
  await c.client.create({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name: 'ticks', namespace: NS },
    spec: { engine: 'zeromq', image: TENANT_IMAGE, zeromq: { sidecarFor: ['stranger', 'invited'] } },
  } as never);
  const waiting = await waitFor(() => condition('SidecarNotInvited'), 30_000, 'SidecarNotInvited in status');
  assert.match(waiting.message, /Deployment stranger \(zeromq\.sidecarFor\)/);
  assert.match(waiting.message, new RegExp(`${SIDECAR_INVITATION}: ticks`));
  // The invited one got its sidecar in the meantime: mqop has been through the list.
  await waitFor(async () => (await containers('invited')).length === 2, 30_000, 'sidecar in invited');
  // A few more reconciles (resync every 5 s) must not change that.
  await new Promise((r) => setTimeout(r, 6000));
  const after = await getDeployment('stranger');
  assert.equal(JSON.stringify(after.spec), JSON.stringify(before.spec), 'spec unchanged');
  // The Deployment controller's own annotation (deployment.kubernetes.io/revision) aside.
  const users = (d: Deployment) =>
    Object.fromEntries(
      Object.entries(d.metadata.annotations ?? {}).filter(
        ([k]) => !k.startsWith('deployment.kubernetes.io/'),
      ),
    );
  assert.deepEqual(users(after), users(before), 'annotations unchanged');
  assert.equal(after.metadata.generation, before.metadata.generation);
  assert.ok(
    !(await managers('stranger')).includes(patchManager({ name: 'ticks' })),
    'no managedFields entry',
  );
  const writes = c.operatorWrites().filter((w) => w.uri.includes('/deployments/stranger'));
  assert.deepEqual(writes, [], 'no write request to the uninvited Deployment');
});

test('an invited Deployment gets the sidecar with the operator image, not spec.image', async () => {
  const d = await getDeployment('invited');
  const sidecar = d.spec.template.spec.containers.find((x) => x.name === SIDECAR_CONTAINER);
  assert.equal(sidecar?.image, OPERATOR_IMAGE);
  assert.ok((await managers('invited')).includes(patchManager({ name: 'ticks' })));
  // The central proxy is the tenant's own pod: it runs spec.image.
  const proxy = await c.client.get<Deployment>(DEPLOYMENT, NS, 'ticks-zeromq');
  assert.equal(proxy.spec.template.spec.containers[0]?.image, TENANT_IMAGE);
});

test('adding the opt-in later brings the sidecar; withdrawing it takes the sidecar out', async () => {
  await c.client.mergePatch(DEPLOYMENT, NS, 'stranger', {
    metadata: { annotations: { [SIDECAR_INVITATION]: 'ticks' } },
  });
  await waitFor(
    async () => (await containers('stranger')).join() === ['app', SIDECAR_CONTAINER].join(),
    60_000,
    'sidecar after the opt-in',
  );
  await waitFor(async () => !(await condition('SidecarNotInvited')), 30_000, 'no longer waiting');
  await c.client.mergePatch(DEPLOYMENT, NS, 'stranger', {
    metadata: { annotations: { [SIDECAR_INVITATION]: null } },
  });
  await waitFor(
    async () => (await containers('stranger')).join() === 'app',
    60_000,
    'sidecar removed after the opt-in was withdrawn',
  );
  const waiting = await waitFor(() => condition('SidecarNotInvited'), 30_000, 'waiting again');
  assert.match(waiting.message, /stranger/);
});
