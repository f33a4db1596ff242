import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageQueue } from '../api/types.ts';
import { smokeDue, smokeStatus, smokeTimeoutSeconds } from './smoke-scheduler.ts';

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
