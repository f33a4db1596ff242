/**
 * ActiveMQ Classic smoke test against a real broker on 127.0.0.1 (scripts/brokers/activemq.sh:
 * ActiveMQ 6.1.7 from Maven Central jars, configured by mqop's own renderer, JAAS on): durable
 * deliveries over AMQP 1.0 (rhea), queue removal over OpenWire. Whether a queue exists is asked
 * of the broker with ActiveMQ's own OpenWire client (`activemq.sh queues`, advisory replay).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  activemqSmoke,
  amqp10ConnectOptions,
  openwireAddress,
  openwireRemoveQueue,
} from '../src/activemq.ts';
import { newRunId } from '../src/contract/run-options.ts';
import type { SmokeTarget } from '../src/types.ts';
import {
  activemqTarget,
  ACTIVEMQ_OPENWIRE_PORT as OW_PORT,
  activemqQueues as queues,
  testBed,
} from './test-bed.ts';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/brokers/activemq.sh');
const smoke = activemqSmoke;
const target: SmokeTarget = activemqTarget;

const broker = (action: string, timeout = 300_000): string => testBed(SCRIPT, action, timeout);

describe('amqp10ConnectOptions / openwireAddress', () => {
  test('URL parts, default port, target credentials win, reconnect off, unique container id', () => {
    const o = amqp10ConnectOptions({ url: 'amqp://u:p%40w@amq.ns.svc', password: 'x' });
    assert.equal(o.host, 'amq.ns.svc');
    assert.equal(o.port, 5672);
    assert.equal(o.username, 'u');
    assert.equal(o.password, 'x');
    assert.equal(o.reconnect, false);
    assert.notEqual(o.container_id, amqp10ConnectOptions({ url: 'amqp://h' }).container_id);
    const t = amqp10ConnectOptions({ url: 'amqps://h:5999' });
    assert.equal(t.port, 5999);
    assert.equal(t.transport, 'tls');
    assert.equal(t.username, undefined);
  });
  test('other schemes are refused', () => {
    assert.throws(() => amqp10ConnectOptions({ url: 'http://h' }), /amqp or amqps/);
  });
  test('OpenWire address: the openwire.url extra, else the AMQP host on 61616', () => {
    assert.deepEqual(
      openwireAddress({ url: 'amqp://a:5672', extra: { 'openwire.url': 'tcp://b.ns.svc:61616' } }),
      {
        host: 'b.ns.svc',
        port: 61616,
        tls: false,
      },
    );
    assert.deepEqual(
      openwireAddress({ url: 'amqp://a', extra: { 'openwire.url': 'failover:(ssl://c:61617)?x=1' } }),
      {
        host: 'c',
        port: 61617,
        tls: true,
      },
    );
    assert.deepEqual(openwireAddress({ url: 'amqp://a:5672' }), { host: 'a', port: 61616, tls: false });
  });
});

describe('activemq smoke test (real broker)', { timeout: 900_000 }, () => {
  before(() => {
    broker('install');
    broker('start');
  });
  after(() => {
    broker('stop', 120_000);
  });

  test('a run passes with exact counts and removes its queue', async () => {
    const runId = newRunId();
    const r = await smoke.run(target, { messages: 2000, messageBytes: 512, timeoutSeconds: 60, runId });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.produced, 2000);
    assert.equal(r.consumed, 2000);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicated, 0);
    assert.equal(r.outOfOrder, 0);
    assert.ok(r.p50Millis >= 0 && r.p99Millis >= r.p50Millis);
    assert.ok(!(await queues()).includes(`mqop-smoke-${runId}`));
  });

  test('the queue check sees a queue that exists (control for the cleanup checks)', async () => {
    // A run without an OpenWire route cannot remove its queue: it must then show up.
    const runId = newRunId();
    const r = await smoke.run(
      { ...target, extra: { 'openwire.url': 'tcp://127.0.0.1:1' } },
      { messages: 10, messageBytes: 10, timeoutSeconds: 30, runId },
    );
    assert.equal(r.ok, true, r.message);
    const name = `mqop-smoke-${runId}`;
    assert.ok((await queues()).includes(name), 'queue left behind is listed');
    await openwireRemoveQueue({ host: '127.0.0.1', port: OW_PORT, tls: false }, target, name, 5000);
    assert.ok(!(await queues()).includes(name));
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
    assert.equal(r.produced, 8);
    assert.equal(r.consumed, 8);
    assert.equal(r.duplicated, 0);
    assert.ok(!(await queues()).includes(`mqop-smoke-${runId}`));
  });

  test('two runs at once do not interfere', async () => {
    const ids = [newRunId(), newRunId()];
    const rs = await Promise.all(
      ids.map((runId) => smoke.run(target, { messages: 3000, messageBytes: 256, timeoutSeconds: 90, runId })),
    );
    for (const r of rs) {
      assert.equal(r.ok, true, r.message);
      assert.equal(r.produced, 3000);
      assert.equal(r.consumed, 3000);
      assert.equal(r.duplicated, 0);
      assert.equal(r.lost, 0);
    }
    const left = await queues();
    for (const id of ids) assert.ok(!left.includes(`mqop-smoke-${id}`));
  });

  test('a deadline too short for the run gives timeout with partial counts, and still removes the queue', async () => {
    const runId = newRunId();
    const t0 = performance.now();
    const r = await smoke.run(target, { messages: 2_000_000, messageBytes: 1024, timeoutSeconds: 2, runId });
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'timeout', r.message);
    assert.ok(r.produced > 0 && r.produced < 2_000_000);
    assert.ok(took < 8000, `took ${took} ms`);
    // The queue held unconsumed messages when the deadline hit: removal takes them too.
    assert.ok(!(await queues()).includes(`mqop-smoke-${runId}`));
  });

  // Last: it stops the broker (and starts it again for good measure).
  test('stopping the broker mid-run fails within the timeout', async () => {
    const timeoutSeconds = 60;
    const runId = newRunId();
    const t0 = performance.now();
    const run = smoke.run(target, { messages: 3_000_000, messageBytes: 1024, timeoutSeconds, runId });
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
    // With the broker gone the run could not remove its queue: it outlives the restart (KahaDB)
    // until removed.
    broker('start');
    const name = `mqop-smoke-${runId}`;
    assert.ok((await queues()).includes(name));
    await openwireRemoveQueue({ host: '127.0.0.1', port: OW_PORT, tls: false }, target, name, 10_000);
    assert.ok(!(await queues()).includes(name));
  });
});
