import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolve, smokeTimeoutSeconds } from '../api/resolve.ts';
import { type MessageQueue, RUN_SMOKE_TEST_ANNOTATION } from '../api/types.ts';
import { createLogger } from '../telemetry/logger.ts';
import { Metrics } from '../telemetry/metrics.ts';
import type { KubeObject } from './kube-client.ts';
import { Reconciler } from './reconciler.ts';
import {
  SMOKE_RETRY_MS,
  SmokeScheduler,
  type SmokeSchedulerOptions,
  smokeDue,
  smokeRetryMs,
  smokeStatus,
} from './smoke-scheduler.ts';
import type { EventSpec } from './steps/events.ts';
import { smokeStatusPatch } from './steps/status.ts';

const cr = (over: Partial<MessageQueue> = {}): MessageQueue => ({
  apiVersion: 'mqop.dev/v1alpha1',
  kind: 'MessageQueue',
  metadata: { name: 'q', namespace: 'n' },
  spec: { engine: 'redis', smokeTest: { intervalSeconds: 60 } },
  ...over,
});
const NOW = Date.parse('2026-01-01T00:10:00Z');

test('never run and ready: due; not ready or disabled: not due', () => {
  assert.equal(smokeDue(cr(), true, NOW).due, true);
  assert.equal(smokeDue(cr(), false, NOW).due, false);
  assert.equal(
    smokeDue(cr({ spec: { engine: 'redis', smokeTest: { enabled: false } } }), true, NOW).due,
    false,
  );
});

test('interval: due only once it has passed since the last run', () => {
  const ran = (iso: string) => cr({ status: { smokeTest: { lastRunTime: iso, result: 'Passed' } } });
  const soon = smokeDue(ran('2026-01-01T00:09:30Z'), true, NOW);
  assert.equal(soon.due, false);
  assert.equal(soon.inMs, 30_000);
  assert.equal(smokeDue(ran('2026-01-01T00:09:00Z'), true, NOW).due, true);
});

test('a new annotation value triggers a run now, once', () => {
  const c = cr({
    metadata: { name: 'q', namespace: 'n', annotations: { 'mqop.dev/run-smoke-test': 'v2' } },
    status: { smokeTest: { lastRunTime: '2026-01-01T00:09:59Z', trigger: 'v1' } },
  });
  assert.deepEqual(smokeDue(c, true, NOW), { due: true, trigger: 'v2', inMs: 0 });
  const answered = { ...c, status: { smokeTest: { lastRunTime: '2026-01-01T00:09:59Z', trigger: 'v2' } } };
  assert.equal(smokeDue(answered, true, NOW).due, false);
});

test('default timeout is a minute, at most half the interval', () => {
  assert.equal(smokeTimeoutSeconds(cr()), 30);
  assert.equal(smokeTimeoutSeconds(cr({ spec: { engine: 'redis' } })), 60);
  assert.equal(smokeTimeoutSeconds(cr({ spec: { engine: 'redis', smokeTest: { timeoutSeconds: 7 } } })), 7);
});

test('status counts consecutive failures and clears them on success', () => {
  const fail = {
    ok: false,
    produced: 3,
    consumed: 1,
    lost: 2,
    duplicated: 0,
    outOfOrder: 0,
    p50Millis: 1,
    p99Millis: 2,
    durationMillis: 5,
    errorKind: 'timeout' as const,
    message: 'slow',
  };
  const s1 = smokeStatus(fail, undefined, 't1');
  const s2 = smokeStatus(fail, s1, 't2');
  assert.equal(s2.consecutiveFailures, 2);
  assert.equal(s2.result, 'Failed');
  assert.equal(s2.errorKind, 'timeout');
  const ok = smokeStatus({ ...fail, ok: true, consumed: 3, lost: 0, errorKind: undefined }, s2, 't3', 'v9');
  assert.equal(ok.consecutiveFailures, 0);
  assert.equal(ok.result, 'Passed');
  assert.equal(ok.trigger, 'v9');
});

test('a failed run is retried after a backoff that doubles, capped at the interval', () => {
  const failed = (n: number, at = '2026-01-01T00:09:55Z') =>
    cr({ status: { smokeTest: { lastRunTime: at, result: 'Failed', consecutiveFailures: n } } });
  // 5 s after the first failure: not yet; the first retry comes 10 s after it.
  const first = smokeDue(failed(1), true, NOW);
  assert.equal(first.due, false);
  assert.equal(first.inMs, SMOKE_RETRY_MS - 5000);
  assert.equal(smokeDue(failed(1, '2026-01-01T00:09:50Z'), true, NOW).due, true);
  assert.equal(smokeRetryMs({ result: 'Failed', consecutiveFailures: 2 }, 60_000), 20_000);
  assert.equal(smokeRetryMs({ result: 'Failed', consecutiveFailures: 3 }, 60_000), 40_000);
  assert.equal(smokeRetryMs({ result: 'Failed', consecutiveFailures: 9 }, 60_000), 60_000);
  assert.equal(smokeRetryMs({ result: 'Failed', consecutiveFailures: 500 }, 60_000), 60_000);
  assert.equal(smokeRetryMs({ result: 'Passed', consecutiveFailures: 0 }, 60_000), 60_000);
  assert.equal(smokeRetryMs(undefined, 60_000), 60_000);
});

