/** The reconcile sequence against the in-memory fake client (the real API server: test/integration). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClient } from '../../test/support/fake-client.ts';
import { PASSED_SMOKE } from '../../test/support/samples.ts';
import type { MessageQueue } from '../api/types.ts';
import { createLogger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { KubeObject } from './kube-client.ts';
import { Reconciler } from './reconciler.ts';
import { MESSAGE_QUEUE } from './resources.ts';
import { FINALIZER } from './steps/finalizer.ts';

type Mq = MessageQueue & KubeObject;

function setup(spec: Record<string, unknown>) {
  const c = new FakeClient();
  c.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  c.seed({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name: 'orders', namespace: 'shop' },
    spec,
  } as KubeObject);
  const r = new Reconciler(c, c.caches(), createLogger('silent'), new Metrics(false), {
    operator: { namespace: 'mqop-system' },
  });
  const observed: { ready: boolean; smoke?: string }[] = [];
  r.smoke = {
    observe: (cr, _q, ready) => {
      observed.push({ ready, smoke: cr.status?.smokeTest?.result });
      return undefined;
    },
  };
  const enqueued: string[] = [];
  r.enqueue = (k) => enqueued.push(k);
  return { c, r, observed, enqueued, mq: () => c.peek<Mq>('MessageQueue', 'shop', 'orders') as Mq };
}

describe('reconciler', () => {
  test('a new MessageQueue: Secrets, every object, status; the next reconcile writes nothing', async () => {
    const { c, r, mq } = setup({ engine: 'redis', replicas: 1 });
    await r.reconcile('shop/orders');
    const kinds = new Set(c.writes().map((w) => w.kind));
    for (const k of ['Secret', 'ConfigMap', 'StatefulSet', 'Service', 'MessageQueue'])
      assert.ok(kinds.has(k), k);
    const status = mq().status;
    assert.equal(status?.endpoint?.url, 'redis://orders-redis.shop.svc.cluster.local:6379');
    assert.equal(status?.connectionSecret, 'orders-connection');
    // No StatefulSet controller here: the workload never reports, so the rollout is in progress.
    assert.equal(status?.conditions?.find((x) => x.type === 'Ready')?.reason, 'RolloutInProgress');
    c.calls.length = 0;
    await r.reconcile('shop/orders');
    assert.deepEqual(c.writes(), [], 'a no-op reconcile writes nothing');
    assert.equal(c.calls.length, 0, 'nor reads: everything comes from the cache');
  });

  test('a handed-over smoke result goes out in one status write with its condition, and one Event', async () => {
    const { c, r, mq, observed, enqueued } = setup({ engine: 'redis', replicas: 1 });
    await r.reconcile('shop/orders');
    c.calls.length = 0;
    r.smokeResult('shop/orders', { status: PASSED_SMOKE, durationMillis: 12 });
    assert.deepEqual(enqueued, ['shop/orders']);
    await r.reconcile('shop/orders');
    const statusWrites = c.writes().filter((w) => w.kind === 'MessageQueue');
    assert.equal(statusWrites.length, 1);
    assert.equal(statusWrites[0]?.subresource, 'status');
    assert.equal(mq().status?.smokeTest?.result, 'Passed');
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'SmokeTestPassed')?.status, 'True');
    const events = c.writes().filter((w) => w.kind === 'Event');
    assert.deepEqual(
      events.map((e) => (e.body as { reason: string }).reason),
      ['SmokeTestPassed'],
    );
    assert.equal(observed.at(-1)?.smoke, 'Passed', 'the scheduler sees the result it handed over');
    c.calls.length = 0;
    await r.reconcile('shop/orders');
    assert.deepEqual(c.writes(), [], 'the result is written once');
  });

  test('a refused object stalls with InvalidConfiguration in status and a Warning Event', async () => {
    const { c, r, mq } = setup({ engine: 'redis', replicas: 1 });
    c.failWhen((x) => x.verb === 'apply' && x.kind === 'StatefulSet', 422, 'metadata.labels: Invalid value');
    await r.reconcile('shop/orders');
    const stalled = mq().status?.conditions?.find((x) => x.type === 'Stalled');
    assert.equal(stalled?.status, 'True');
    assert.equal(stalled?.reason, 'InvalidConfiguration');
    assert.match(stalled?.message ?? '', /StatefulSet orders-redis: metadata\.labels/);
    const events = c.writes().filter((w) => w.kind === 'Event');
    assert.ok(events.some((e) => (e.body as { reason: string }).reason === 'InvalidConfiguration'));
  });

  test('ZeroMQ sidecars: finalizer, patch, waiting for a missing target; deletion takes them out', async () => {
    const { c, r, mq } = setup({ engine: 'zeromq', zeromq: { sidecarFor: ['pricing', 'gone'] } });
    c.seed({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      // The opt-in (without it: SidecarNotInvited, steps.test.ts).
      metadata: { name: 'pricing', namespace: 'shop', annotations: { 'mqop.dev/zeromq-sidecar': 'orders' } },
      spec: {},
    });
    const out = await r.reconcile('shop/orders');
    assert.deepEqual(mq().metadata.finalizers, [FINALIZER]);
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'Ready')?.reason, 'SidecarTargetMissing');
    assert.equal(out?.requeueAfterMs, 30_000);
    const patched = c.writes().filter((w) => w.kind === 'Deployment' && w.name !== 'orders-zeromq');
    assert.deepEqual(
      patched.map((w) => [w.name, w.fieldManager]),
      [['pricing', 'mqop-sidecar-orders']],
    );
    c.calls.length = 0;
    await c.mergePatch(
      { apiVersion: 'mqop.dev/v1alpha1', kind: 'MessageQueue', plural: 'messagequeues', namespaced: true },
      'shop',
      'orders',
      { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } },
    );
    await r.reconcile('shop/orders');
    const removal = c.writes().find((w) => w.kind === 'Deployment');
    assert.ok(removal, 'the sidecar is taken out');
    assert.equal(removal.fieldManager, 'mqop-sidecar-orders');
    assert.equal((removal.body as KubeObject).spec, undefined, 'an empty apply removes the sidecar');
    assert.deepEqual(mq().metadata.finalizers, [], 'dropped in the same reconcile as the status write');
    assert.equal(mq().status?.phase, 'Deleting');
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'Ready')?.reason, 'Deleting');
  });

  test("a user's Secret under a derived name: Stalled NotManaged, a Warning Event, a requeue; never taken over", async () => {
    const { c, r, mq } = setup({ engine: 'redis', replicas: 1 });
    const mine = c.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'orders-credentials', namespace: 'shop' },
      data: { username: 'dQ==', password: 'cA==' },
    } as KubeObject);
    const out = await r.reconcile('shop/orders');
    const stalled = mq().status?.conditions?.find((x) => x.type === 'Stalled');
    assert.equal(stalled?.status, 'True');
    assert.equal(stalled?.reason, 'NotManaged');
    assert.match(
      stalled?.message ?? '',
      /^Secret\/orders-credentials exists and is not managed by this MessageQueue: .*rename or delete it/,
    );
    assert.equal(mq().status?.phase, 'Failed');
    assert.equal(out?.requeueAfterMs, 5_000, 'the user may remove it: looked at again, with backoff');
    const events = c.writes().filter((w) => w.kind === 'Event');
    assert.deepEqual(
      events.map((e) => [(e.body as { type: string }).type, (e.body as { reason: string }).reason]),
      [['Warning', 'NotManaged']],
    );
    assert.deepEqual(
      c.writes().filter((w) => w.kind !== 'Event' && w.kind !== 'MessageQueue'),
      [],
      'nothing created or changed',
    );
    assert.deepEqual(c.peek('Secret', 'shop', 'orders-credentials'), mine);
    // The user renames theirs away: the next reconcile goes on.
    await c.delete(
      { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
      'shop',
      'orders-credentials',
    );
    await r.reconcile('shop/orders');
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'Stalled')?.status, 'False');
    const ours = c.peek<KubeObject>('Secret', 'shop', 'orders-credentials');
    assert.equal(ours?.metadata.ownerReferences?.[0]?.uid, mq().metadata.uid);
  });

  test('a credentials Secret deleted while claims exist: Stalled CredentialsLost, no new password until opted in', async () => {
    const { c, r, mq } = setup({ engine: 'redis', replicas: 1 });
    await r.reconcile('shop/orders');
    const secret = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
    c.seed({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'data-orders-redis-0',
        namespace: 'shop',
        labels: { 'mqop.dev/messagequeue': 'orders' },
      },
    } as KubeObject);
    await c.delete(secret, 'shop', 'orders-credentials');
    c.calls.length = 0;
    await r.reconcile('shop/orders');
    const stalled = mq().status?.conditions?.find((x) => x.type === 'Stalled');
    assert.equal(stalled?.reason, 'CredentialsLost');
    assert.match(
      stalled?.message ?? '',
      /^Secret orders-credentials \(keys username, password\) is gone .*data-orders-redis-0/,
    );
    assert.equal(c.peek('Secret', 'shop', 'orders-credentials'), undefined, 'no new password');
    assert.ok(
      c
        .writes()
        .some((w) => w.kind === 'Event' && (w.body as { reason: string }).reason === 'CredentialsLost'),
    );
    await c.mergePatch(
      { apiVersion: 'mqop.dev/v1alpha1', kind: 'MessageQueue', plural: 'messagequeues', namespaced: true },
      'shop',
      'orders',
      { metadata: { annotations: { 'mqop.dev/accept-new-credentials': 'true' } } },
    );
    c.calls.length = 0;
    await r.reconcile('shop/orders');
    assert.ok(c.peek('Secret', 'shop', 'orders-credentials'), 'generated knowingly');
    assert.ok(
      c
        .writes()
        .some(
          (w) => w.kind === 'Event' && (w.body as { reason: string }).reason === 'CredentialsRegenerated',
        ),
    );
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'Stalled')?.status, 'False');
  });

  test('paused and deleted MessageQueues are left alone', async () => {
    const { c, r } = setup({ engine: 'redis' });
    await c.mergePatch(
      { apiVersion: 'mqop.dev/v1alpha1', kind: 'MessageQueue', plural: 'messagequeues', namespaced: true },
      'shop',
      'orders',
      { metadata: { labels: { 'mqop.dev/paused': 'true' } } },
    );
    c.calls.length = 0;
    assert.equal(await r.reconcile('shop/orders'), undefined);
    assert.equal(await r.reconcile('shop/absent'), undefined);
    assert.deepEqual(c.writes(), []);
  });

  test('a Secret the API server refuses (422) stalls naming it and the field, with an Event and a backoff', async () => {
    const { c, r, mq } = setup({ engine: 'redis', replicas: 1 });
    const metrics = (r as unknown as { metrics: Metrics }).metrics;
    const message =
      'Secret "orders-credentials" is invalid: metadata.labels: Invalid value: "7.4.6+deb12": a valid label must be ...';
    const details = {
      kind: 'Secret',
      name: 'orders-credentials',
      causes: [
        {
          reason: 'FieldValueInvalid',
          message: 'Invalid value: "7.4.6+deb12": a valid label must be ...',
          field: 'metadata.labels',
        },
      ],
    };
    c.failWhen((x) => x.verb === 'create' && x.kind === 'Secret', 422, message, details);
    const first = await r.reconcile('shop/orders');
    assert.equal(first?.requeueAfterMs, 30_000, 'requeued, not thrown into the fast backoff');
    const stalled = mq().status?.conditions?.find((x) => x.type === 'Stalled');
    assert.equal(stalled?.status, 'True');
    assert.equal(stalled?.reason, 'InvalidConfiguration');
    assert.equal(
      stalled?.message,
      'Secret orders-credentials: metadata.labels: Invalid value: "7.4.6+deb12": a valid label must be ...',
    );
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'Ready')?.reason, 'InvalidConfiguration');
    assert.equal(mq().status?.phase, 'Failed');
    const events = c.writes().filter((w) => w.kind === 'Event');
    assert.deepEqual(
      events.map((e) => [(e.body as { type: string }).type, (e.body as { reason: string }).reason]),
      [['Warning', 'InvalidConfiguration']],
    );
    assert.ok(!c.writes().some((w) => w.kind === 'StatefulSet'), 'nothing is rendered without the Secrets');
    // Same generation, same refusal: no status write, no Event, a longer wait each time.
    c.calls.length = 0;
    assert.equal((await r.reconcile('shop/orders'))?.requeueAfterMs, 60_000);
    assert.equal((await r.reconcile('shop/orders'))?.requeueAfterMs, 120_000);
    assert.deepEqual(
      c.writes().map((w) => w.kind),
      ['Secret', 'Secret'],
      'only the refused create is retried',
    );
    assert.equal((await metrics.errors.get()).values.find((v) => v.labels.kind === 'refused')?.value, 3);
    // The user changes the spec: the backoff starts over.
    await c.mergePatch(MESSAGE_QUEUE, 'shop', 'orders', { spec: { replicas: 1, version: '7.4.6' } });
    assert.equal((await r.reconcile('shop/orders'))?.requeueAfterMs, 30_000);
    // The write goes through: Stalled clears, and a later refusal starts over too.
    c.clearFailures();
    await r.reconcile('shop/orders');
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'Stalled')?.status, 'False');
    assert.ok(c.peek('StatefulSet', 'shop', 'orders-redis'));
    c.failWhen((x) => x.verb === 'apply' && x.kind === 'ConfigMap', 422, 'data: Too long');
    await c.mergePatch(MESSAGE_QUEUE, 'shop', 'orders', { spec: { replicas: 1, config: { a: 'b' } } });
    assert.equal((await r.reconcile('shop/orders'))?.requeueAfterMs, 30_000);
  });

  test('a forbidden write from another step (the finalizer patch) is Stalled Forbidden, Event re-sent on a new message', async () => {
    const { c, r, mq } = setup({ engine: 'redis', replicas: 1, storage: { deleteClaim: true } });
    c.failWhen(
      (x) => x.verb === 'patch' && x.kind === 'MessageQueue' && !x.subresource,
      403,
      "messagequeues.mqop.dev \"orders\" is forbidden: ValidatingAdmissionPolicy 'no-finalizers' with binding 'b' denied request: no",
      { kind: 'messagequeues.mqop.dev', name: 'orders' },
    );
    assert.equal((await r.reconcile('shop/orders'))?.requeueAfterMs, 30_000);
    const stalled = mq().status?.conditions?.find((x) => x.type === 'Stalled');
    assert.equal(stalled?.reason, 'Forbidden');
    assert.match(stalled?.message ?? '', /^messagequeues\.mqop\.dev orders: .*denied request: no$/);
    c.clearFailures();
    c.failWhen(
      (x) => x.verb === 'patch' && x.kind === 'MessageQueue' && !x.subresource,
      403,
      'now denied: other',
      {
        kind: 'messagequeues.mqop.dev',
        name: 'orders',
      },
    );
    c.calls.length = 0;
    await r.reconcile('shop/orders');
    const events = c.writes().filter((w) => w.kind === 'Event');
    assert.deepEqual(
      events.map((e) => (e.body as { message: string }).message),
      ['messagequeues.mqop.dev orders: now denied: other'],
    );
  });

  test('a 500 from a write step is still thrown (the work queue’s fast backoff)', async () => {
    const { c, r } = setup({ engine: 'redis', replicas: 1 });
    c.failWhen((x) => x.verb === 'create' && x.kind === 'Secret', 500);
    await assert.rejects(r.reconcile('shop/orders'), (e: { status?: number }) => e.status === 500);
  });

  test('a crash-looping pod puts its reason in Ready and Reconciling', async () => {
    const { c, r, mq } = setup({ engine: 'redis', replicas: 1, storage: { ephemeral: true } });
    c.seed({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'orders-redis-0', namespace: 'shop', labels: { 'mqop.dev/messagequeue': 'orders' } },
      status: {
        conditions: [{ type: 'PodScheduled', status: 'True' }],
        containerStatuses: [
          {
            name: 'redis',
            restartCount: 3,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'FATAL CONFIG FILE ERROR' } },
          },
        ],
      },
    } as KubeObject);
    await r.reconcile('shop/orders');
    const ready = mq().status?.conditions?.find((x) => x.type === 'Ready');
    assert.equal(ready?.reason, 'CrashLoopBackOff');
    assert.equal(
      ready?.message,
      '0/1 pods ready; pod orders-redis-0: CrashLoopBackOff: container redis restarted 3 times, last exit 1 (Error): FATAL CONFIG FILE ERROR',
    );
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'Reconciling')?.reason, 'CrashLoopBackOff');
    assert.equal(mq().status?.conditions?.find((x) => x.type === 'Stalled')?.status, 'False');
  });
});
