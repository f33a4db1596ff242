import assert from 'node:assert/strict';
import { test } from 'node:test';
import { smokeTimeoutSeconds } from '../api/resolve.ts';
import type { MessageQueue } from '../api/types.ts';
import { SMOKE_RETRY_MS, smokeDue, smokeRetryMs, smokeStatus } from './smoke-scheduler.ts';
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
