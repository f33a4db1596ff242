/**
 * RocketMQ smoke test against a real RocketMQ 5.3 on 127.0.0.1 (scripts/brokers/rocketmq.sh): a
 * name server and a broker with the local-mode proxy, ACL 2.0 on, the renderer's settings.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { newRunId } from '../src/contract/run-options.ts';
import { smokeTestFor } from '../src/index.ts';
import { mastersOf } from '../src/protocols/rocketmq-admin.ts';
import { encodeRequest, parseRocketJson, signExtFields } from '../src/protocols/rocketmq-remoting.ts';
import { rocketmqEndpoints, rocketmqSmoke } from '../src/rocketmq.ts';
import type { SmokeTarget, SmokeTest } from '../src/types.ts';
import {
  rocketmqLeftovers as leftovers,
  ROCKETMQ_NAMESRV_PORT as NAMESRV_PORT,
  rocketmqTarget,
  testBed,
} from './test-bed.ts';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/brokers/rocketmq.sh');
const target: SmokeTarget = rocketmqTarget;

/** The registry's RocketMQ test when registered there (index.ts is not this file's), else ours. */
function smokeTest(): SmokeTest {
  try {
    return smokeTestFor('rocketmq');
  } catch {
    return rocketmqSmoke;
  }
}
const smoke = smokeTest();

const broker = (action: string, timeout = 400_000, ...args: string[]): string =>
  testBed(SCRIPT, action, timeout, ...args);

/** The broker's own CLI agrees: the topic is not in `mqadmin topicList`. */
function cliTopics(): string[] {
  return broker('mqadmin', 120_000, 'topicList', '-n', `127.0.0.1:${NAMESRV_PORT}`)
    .split('\n')
    .map((s) => s.trim());
}

describe('rocketmq helpers', () => {
  test('endpoints from the binding', () => {
    assert.deepEqual(
      rocketmqEndpoints({
        url: 'rocketmq://orders-rocketmq.shop.svc:8081',
        extra: { 'namesrv.addr': 'ns-0:9876;ns-1', 'cluster.name': 'orders' },
      }),
      { grpc: 'orders-rocketmq.shop.svc:8081', namesrv: ['ns-0:9876', 'ns-1:9876'], cluster: 'orders' },
    );
    assert.equal(rocketmqEndpoints({ url: 'rocketmq://h', extra: { 'namesrv.addr': 'n' } }).grpc, 'h:8081');
    assert.throws(() => rocketmqEndpoints({ url: 'rocketmq://h:8081' }), /namesrv\.addr/);
    assert.throws(
      () => rocketmqEndpoints({ url: 'http://h', extra: { 'namesrv.addr': 'n' } }),
      /rocketmq:\/\//,
    );
  });

  test('signature: HMAC-SHA1 over the values sorted by key, then the body', () => {
    const out = signExtFields({ topic: 't', b: '2' }, Buffer.from('xy'), {
      accessKey: 'ak',
      secretKey: 'sk',
    });
    // sorted keys AccessKey, b, topic -> "ak" + "2" + "t" + body "xy"
    assert.equal(out.Signature, createHmac('sha1', 'sk').update('ak2txy').digest('base64'));
    assert.equal(out.AccessKey, 'ak');
  });

  test('frame layout and fastjson integer keys', () => {
    const f = encodeRequest(17, 5, { a: 'b' });
    assert.equal(f.readUInt32BE(0), f.length - 4);
    const hl = f.readUInt32BE(4);
    assert.equal(JSON.parse(f.toString('utf8', 8, 8 + hl)).code, 17);
    const body = Buffer.from(
      '{"brokerAddrTable":{"b0":{"cluster":"c","brokerName":"b0","brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}}},"clusterAddrTable":{"c":["b0"]}}',
    );
    assert.deepEqual(mastersOf(body, 'c'), ['10.0.0.1:10911']);
    assert.throws(() => mastersOf(body, 'other'), /not known/);
    assert.deepEqual(parseRocketJson('{1:"a:1,2:b"}'), { '1': 'a:1,2:b' });
  });
});