test('a pass clears the previous failure kind in the merge patch', () => {
  const pass = smokeStatus(
    {
      ok: true,
      produced: 3,
      consumed: 3,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      p50Millis: 1,
      p99Millis: 2,
      durationMillis: 5,
    },
    { result: 'Failed', errorKind: 'unreachable', consecutiveFailures: 1 },
    't',
  );
  const patch = smokeStatusPatch(pass) as { status: { smokeTest: Record<string, unknown> } };
  assert.equal(patch.status.smokeTest.errorKind, null);
  assert.equal(patch.status.smokeTest.result, 'Passed');
  const failPatch = smokeStatusPatch({ ...pass, result: 'Failed', errorKind: 'auth' }) as typeof patch;
  assert.equal(failPatch.status.smokeTest.errorKind, 'auth');
});

describe('fair scheduling', () => {
  const log = createLogger('silent');
  const mqIn = (namespace: string, name: string, over: Partial<MessageQueue> = {}) =>
    ({
      apiVersion: 'mqop.dev/v1alpha1',
      kind: 'MessageQueue',
      metadata: { name, namespace, uid: `uid-${namespace}-${name}` },
      spec: { engine: 'redis', smokeTest: { intervalSeconds: 60 } },
      ...over,
    }) as MessageQueue & KubeObject;
  const PASS = {
    ok: true,
    produced: 1,
    consumed: 1,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    p50Millis: 1,
    p99Millis: 2,
    durationMillis: 3,
  };

  /** A scheduler whose runs finish when the test says so. */
  function harness(opts: Partial<SmokeSchedulerOptions> = {}) {
    const finish = new Map<string, () => void>();
    const results: string[] = [];
    const deferred: EventSpec[] = [];
    const metrics = new Metrics(false);
    const s = new SmokeScheduler(log, metrics, {
      secret: () => undefined,
      onResult: (key) => results.push(key),
      onDeferred: (_cr, e) => deferred.push(e),
      runTest: (q) => new Promise((resolve) => finish.set(`${q.namespace}/${q.name}`, () => resolve(PASS))),
      ...opts,
    });
    const observe = (cr: MessageQueue & KubeObject) => s.observe(cr, resolve(cr), true);
    const done = async (key: string) => {
      finish.get(key)?.();
      finish.delete(key);
      await new Promise((r) => setImmediate(r));
    };
    return { s, observe, done, results, deferred, metrics };
  }

  test('one namespace with many due runs does not starve another (per namespace 1, total 2)', async () => {
    const h = harness();
    for (let i = 0; i < 500; i++) h.observe(mqIn('big', `q${i}`));
    h.observe(mqIn('small', 'only'));
    assert.deepEqual(h.s.snapshot().running.sort(), ['big/q0', 'small/only']);
    assert.equal(h.s.snapshot().pending.big?.length, 499);
    await h.done('big/q0');
    assert.deepEqual(h.s.snapshot().running.sort(), ['big/q1', 'small/only']);
  });

  test('a free slot goes to the namespace served longest ago, not to the busiest', async () => {
    const h = harness({ maxConcurrent: 2, maxPerNamespace: 2 });
    for (let i = 0; i < 10; i++) h.observe(mqIn('big', `q${i}`));
    assert.deepEqual(h.s.snapshot().running, ['big/q0', 'big/q1']);
    h.observe(mqIn('a', 'x'));
    h.observe(mqIn('b', 'y'));
    await h.done('big/q0');
    assert.deepEqual(h.s.snapshot().running.sort(), ['a/x', 'big/q1']);
    await h.done('big/q1');
    assert.deepEqual(h.s.snapshot().running.sort(), ['a/x', 'b/y']);
    await h.done('a/x');
    assert.deepEqual(h.s.snapshot().running.sort(), ['b/y', 'big/q2']);
    assert.deepEqual(h.results, ['big/q0', 'big/q1', 'a/x']);
  });

  test('the total and per-namespace bounds hold', () => {
    const h = harness({ maxConcurrent: 3, maxPerNamespace: 2 });
    // Slots are not held back: a's first two runs start at once (nobody else is waiting).
    for (const ns of ['a', 'b', 'c']) for (let i = 0; i < 4; i++) h.observe(mqIn(ns, `q${i}`));
    const running = h.s.snapshot().running;
    assert.deepEqual(running.map((k) => k.split('/')[0]).sort(), ['a', 'a', 'b']);
    const one = harness({ maxConcurrent: 3, maxPerNamespace: 1 });
    for (const ns of ['a', 'b', 'c', 'd']) for (let i = 0; i < 4; i++) one.observe(mqIn(ns, `q${i}`));
    assert.deepEqual(one.s.snapshot().running.sort(), ['a/q0', 'b/q0', 'c/q0']);
  });

  test('a deleted MessageQueue leaves the queue, and its run in flight hands over nothing', async () => {
    const h = harness({ maxConcurrent: 1 });
    h.observe(mqIn('a', 'x'));
    h.observe(mqIn('a', 'y'));
    h.s.forget('a/y');
    assert.deepEqual(h.s.snapshot().pending, {});
    h.s.forget('a/x');
    await h.done('a/x');
    assert.deepEqual(h.results, []);
    assert.equal(
      await h.metrics.registry
        .getSingleMetricAsString('mqop_smoke_test_passed')
        .then((t) => t.includes('name="x"')),
      false,
    );
  });

  test('a trigger within the rate limit waits, with one Event, and then runs', async () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const h = harness({ now: () => now });
    const triggered = (value: string, lastRunTime: string, trigger = 'v1') =>
      mqIn('a', 'x', {
        metadata: { name: 'x', namespace: 'a', annotations: { [RUN_SMOKE_TEST_ANNOTATION]: value } },
        status: { smokeTest: { lastRunTime, result: 'Passed', trigger } },
      });
    // The last run ended 10 s ago: the new value waits 20 s more.
    assert.equal(h.observe(triggered('v2', '2026-01-01T00:09:50Z')), 20_000);
    assert.equal(h.observe(triggered('v2', '2026-01-01T00:09:50Z')), 20_000);
    assert.deepEqual(h.s.snapshot(), { running: [], pending: {} });
    assert.equal(h.deferred.length, 1, 'one Event per deferred value');
    assert.equal(h.deferred[0]?.reason, 'SmokeTestDeferred');
    assert.match(
      h.deferred[0]?.message ?? '',
      /at most one triggered run per 30 s; it runs at 2026-01-01T00:10:20\.000Z/,
    );
    // 30 s after the last run it is due.
    assert.equal(h.observe(triggered('v2', '2026-01-01T00:09:30Z')), undefined);
    assert.deepEqual(h.s.snapshot().running, ['a/x']);
  });

  test('smokeDue: the rate limit never holds a trigger beyond the next scheduled run', () => {
    const NOW2 = Date.parse('2026-01-01T00:10:00Z');
    const c = cr({
      metadata: { name: 'q', namespace: 'n', annotations: { [RUN_SMOKE_TEST_ANNOTATION]: 'v2' } },
      status: { smokeTest: { lastRunTime: '2026-01-01T00:09:55Z', result: 'Passed', trigger: 'v1' } },
    });
    assert.deepEqual(smokeDue(c, true, NOW2, 30_000), { due: false, inMs: 25_000, deferred: 'v2' });
    assert.deepEqual(smokeDue(c, true, NOW2 + 25_000, 30_000), { due: true, trigger: 'v2', inMs: 0 });
    // Without a limit (the default of the pure function) it is due at once.
    assert.equal(smokeDue(c, true, NOW2).due, true);
  });
});

