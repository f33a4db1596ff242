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
});
