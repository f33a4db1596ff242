/**
 * Status says why, against a real control plane (etcd + kube-apiserver + kube-controller-manager,
 * no kubelet and no scheduler). The StatefulSet controller makes real pods; what a kubelet or the
 * scheduler would report is written through the pods/status subresource, as they do. Refused
 * writes come from the real API server: a ValidatingAdmissionPolicy, and a label value it refuses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Condition, MessageQueue } from '../../src/api/types.ts';
import { ApiError, type KubeObject } from '../../src/controller/kube-client.ts';
import { MESSAGE_QUEUE, POD, SECRET } from '../../src/controller/resources.ts';
import { type Cluster, type OperatorProcess, startCluster, startOperator, waitFor } from './cluster.ts';

let c: Cluster;
let op: OperatorProcess;

const NS = 'it-why';

const createMq = (namespace: string, name: string, spec: Record<string, unknown>) =>
  c.client.create({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name, namespace },
    spec,
  });

const conditions = async (namespace: string, name: string) =>
  (await c.client.get<MessageQueue & KubeObject>(MESSAGE_QUEUE, namespace, name)).status?.conditions ?? [];

/** Waits until the condition has this reason; returns it. */
async function conditionWithReason(
  namespace: string,
  name: string,
  type: string,
  reason: string,
): Promise<Condition> {
  let last: Condition | undefined;
  return waitFor(
    async () => {
      last = (await conditions(namespace, name)).find((x) => x.type === type);
      return last?.reason === reason ? last : undefined;
    },
    30_000,
    () => `${type} reason ${reason} on ${namespace}/${name}, last ${JSON.stringify(last)}`,
  );
}

type Pod = KubeObject & { spec: { containers: { name: string; image: string }[] } };

/** The pod the StatefulSet controller makes (no kubelet: it stays Pending). */
const podOf = (namespace: string, name: string) =>
  waitFor(() => c.client.getOrUndefined<Pod>(POD, namespace, name), 30_000, `pod ${namespace}/${name}`);

/** Writes pod status as a kubelet or the scheduler would: the pods/status subresource. */
const patchPodStatus = (namespace: string, name: string, status: unknown) =>
  c.client.mergePatch(POD, namespace, name, { status }, 'status');

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

before(async () => {
  c = await startCluster();
  op = await startOperator(c, { identity: 'op-why', resyncSeconds: 300 });
  await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
});

after(async () => {
  await op?.kill('SIGTERM');
  await c?.stop();
});

describe('why pods are not ready', () => {
  test('CrashLoopBackOff: the container, its restarts and last exit reach Ready and Reconciling', async () => {
    await createMq(NS, 'crash', { engine: 'redis', replicas: 1, storage: { ephemeral: true } });
    const pod = await podOf(NS, 'crash-redis-0');
    const container = pod.spec.containers[0] as { name: string; image: string };
    await patchPodStatus(NS, pod.metadata.name, {
      phase: 'Running',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now() },
        { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: now() },
      ],
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          ready: false,
          started: false,
          restartCount: 5,
          state: {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: `back-off 2m40s restarting failed container=${container.name} pod=crash-redis-0_${NS}`,
            },
          },
          lastState: {
            terminated: {
              exitCode: 1,
              reason: 'Error',
              message:
                '*** FATAL CONFIG FILE ERROR (Redis 7.4.6) ***\nBad directive or wrong number of arguments\n',
              startedAt: now(),
              finishedAt: now(),
            },
          },
        },
      ],
    });
    const ready = await conditionWithReason(NS, 'crash', 'Ready', 'CrashLoopBackOff');
    assert.equal(ready.status, 'False');
    assert.equal(
      ready.message,
      `0/1 pods ready; pod crash-redis-0: CrashLoopBackOff: container ${container.name} restarted 5 times, last exit 1 (Error): *** FATAL CONFIG FILE ERROR (Redis 7.4.6) *** Bad directive or wrong number of arguments`,
    );
    const all = await conditions(NS, 'crash');
    const reconciling = all.find((x) => x.type === 'Reconciling');
    assert.deepEqual([reconciling?.status, reconciling?.reason], ['True', 'CrashLoopBackOff']);
    assert.equal(all.find((x) => x.type === 'Stalled')?.status, 'False');
  });

  test('Unschedulable: the scheduler’s message', async () => {
    await createMq(NS, 'big', { engine: 'redis', replicas: 1, storage: { ephemeral: true } });
    await podOf(NS, 'big-redis-0');
    await patchPodStatus(NS, 'big-redis-0', {
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message:
            '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
          lastTransitionTime: now(),
        },
      ],
    });
    const ready = await conditionWithReason(NS, 'big', 'Ready', 'Unschedulable');
    assert.equal(
      ready.message,
      '0/1 pods ready; pod big-redis-0: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
    );
  });

  test('ImagePullBackOff: the image and the kubelet’s message', async () => {
    await createMq(NS, 'pull', { engine: 'redis', replicas: 1, storage: { ephemeral: true } });
    const pod = await podOf(NS, 'pull-redis-0');
    const container = pod.spec.containers[0] as { name: string; image: string };
    await patchPodStatus(NS, 'pull-redis-0', {
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }],
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${container.image}"` },
          },
        },
      ],
    });
    const ready = await conditionWithReason(NS, 'pull', 'Ready', 'ImagePullBackOff');
    assert.equal(
      ready.message,
      `0/1 pods ready; pod pull-redis-0: ImagePullBackOff: container ${container.name} image ${container.image}: Back-off pulling image "${container.image}"`,
    );
  });

  test('ClaimPending: a claim no volume binds (no storage class in this cluster)', async () => {
    await createMq(NS, 'disk', { engine: 'redis', replicas: 1 });
    await podOf(NS, 'disk-redis-0');
    const ready = await conditionWithReason(NS, 'disk', 'Ready', 'ClaimPending');
    assert.match(
      ready.message,
      /^0\/1 pods ready; pod disk-redis-0: ClaimPending: PersistentVolumeClaim \S+-disk-redis-0 is Pending \(no storage class\)$/,
    );
  });
});

