/**
 * Redis smoke test against a real redis-server on 127.0.0.1 (scripts/brokers/redis.sh), plus the
 * URL parsing (plain and Sentinel) as unit tests.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { MessageQueue } from '../../operator/src/api/types.ts';
import { render } from '../../operator/src/render/render.ts';
import { newRunId } from '../src/contract/run-options.ts';
import { smokeTestFor } from '../src/index.ts';
import { parseRedisUrl, redisOptions } from '../src/redis.ts';
import type { SmokeTarget } from '../src/types.ts';
import { redisStreamExists as streamExists, testBed } from './test-bed.ts';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/brokers/redis.sh');
const PORT = Number(process.env.MQOP_REDIS_PORT ?? 16379);
const SENTINEL_PORT = Number(process.env.MQOP_REDIS_SENTINEL_PORT ?? PORT + 1);
const PASSWORD = process.env.MQOP_TEST_PASSWORD ?? 'mqop-test-pw';
const smoke = smokeTestFor('redis');
const target: SmokeTarget = { url: `redis://127.0.0.1:${PORT}`, username: 'mqop', password: PASSWORD };

const broker = (action: string, timeout = 300_000): string => testBed(SCRIPT, action, timeout);

describe('parseRedisUrl / redisOptions', () => {
  test('plain URL with password and db', () => {
    const u = parseRedisUrl('redis://:p%40ss@redis.ns.svc:6380/2');
    assert.deepEqual(u, {
      tls: false,
      sentinel: false,
      hosts: [{ host: 'redis.ns.svc', port: 6380 }],
      db: 2,
      password: 'p@ss',
    });
  });
  test('default port, rediss, username', () => {
    const u = parseRedisUrl('rediss://alice:pw@h');
    assert.equal(u.tls, true);
    assert.deepEqual(u.hosts, [{ host: 'h', port: 6379 }]);
    assert.equal(u.username, 'alice');
  });
  test('sentinel URL: several sentinels, master from the path', () => {
    const u = parseRedisUrl('redis+sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster');
    assert.equal(u.sentinel, true);
    assert.equal(u.master, 'mymaster');
    assert.deepEqual(u.hosts, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
      { host: '::1', port: 26380 },
    ]);
  });
  test('sentinel options: master from extra, extra nodes, sentinel password defaults to the password', () => {
    const o = redisOptions({
      url: 'redis+sentinel://s1:26379',
      password: 'pw',
      extra: { 'sentinel.master': 'm1', 'sentinel.nodes': 's1:26379,s3:26381' },
    });
    assert.equal(o.name, 'm1');
    assert.deepEqual(o.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's3', port: 26381 },
    ]);
    assert.equal(o.sentinelPassword, 'pw');
    assert.equal(o.password, 'pw');
    assert.equal(o.host, undefined);
  });
  test('target credentials win over the URL', () => {
    const o = redisOptions({ url: 'redis://u:urlpw@h:1', username: 'mqop', password: 'x' });
    assert.equal(o.username, 'mqop');
    assert.equal(o.password, 'x');
  });
  test('bad URLs are protocol errors', () => {
    assert.throws(() => parseRedisUrl('http://h:1'), /Redis URL/);
    assert.throws(() => parseRedisUrl('redis://a:1,b:2'), /one host/);
    assert.throws(() => redisOptions({ url: 'redis+sentinel://s:1' }), /master/);
  });
  test('an invalid URL gives a failed result, not a throw', async () => {
    const r = await smoke.run({ url: 'nope' }, { messages: 1, messageBytes: 10, timeoutSeconds: 1 });
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'protocol');
  });
});

describe('redis smoke test (real broker)', { timeout: 600_000 }, () => {
  before(() => {
    broker('install');
    broker('start');
  });
  after(() => {
    broker('stop', 60_000);
  });

  test('a run passes with exact counts and cleans up its stream', async () => {
    const runId = newRunId();
    const r = await smoke.run(target, { messages: 2000, messageBytes: 512, timeoutSeconds: 30, runId });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.produced, 2000);
    assert.equal(r.consumed, 2000);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicated, 0);
    assert.equal(r.outOfOrder, 0);
    assert.ok(r.p50Millis >= 0 && r.p99Millis >= r.p50Millis);
    assert.equal(r.errorKind, undefined);
    assert.equal(await streamExists(`mqop-smoke-${runId}`), false);
  });

  test('the password alone (default user) works too', async () => {
    const r = await smoke.run(
      { url: `redis://127.0.0.1:${PORT}`, password: PASSWORD },
      { messages: 100, messageBytes: 100, timeoutSeconds: 20 },
    );
    assert.equal(r.ok, true, r.message);
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
      { ...target, url: 'redis://127.0.0.1:1' },
      { messages: 10, messageBytes: 10, timeoutSeconds: 20 },
    );
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'unreachable', r.message);
    assert.ok(performance.now() - t0 < 3000);
  });

  test('1 MiB messages pass', async () => {
    const r = await smoke.run(target, { messages: 8, messageBytes: 1024 * 1024, timeoutSeconds: 60 });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.consumed, 8);
    assert.equal(r.duplicated, 0);
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
    for (const id of ids) assert.equal(await streamExists(`mqop-smoke-${id}`), false);
  });

  test('a deadline too short for the run gives timeout with partial counts', async () => {
    const runId = newRunId();
    const t0 = performance.now();
    const r = await smoke.run(target, { messages: 2_000_000, messageBytes: 1024, timeoutSeconds: 1, runId });
    const took = performance.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'timeout', r.message);
    assert.ok(r.produced > 0 && r.produced < 2_000_000);
    assert.ok(took < 5000, `took ${took} ms`);
    assert.equal(await streamExists(`mqop-smoke-${runId}`), false);
  });

  test('through Sentinel: redis+sentinel:// URL, master from extra, Sentinel auth with the same password', async () => {
    const runId = newRunId();
    const r = await smoke.run(
      {
        ...target,
        url: `redis+sentinel://127.0.0.1:${SENTINEL_PORT}`,
        extra: { 'sentinel.master': 'mymaster' },
      },
      { messages: 1000, messageBytes: 256, timeoutSeconds: 30, runId },
    );
    assert.equal(r.ok, true, r.message);
    assert.equal(r.consumed, 1000);
    assert.equal(await streamExists(`mqop-smoke-${runId}`), false);
    const bad = await smoke.run(
      { ...target, url: `redis+sentinel://127.0.0.1:${SENTINEL_PORT}/mymaster`, password: 'wrong-pw' },
      { messages: 10, messageBytes: 10, timeoutSeconds: 20 },
    );
    assert.equal(bad.errorKind, 'auth', bad.message);
  });

  // Last: it stops the broker (and starts it again for good measure).
  test('stopping the broker mid-run fails within the timeout', async () => {
    const timeoutSeconds = 30;
    const t0 = performance.now();
    const run = smoke.run(target, { messages: 3_000_000, messageBytes: 1024, timeoutSeconds });
    await new Promise((r) => setTimeout(r, 1500));
    await promisify(execFile)('bash', [SCRIPT, 'stop'], { timeout: 60_000 });
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

/**
 * What mqop renders for Redis must start a real redis-server and pass the smoke test with the
 * credentials the connection Secret carries: the ConfigMap's start script runs as in the pod
 * (env POD_NAME, REDIS_USERNAME, REDIS_PASSWORD), with only its paths, the port and the bind
 * address moved to a temp dir and a free port on 127.0.0.1.
 */
