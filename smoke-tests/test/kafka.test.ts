/**
 * Kafka smoke test against a real broker: Apache Kafka (KRaft, one node) started on 127.0.0.1 by
 * scripts/brokers/kafka.sh with SASL SCRAM-SHA-512 (user `mqop`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { kafkaSmoke } from '../src/kafka.ts';
import type { SmokeTarget } from '../src/types.ts';
import { kafkaLeftovers, testBed } from './test-bed.ts';

const script = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/brokers/kafka.sh');
const password = process.env.MQOP_TEST_PASSWORD ?? 'mqop-test-pw';
let url = '';
const target = (): SmokeTarget => ({ url, username: 'mqop', password });

const broker = (cmd: 'install' | 'start' | 'stop'): string => testBed(script, cmd, 180_000).trim();

const listSmokeLeftovers = (runId: string) => kafkaLeftovers(url, runId);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

before(
  () => {
    broker('install');
    url = broker('start').split('\n').pop() ?? '';
    assert.match(url, /^kafka:\/\/127\.0\.0\.1:\d+$/);
  },
  { timeout: 200_000 },
);

after(() => {
  broker('stop');
});

test('10,000 × 1 KiB: everything produced is consumed once, in order', async (t) => {
  const r = await kafkaSmoke.run(target(), { messages: 10_000, messageBytes: 1024, timeoutSeconds: 60 });
  assert.equal(r.ok, true, r.message);
  assert.equal(r.produced, 10_000);
  assert.equal(r.consumed, 10_000);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
  assert.equal(r.outOfOrder, 0);
  assert.equal(r.errorKind, undefined);
  assert.ok(r.p50Millis > 0 && r.p50Millis <= r.p99Millis, `p50 ${r.p50Millis} p99 ${r.p99Millis}`);
  t.diagnostic(
    `${r.durationMillis} ms, ${Math.round(r.produced / (r.durationMillis / 1000))} msgs/s, p50 ${r.p50Millis} ms, p99 ${r.p99Millis} ms`,
  );
});

test('wrong password fails fast with auth', async () => {
  const started = performance.now();
  const r = await kafkaSmoke.run(
    { ...target(), password: 'not-the-password' },
    { messages: 100, messageBytes: 100, timeoutSeconds: 30 },
  );
  const took = performance.now() - started;
  assert.equal(r.ok, false);
  assert.equal(r.errorKind, 'auth', r.message);
  assert.ok(took < 5000, `took ${took} ms`);
  assert.ok(!r.message?.includes('not-the-password'));
  assert.equal(r.produced, 0);
});

test('a port with nothing listening is unreachable', async () => {
  const port = await freePort();
  const started = performance.now();
  const r = await kafkaSmoke.run(
    { url: `kafka://127.0.0.1:${port}`, username: 'mqop', password },
    { messages: 10, messageBytes: 10, timeoutSeconds: 30 },
  );
  assert.equal(r.ok, false);
  assert.equal(r.errorKind, 'unreachable', r.message);
  assert.ok(performance.now() - started < 15_000);
});

test('1 MiB messages pass', async () => {
  const r = await kafkaSmoke.run(target(), { messages: 8, messageBytes: 1024 * 1024, timeoutSeconds: 60 });
  assert.equal(r.ok, true, r.message);
  assert.equal(r.produced, 8);
  assert.equal(r.consumed, 8);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
});

test('two runs at once do not interfere', async () => {
  const [a, b] = await Promise.all([
    kafkaSmoke.run(target(), { messages: 3000, messageBytes: 512, timeoutSeconds: 60 }),
    kafkaSmoke.run(target(), { messages: 2000, messageBytes: 2048, timeoutSeconds: 60 }),
  ]);
  for (const [r, n] of [
    [a, 3000],
    [b, 2000],
  ] as const) {
    assert.equal(r.ok, true, r.message);
    assert.equal(r.produced, n);
    assert.equal(r.consumed, n);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicated, 0);
    assert.equal(r.outOfOrder, 0);
  }
});

test('the run cleans up its topic and consumer group', async () => {
  const runId = `cleanup-${Date.now()}`;
  const r = await kafkaSmoke.run(target(), { messages: 500, messageBytes: 256, timeoutSeconds: 60, runId });
  assert.equal(r.ok, true, r.message);
  assert.match(r.message ?? '', new RegExp(`mqop-smoke-${runId}`));
  assert.deepEqual(await listSmokeLeftovers(runId), []);
});

// Last: it stops the broker (after() stops it again, idempotently).
test('stopping the broker mid-run fails within the timeout', async (t) => {
  const timeoutSeconds = 25;
  const started = performance.now();
  const running = kafkaSmoke.run(target(), { messages: 1_000_000, messageBytes: 1024, timeoutSeconds });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await promisify(execFile)('bash', [script, 'stop'], { timeout: 90_000 });
  const r = await running;
  const took = performance.now() - started;
  assert.equal(r.ok, false);
  assert.ok(
    r.errorKind === 'unreachable' || r.errorKind === 'timeout' || r.errorKind === 'protocol',
    `${r.errorKind}: ${r.message}`,
  );
  assert.ok(r.produced < 1_000_000);
  assert.ok(took < (timeoutSeconds + 3) * 1000, `took ${took} ms`);
  assert.ok(r.message && r.message.length > 0);
  t.diagnostic(`${r.errorKind} after ${Math.round(took)} ms: ${r.message}`);
});