/** The operator's writes in one namespace, from the audit log (refused ones included). */
const writesIn = (namespace: string) =>
  c.operatorWrites().filter((w) => w.uri.includes(`/namespaces/${namespace}/`));

/**
 * After Stalled appears the operator backs off: over 20 s, at most the one retry its own status
 * write's watch event brings, not a loop.
 */
async function assertQuiet(namespace: string) {
  const writesBefore = writesIn(namespace).length;
  const refusedBefore = await op.metric('mqop_reconcile_errors_total', 'kind="refused"');
  await sleep(20_000);
  const writes = writesIn(namespace).slice(writesBefore);
  const refused = (await op.metric('mqop_reconcile_errors_total', 'kind="refused"')) - refusedBefore;
  assert.ok(writes.length <= 3, `writes in 20 s after Stalled: ${JSON.stringify(writes)}`);
  assert.ok(refused <= 2, `refused reconciles in 20 s: ${refused}`);
}

/** The Warning Events on a MessageQueue, by reason. */
async function warnings(namespace: string, name: string): Promise<{ reason: string; message: string }[]> {
  const r = await c.kubectl([
    '-n',
    namespace,
    'get',
    'events',
    '--field-selector',
    `involvedObject.name=${name},type=Warning`,
    '-o',
    'json',
  ]);
  return (JSON.parse(r.stdout) as { items: { reason: string; message: string }[] }).items;
}

describe('a write the API server refuses', () => {
  const DENIED = 'it-why-denied';
  before(async () => {
    await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DENIED } });
    const policy = (name: string, resource: string, validation: Record<string, unknown>) => [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: [''],
                apiVersions: ['v1'],
                operations: ['CREATE', 'UPDATE'],
                resources: [resource],
              },
            ],
          },
          validations: [validation],
        },
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name },
        spec: {
          policyName: name,
          validationActions: ['Deny'],
          matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': DENIED } } },
        },
      },
    ];
    const objs = [
      ...policy('mqop-it-no-secrets', 'secrets', {
        expression: "!object.metadata.name.startsWith('locked-')",
        message: 'Secrets named locked-* are not allowed in this namespace',
        reason: 'Forbidden',
      }),
      ...policy('mqop-it-no-configmaps', 'configmaps', {
        expression: "!object.metadata.name.startsWith('shaped-')",
        message: 'ConfigMaps named shaped-* are not allowed in this namespace',
      }),
    ];
    const r = await c.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }),
    );
    assert.equal(r.code, 0, r.stderr);
    // Policies take effect once the API server has compiled them: probe until one is refused.
    await waitFor(
      async () => {
        try {
          await c.client.create({
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'locked-probe', namespace: DENIED },
          });
          await c.client.delete(SECRET, DENIED, 'locked-probe');
          return false;
        } catch (e) {
          return e instanceof ApiError && e.status === 403;
        }
      },
      30_000,
      'the admission policy to refuse Secrets',
      500,
    );
  });

  test('a refused Secret (403 from an admission policy): Stalled Forbidden, a Warning Event, no loop', async () => {
    await createMq(DENIED, 'locked', { engine: 'redis', replicas: 1 });
    const stalled = await conditionWithReason(DENIED, 'locked', 'Stalled', 'Forbidden');
    assert.equal(stalled.status, 'True');
    assert.match(stalled.message, /^secrets locked-\S+: .*Secrets named locked-\* are not allowed/);
    const ready = (await conditions(DENIED, 'locked')).find((x) => x.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason], ['False', 'Forbidden']);
    const events = await waitFor(
      async () => {
        const w = await warnings(DENIED, 'locked');
        return w.some((e) => e.reason === 'Forbidden') ? w : undefined;
      },
      15_000,
      'the Warning Event',
    );
    assert.match(
      events.find((e) => e.reason === 'Forbidden')?.message ?? '',
      /not allowed in this namespace/,
    );
    await assertQuiet(DENIED);
  });

  test('a refused ConfigMap (422, the policy default reason Invalid): Stalled InvalidConfiguration, no loop', async () => {
    await createMq(DENIED, 'shaped', { engine: 'redis', replicas: 1 });
    const stalled = await conditionWithReason(DENIED, 'shaped', 'Stalled', 'InvalidConfiguration');
    assert.equal(stalled.status, 'True');
    assert.match(stalled.message, /^ConfigMap shaped-\S+: .*ConfigMaps named shaped-\* are not allowed/);
    await assertQuiet(DENIED);
  });
});