describe('metrics of deleted MessageQueues', () => {
  test('every per-MessageQueue series is removed; others stay', async () => {
    const m = new Metrics(false);
    m.setSmokeResult({ namespace: 'a', name: 'x', engine: 'redis' }, true, 5);
    m.setSmokeResult({ namespace: 'a', name: 'y', engine: 'kafka' }, false, 0);
    m.smokeRuns.inc({ engine: 'redis', result: 'passed' });
    const text = () => m.registry.metrics();
    assert.match(await text(), /mqop_smoke_test_passed\{namespace="a",name="x",engine="redis"\} 1/);
    assert.match(await text(), /mqop_smoke_test_p99_milliseconds\{namespace="a",name="x",engine="redis"\} 5/);
    m.forgetMessageQueue('a', 'x');
    const after = await text();
    assert.doesNotMatch(after, /name="x"/);
    assert.match(after, /mqop_smoke_test_passed\{namespace="a",name="y",engine="kafka"\} 0/);
    assert.match(after, /mqop_smoke_test_runs_total\{engine="redis",result="passed"\} 1/);
  });

  test('the reconciler removes them when its MessageQueue is gone', async () => {
    const m = new Metrics(false);
    m.setSmokeResult({ namespace: 'a', name: 'x', engine: 'redis' }, true, 5);
    const empty = { get: () => undefined, list: () => [] };
    const forgotten: string[] = [];
    const r = new Reconciler(
      {} as never,
      { messageQueues: empty, owned: new Map() },
      createLogger('silent'),
      m,
    );
    r.smoke = { observe: () => undefined, forget: (k) => forgotten.push(k) };
    assert.equal(await r.reconcile('a/x'), undefined);
    assert.doesNotMatch(await m.registry.metrics(), /name="x"/);
    assert.deepEqual(forgotten, ['a/x']);
  });
});