describe('rocketmq smoke test (real broker)', { timeout: 900_000 }, () => {
  before(
    () => {
      broker('install');
      broker('start');
    },
    { timeout: 500_000 },
  );
  after(
    () => {
      broker('stop', 150_000);
    },
    { timeout: 160_000 },
  );

  test('a run passes with exact counts and deletes its topic and group', async () => {
    const runId = newRunId();
    const r = await smoke.run(target, { messages: 2000, messageBytes: 512, timeoutSeconds: 60, runId });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.produced, 2000);
    assert.equal(r.consumed, 2000);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicated, 0);
    assert.ok(r.p50Millis >= 0 && r.p99Millis >= r.p50Millis);
    assert.deepEqual(await leftovers(runId), []);
    assert.ok(!cliTopics().includes(`mqop-smoke-${runId}`));
  });

  test('a wrong password fails fast with auth, without the password in the message', async () => {
    const runId = newRunId();
    const t0 = performance.now();
    const r = await smoke.run(
      { ...target, password: 'not-the-password' },
      { messages: 100, messageBytes: 100, timeoutSeconds: 30, runId },
    );
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'auth', r.message);
    assert.ok(took < 5000, `took ${took} ms`);
    assert.ok(!r.message?.includes('not-the-password'));
    assert.deepEqual(await leftovers(runId), []);
  });

  test('an unknown user fails with auth too', async () => {
    const r = await smoke.run(
      { ...target, username: 'nobody' },
      { messages: 10, messageBytes: 10, timeoutSeconds: 30 },
    );
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'auth', r.message);
  });

  test('a proxy port with nothing listening is unreachable (and the topic is cleaned up)', async () => {
    const runId = newRunId();
    const t0 = performance.now();
    const r = await smoke.run(
      { ...target, url: 'rocketmq://127.0.0.1:1' },
      { messages: 10, messageBytes: 10, timeoutSeconds: 30, runId },
    );
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'unreachable', r.message);
    assert.ok(performance.now() - t0 < 10_000);
    assert.deepEqual(await leftovers(runId), []);
  });

  test('a name server port with nothing listening is unreachable', async () => {
    const t0 = performance.now();
    const r = await smoke.run(
      { ...target, extra: { ...target.extra, 'namesrv.addr': '127.0.0.1:1' } },
      { messages: 10, messageBytes: 10, timeoutSeconds: 30 },
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
    assert.deepEqual(await leftovers(runId), []);
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
    for (const id of ids) assert.deepEqual(await leftovers(id), []);
  });

  test('a deadline too short for the run gives timeout with partial counts, and still cleans up', async () => {
    const runId = newRunId();
    const t0 = performance.now();
    const r = await smoke.run(target, { messages: 2_000_000, messageBytes: 1024, timeoutSeconds: 4, runId });
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'timeout', r.message);
    assert.ok(r.produced > 0 && r.produced < 2_000_000);
    assert.ok(took < 12_000, `took ${took} ms`);
    assert.deepEqual(await leftovers(runId), []);
  });

  test('10 000 x 1 KiB: throughput', async () => {
    const r = await smoke.run(target, { messages: 10_000, messageBytes: 1024, timeoutSeconds: 120 });
    assert.equal(r.ok, true, r.message);
    const rate = Math.round(r.produced / (r.durationMillis / 1000));
    console.log(
      `# rocketmq 10000 x 1 KiB: ${r.durationMillis} ms, ${rate} msgs/s, p50 ${r.p50Millis} ms, p99 ${r.p99Millis} ms`,
    );
  });

  // Last: it stops the broker (and starts it again for good measure).
  test('stopping the broker mid-run fails within the timeout', async () => {
    const timeoutSeconds = 60;
    const t0 = performance.now();
    const run = smoke.run(target, { messages: 3_000_000, messageBytes: 1024, timeoutSeconds });
    await new Promise((r) => setTimeout(r, 4000));
    await promisify(execFile)('bash', [SCRIPT, 'stop'], { timeout: 150_000 });
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
