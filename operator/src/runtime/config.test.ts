import assert from 'node:assert/strict';
import { test } from 'node:test';
import { operatorConfig } from './config.ts';

test('smoke fairness, sidecar images and manage-roles: defaults, flags, environment', () => {
  const d = operatorConfig([], {});
  assert.equal(d.smokeConcurrency, 2);
  assert.equal(d.smokeConcurrencyPerNamespace, 1);
  assert.equal(d.smokeTriggerMinIntervalSeconds, 30);
  assert.deepEqual(d.sidecarImages, []);
  assert.equal(d.manageRoles, true);
  const f = operatorConfig(
    [
      '--smoke-concurrency=8',
      '--smoke-concurrency-per-namespace=3',
      '--smoke-trigger-min-interval-seconds=0',
      '--sidecar-images=r.example/a:1, r.example/b@sha256:00',
      '--manage-roles=false',
    ],
    {},
  );
  assert.deepEqual(
    [f.smokeConcurrency, f.smokeConcurrencyPerNamespace, f.smokeTriggerMinIntervalSeconds, f.manageRoles],
    [8, 3, 0, false],
  );
  assert.deepEqual(f.sidecarImages, ['r.example/a:1', 'r.example/b@sha256:00']);
  const e = operatorConfig([], {
    MQOP_SMOKE_CONCURRENCY: '4',
    MQOP_SMOKE_CONCURRENCY_PER_NAMESPACE: '2',
    MQOP_SIDECAR_IMAGES: 'x:1',
    MQOP_MANAGE_ROLES: 'false',
  });
  assert.deepEqual([e.smokeConcurrency, e.smokeConcurrencyPerNamespace, e.manageRoles], [4, 2, false]);
  assert.deepEqual(e.sidecarImages, ['x:1']);
  // At least one run at a time: 0 would stop smoke tests without saying so (--smoke-tests=false does).
  assert.equal(operatorConfig(['--smoke-concurrency=0'], {}).smokeConcurrency, 1);
  assert.throws(() => operatorConfig(['--smoke-concurrency=two'], {}), /non-negative integer/);
});
