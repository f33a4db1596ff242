import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { MessageQueue } from '../api/types.ts';
import { computeStatus, mergeConditions, type Observation, Reasons, statusChanged } from './conditions.ts';

const cr: MessageQueue = {
  apiVersion: 'mqop.dev/v1alpha1',
  kind: 'MessageQueue',
  metadata: { name: 'q', namespace: 'ns', generation: 2 },
  spec: { engine: 'redis', replicas: 3 },
};
const obs = (over: Partial<Observation> = {}): Observation => ({
  generation: 2,
  workloads: [{ name: 'q-redis', replicas: 3, readyReplicas: 3, updatedReplicas: 3, upToDate: true }],
  smokeEnabled: true,
  version: '7.4.6',
  ...over,
});
const cond = (s: ReturnType<typeof computeStatus>, t: string) => s.conditions?.find((c) => c.type === t);

test('all pods ready: Ready True, Reconciling and Stalled False, observedGeneration set', () => {
  const s = computeStatus(cr, obs(), 't1');
  assert.equal(cond(s, 'Ready')?.status, 'True');
  assert.equal(cond(s, 'Ready')?.reason, 'AllReplicasReady');
  assert.equal(cond(s, 'Reconciling')?.status, 'False');
  assert.equal(cond(s, 'Stalled')?.status, 'False');
  assert.equal(cond(s, 'SmokeTestPassed')?.status, 'Unknown');
  assert.ok(s.conditions?.every((c) => c.observedGeneration === 2));
  assert.equal(s.phase, 'Ready');
});

test('pods not ready or rollout pending: Reconciling True', () => {
  const s = computeStatus(
    cr,
    obs({ workloads: [{ name: 'w', replicas: 3, readyReplicas: 1, updatedReplicas: 3, upToDate: true }] }),
    't',
  );
  assert.equal(cond(s, 'Ready')?.status, 'False');
  assert.equal(cond(s, 'Reconciling')?.status, 'True');
  assert.equal(s.phase, 'Degraded');
  const r = computeStatus(
    cr,
    obs({ workloads: [{ name: 'w', replicas: 3, readyReplicas: 3, updatedReplicas: 3, upToDate: false }] }),
    't',
  );
  assert.equal(cond(r, 'Ready')?.reason, 'RolloutInProgress');
  const none = computeStatus(
    cr,
    obs({ workloads: [{ name: 'w', replicas: 3, readyReplicas: 0, updatedReplicas: 0, upToDate: true }] }),
    't',
  );
  assert.equal(none.phase, 'Provisioning');
});

test('invalid configuration: Stalled True with the reason, Reconciling False (no retry loop)', () => {
  const s = computeStatus(cr, obs({ invalid: { reason: 'InvalidConfiguration', message: 'bad' } }), 't');
  assert.equal(cond(s, 'Stalled')?.status, 'True');
  assert.equal(cond(s, 'Stalled')?.reason, 'InvalidConfiguration');
  assert.equal(cond(s, 'Reconciling')?.status, 'False');
  assert.equal(s.phase, 'Failed');
});

test('smoke results drive SmokeTestPassed and Degraded', () => {
  const passed = computeStatus(
    cr,
    obs({ smoke: { result: 'Passed', produced: 10, consumed: 10, p99Millis: 4 } }),
    't',
  );
  assert.equal(cond(passed, 'SmokeTestPassed')?.status, 'True');
  const failed = computeStatus(cr, obs({ smoke: { result: 'Failed', message: 'auth failed' } }), 't');
  assert.equal(cond(failed, 'SmokeTestPassed')?.status, 'False');
  assert.equal(failed.phase, 'Degraded');
});

test('lastTransitionTime changes only when the status flips', () => {
  const first = mergeConditions(
    undefined,
    [{ type: 'Ready', status: 'False', reason: 'A', message: '' }],
    't1',
  );
  const same = mergeConditions(first, [{ type: 'Ready', status: 'False', reason: 'B', message: 'x' }], 't2');
  assert.equal(same[0]?.lastTransitionTime, 't1');
  const flipped = mergeConditions(same, [{ type: 'Ready', status: 'True', reason: 'C', message: '' }], 't3');
  assert.equal(flipped[0]?.lastTransitionTime, 't3');
});

test('a recomputed identical status is not a change (no write)', () => {
  const a = computeStatus(cr, obs(), 't1');
  const b = computeStatus({ ...cr, status: a }, obs(), 't2');
  assert.equal(statusChanged(a, b), false);
  const c = computeStatus({ ...cr, status: a }, obs({ generation: 3 }), 't2');
  assert.equal(statusChanged(a, c), true);
});

test('a pod that says why: Ready False and Reconciling True carry its reason, Stalled stays False', () => {
  const pods = {
    reason: 'CrashLoopBackOff',
    message: 'pod q-redis-0: CrashLoopBackOff: container redis restarted 5 times, last exit 1 (Error): bad',
  };
  const one = [{ name: 'q-redis', replicas: 1, readyReplicas: 0, updatedReplicas: 1, upToDate: true }];
  const s = computeStatus(cr, obs({ workloads: one, pods }), 't');
  const expected = `0/1 pods ready; ${pods.message}`;
  assert.deepEqual(
    [cond(s, 'Ready')?.status, cond(s, 'Ready')?.reason, cond(s, 'Ready')?.message],
    ['False', 'CrashLoopBackOff', expected],
  );
  assert.deepEqual(
    [cond(s, 'Reconciling')?.status, cond(s, 'Reconciling')?.reason, cond(s, 'Reconciling')?.message],
    ['True', 'CrashLoopBackOff', expected],
  );
  assert.equal(cond(s, 'Stalled')?.status, 'False');
  // It beats "rollout in progress"; a refused write beats it; all ready, it is not looked at.
  const rolling = [{ ...one[0], upToDate: false }] as typeof one;
  assert.equal(
    cond(computeStatus(cr, obs({ workloads: rolling, pods }), 't'), 'Ready')?.reason,
    'CrashLoopBackOff',
  );
  const invalid = { reason: 'InvalidConfiguration', message: 'Secret q-credentials: metadata.labels: bad' };
  assert.equal(
    cond(computeStatus(cr, obs({ workloads: one, pods, invalid }), 't'), 'Stalled')?.status,
    'True',
  );
  assert.equal(cond(computeStatus(cr, obs({ pods }), 't'), 'Ready')?.status, 'True');
});

test('every reason is documented in docs/api.md (Status conditions)', () => {
  const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Status conditions'));
  // Provisioning is declared but no condition uses it.
  for (const r of Object.values(Reasons).filter((x) => x !== 'Provisioning'))
    assert.ok(section.includes(`\`${r}\``), r);
});
