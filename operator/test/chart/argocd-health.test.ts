/**
 * The Argo CD health check in docs/gitops.md, run with a real Lua 5.1 interpreter (Argo CD's
 * gopher-lua implements Lua 5.1) against sample MessageQueue statuses. Debian's `lua5.1` is
 * installed with apt-get when missing (root only, as the other package tests).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DOC = fileURLToPath(new URL('../../../docs/gitops.md', import.meta.url));
const lua = 'lua5.1';

before(() => {
  if (spawnSync(lua, ['-v']).status === 0) return;
  const apt = (args: string[]) =>
    spawnSync('apt-get', args, {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  if (apt(['install', '-y', '-qq', '--no-install-recommends', 'lua5.1']).status !== 0) {
    apt(['update', '-qq']);
    const r = apt(['install', '-y', '-qq', '--no-install-recommends', 'lua5.1']);
    assert.equal(r.status, 0, `apt-get install lua5.1 failed:\n${r.stderr}`);
  }
});

/** The one ```lua block of docs/gitops.md. */
function healthScript(): string {
  const blocks = [...readFileSync(DOC, 'utf8').matchAll(/```lua\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  assert.equal(blocks.length, 1, 'docs/gitops.md has exactly one lua block');
  return blocks[0] as string;
}

/** Lua table constructor for a JSON value (what Argo CD hands the script as `obj`). */
function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${toLua(x)}`)
    .join(', ')}}`;
}

function health(obj: unknown): { status: string; message: string } {
  const program = `local obj = ${toLua(obj)}\nlocal hs = (function()\n${healthScript()}\nend)()\nio.write(hs.status, "\\n", hs.message)`;
  const r = spawnSync(lua, ['-'], { input: program, encoding: 'utf8' });
  assert.equal(r.status, 0, `lua failed:\n${r.stderr}`);
  const [status = '', message = ''] = r.stdout.split('\n');
  return { status, message };
}

const cond = (type: string, status: string, reason: string, message: string, observedGeneration = 3) => ({
  type,
  status,
  reason,
  message,
  observedGeneration,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});
const mq = (status?: unknown, generation = 3) => ({
  apiVersion: 'mqop.dev/v1alpha1',
  kind: 'MessageQueue',
  metadata: { name: 'orders', namespace: 'shop', generation },
  spec: { engine: 'redis' },
  status,
});
const ready = [
  cond('Ready', 'True', 'AllReplicasReady', '3/3 pods ready'),
  cond('Reconciling', 'False', 'Reconciled', ''),
  cond('Stalled', 'False', 'Reconciled', ''),
  cond('SmokeTestPassed', 'True', 'SmokeTestPassed', '10/10 messages, p99 4 ms'),
];

test('no status yet: Progressing', () => {
  assert.deepEqual(health(mq()), { status: 'Progressing', message: 'Waiting for mqop to reconcile' });
});

test('all pods ready: Healthy with the Ready message', () => {
  assert.deepEqual(health(mq({ observedGeneration: 3, conditions: ready })), {
    status: 'Healthy',
    message: '3/3 pods ready',
  });
});

test('a new generation mqop has not observed: Progressing, even though Ready is True', () => {
  assert.deepEqual(health(mq({ observedGeneration: 3, conditions: ready }, 4)), {
    status: 'Progressing',
    message: 'Waiting for mqop to observe generation 4',
  });
});

test('conditions of an older generation are ignored', () => {
  const old = ready.map((c) => ({ ...c, observedGeneration: 2 }));
  assert.equal(health(mq({ observedGeneration: 3, conditions: old })).status, 'Progressing');
});

test('rolling out: Progressing with the Reconciling message', () => {
  const s = {
    observedGeneration: 3,
    conditions: [
      cond('Ready', 'False', 'RolloutInProgress', '1/3 pods ready, rollout in progress'),
      cond('Reconciling', 'True', 'RolloutInProgress', '1/3 pods ready, rollout in progress'),
      cond('Stalled', 'False', 'Reconciled', ''),
    ],
  };
  assert.deepEqual(health(mq(s)), { status: 'Progressing', message: '1/3 pods ready, rollout in progress' });
});

test('Stalled: Degraded with the reason mqop gives', () => {
  const msg = 'StatefulSet orders-redis: spec.template.spec.containers[0].resources.requests: Invalid value';
  const s = {
    observedGeneration: 3,
    conditions: [
      cond('Ready', 'False', 'InvalidConfiguration', msg),
      cond('Reconciling', 'False', 'InvalidConfiguration', ''),
      cond('Stalled', 'True', 'InvalidConfiguration', msg),
    ],
  };
  assert.deepEqual(health(mq(s)), { status: 'Degraded', message: msg });
});

test('pods ready but the smoke test fails: Healthy, and the message says so', () => {
  const s = {
    observedGeneration: 3,
    conditions: [
      ...ready.slice(0, 3),
      cond('SmokeTestPassed', 'False', 'SmokeTestFailed', 'timed out after 30 s'),
    ],
  };
  assert.deepEqual(health(mq(s)), {
    status: 'Healthy',
    message: '3/3 pods ready; smoke test failing: timed out after 30 s',
  });
});
