/**
 * RabbitMQ smoke test against a real single rabbitmq-server node on 127.0.0.1
 * (scripts/brokers/rabbitmq.sh): quorum queue, publisher confirms, manual acks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { newRunId } from '../src/contract/run-options.ts';
import { smokeTestFor } from '../src/index.ts';
import { amqpConnectOptions } from '../src/rabbitmq.ts';
import type { SmokeTarget } from '../src/types.ts';
import { rabbitmqQueueExists as queueExists, testBed } from './test-bed.ts';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/brokers/rabbitmq.sh');
const PORT = Number(process.env.MQOP_RABBITMQ_PORT ?? 26672);
const PASSWORD = process.env.MQOP_TEST_PASSWORD ?? 'mqop-test-pw';
const smoke = smokeTestFor('rabbitmq');
const target: SmokeTarget = { url: `amqp://127.0.0.1:${PORT}`, username: 'mqop', password: PASSWORD };

const broker = (action: string, timeout = 300_000): string => testBed(SCRIPT, action, timeout);

describe('amqpConnectOptions', () => {
  test('URL parts, vhost, default port, target credentials win', () => {
    assert.deepEqual(amqpConnectOptions({ url: 'amqp://u:p%40w@rmq.ns.svc/my%2Fvhost', password: 'x' }), {
      protocol: 'amqp',
      hostname: 'rmq.ns.svc',
      port: 5672,
      vhost: 'my/vhost',
      heartbeat: 10,
      locale: 'en_US',
      username: 'u',
      password: 'x',
    });
    const o = amqpConnectOptions({ url: 'amqps://h:5999' });
    assert.equal(o.port, 5999);
    assert.equal(o.vhost, '/');
    assert.equal(o.username, undefined);
  });
  test('other schemes are refused', () => {
    assert.throws(() => amqpConnectOptions({ url: 'http://h' }), /amqp or amqps/);
  });
});

describe('rabbitmq smoke test (real broker)', { timeout: 600_000 }, () => {
  before(() => {
    broker('install');
    broker('start');
  });
  after(() => {
    broker('stop', 120_000);
  });

  test('a run passes with exact counts and deletes its queue', async () => {
    const runId = newRunId();
    const r = await smoke.run(target, { messages: 2000, messageBytes: 512, timeoutSeconds: 30, runId });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.produced, 2000);
    assert.equal(r.consumed, 2000);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicated, 0);
    assert.equal(r.outOfOrder, 0);
    assert.ok(r.p50Millis >= 0 && r.p99Millis >= r.p50Millis);
    assert.equal(await queueExists(`mqop-smoke-${runId}`), false);
  });

  test('a wrong password fails fast with auth, without the password in the message', async () => {
    const t0 = performance.now();
    const r = await smoke.run(
      { ...target, password: 'not-the-password' },
      { messages: 100, messageBytes: 100, timeoutSeconds: 20 },
    );
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'auth', r.message);
    assert.ok(took < 3000, `took ${took} ms`);
    assert.ok(!r.message?.includes('not-the-password'));
  });

  test('a port with nothing listening is unreachable', async () => {
    const t0 = performance.now();
    const r = await smoke.run(
      { ...target, url: 'amqp://127.0.0.1:1' },
      { messages: 10, messageBytes: 10, timeoutSeconds: 20 },
    );
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'unreachable', r.message);
    assert.ok(performance.now() - t0 < 3000);
  });

  test('1 MiB messages pass', async () => {
    const runId = newRunId();
    const r = await smoke.run(target, { messages: 8, messageBytes: 1024 * 1024, timeoutSeconds: 60, runId });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.consumed, 8);
    assert.equal(r.duplicated, 0);
    assert.equal(await queueExists(`mqop-smoke-${runId}`), false);
  });

  test('two runs at once do not interfere', async () => {
    const ids = [newRunId(), newRunId()];
    const rs = await Promise.all(
      ids.map((runId) => smoke.run(target, { messages: 3000, messageBytes: 256, timeoutSeconds: 60, runId })),
    );
    for (const r of rs) {
      assert.equal(r.ok, true, r.message);
      assert.equal(r.produced, 3000);
      assert.equal(r.consumed, 3000);
      assert.equal(r.duplicated, 0);
      assert.equal(r.lost, 0);
    }
    for (const id of ids) assert.equal(await queueExists(`mqop-smoke-${id}`), false);
  });

  test('a deadline too short for the run gives timeout with partial counts, and still cleans up', async () => {
    const runId = newRunId();
    const t0 = performance.now();
    const r = await smoke.run(target, { messages: 2_000_000, messageBytes: 1024, timeoutSeconds: 2, runId });
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'timeout', r.message);
    assert.ok(r.produced > 0 && r.produced < 2_000_000);
    assert.ok(took < 7000, `took ${took} ms`);
    assert.equal(await queueExists(`mqop-smoke-${runId}`), false);
  });

  // Last: it stops the broker (and starts it again for good measure).
  test('stopping the broker mid-run fails within the timeout', async () => {
    const timeoutSeconds = 60;
    const t0 = performance.now();
    const run = smoke.run(target, { messages: 3_000_000, messageBytes: 1024, timeoutSeconds });
    await new Promise((r) => setTimeout(r, 2000));
    await promisify(execFile)('bash', [SCRIPT, 'stop'], { timeout: 120_000 });
    const r = await run;
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.ok(
      ['unreachable', 'timeout', 'protocol'].includes(r.errorKind ?? ''),
      `${r.errorKind}: ${r.message}`,
    );
    assert.ok(r.message && r.message.length > 0);
    assert.ok(r.produced > 0, 'the run was under way');
    assert.ok(took < (timeoutSeconds + 5) * 1000, `took ${took} ms`);
    broker('start');
  });
});