describe("mqop's rendered Redis start script and redis.conf on a real redis-server", {
  timeout: 120_000,
}, () => {
  before(() => broker('install'));
  for (const replicas of [1, 3]) {
    test(`${replicas} replica(s): redis-server starts with them and the smoke test passes as the Secret's user`, async () => {
      const cr = {
        apiVersion: 'mqop.dev/v1alpha1',
        kind: 'MessageQueue',
        metadata: { name: 'conf', namespace: 'ns', uid: 'u' },
        spec: { engine: 'redis', replicas, storage: { size: '1Gi' } },
      } as unknown as MessageQueue;
      const credentials = { username: 'mqop', password: PASSWORD };
      const { objects } = render(cr, { credentials });
      const files = (
        objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> }
      ).data;
      const base = files['redis.conf'];
      const script = files['start-redis.sh'];
      assert.ok(base && script, 'the ConfigMap has redis.conf and start-redis.sh');
      const port = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      });
      const dir = mkdtempSync(join(tmpdir(), 'mqop-redis-conf-'));
      // `dir` takes effect as it is read (chdir), so the pod's /data is replaced, not overridden.
      writeFileSync(
        join(dir, 'base.conf'),
        base
          .replace(/^dir .*$/m, `dir ${dir}`)
          .replace(/^port .*$/m, `port ${port}`)
          .replace(/^bind .*$/m, 'bind 127.0.0.1'),
      );
      writeFileSync(
        join(dir, 'start.sh'),
        script
          .replaceAll('/run/redis/', `${dir}/`)
          .replaceAll('/etc/redis/base/redis.conf', `${dir}/base.conf`),
      );
      const child = execFile('sh', [join(dir, 'start.sh')], {
        env: {
          PATH: process.env.PATH,
          POD_NAME: 'conf-redis-0',
          REDIS_USERNAME: credentials.username,
          REDIS_PASSWORD: credentials.password,
        },
      });
      let output = '';
      for (const stream of [child.stdout, child.stderr]) {
        stream?.on('data', (d) => {
          output += d;
        });
      }
      try {
        const ping = promisify(execFile);
        let pong = '';
        for (let i = 0; i < 100 && !pong && child.exitCode === null; i++) {
          pong = await ping('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', PASSWORD, 'ping'])
            .then((r) => r.stdout.trim())
            .catch(() => '');
          if (!pong) await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(pong, 'PONG', `redis-server did not answer; its output:\n${output}`);
        const r = await smoke.run(
          { url: `redis://127.0.0.1:${port}`, ...credentials },
          { messages: 50, messageBytes: 64, timeoutSeconds: 20 },
        );
        assert.equal(r.ok, true, `smoke test as ${credentials.username}: ${r.errorKind} ${r.message}`);
        assert.equal(r.consumed, 50);
      } finally {
        // SIGKILL: on SIGTERM redis saves first, and keeps running when it can't.
        if (child.exitCode === null && child.signalCode === null) {
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGKILL');
          await gone;
        }
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
