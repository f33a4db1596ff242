/**
 * ZeroMQ smoke test against real `mqop zmq-proxy` processes on 127.0.0.1 (ZeroMQ has no broker
 * to install: the proxy is mqop's own). One central proxy per pattern, on free ports.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as zmq from 'zeromq';
import type { SmokeResult } from '../src/types.ts';
import { zeromqSmoke } from '../src/zeromq.ts';
import {
  clientConnectionsTo,
  ZMQ_PATTERNS as PATTERNS,
  type ZmqPattern as Pattern,
  portOf,
  startProxy,
  stopProxy,
  zeromqTarget as targetOf,
  type ZmqProxy,
} from './test-bed.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function assertPassed(r: SmokeResult, messages: number): void {
  assert.equal(r.ok, true, `run failed: ${r.errorKind}: ${r.message}`);
  assert.equal(r.produced, messages);
  assert.equal(r.consumed, messages);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
  assert.equal(r.errorKind, undefined);
  assert.ok(r.p50Millis >= 0 && r.p99Millis >= r.p50Millis, `p50 ${r.p50Millis} p99 ${r.p99Millis}`);
}

const proxies = new Map<Pattern, ZmqProxy>();

before(async () => {
  for (const pattern of PATTERNS) proxies.set(pattern, await startProxy(pattern));
});

after(async () => {
  await Promise.all([...proxies.values()].map(stopProxy));
});

for (const pattern of PATTERNS) {
  describe(`zeromq ${pattern}`, () => {
    const target = () => targetOf(proxies.get(pattern) as ZmqProxy, pattern);

    test('a run passes with exact counts', async () => {
      const r = await zeromqSmoke.run(target(), { messages: 1000, messageBytes: 256, timeoutSeconds: 20 });
      assertPassed(r, 1000);
      if (pattern === 'pubsub') assert.equal(r.outOfOrder, 0);
    });

    test('10,000 x 1 KB: throughput', async (t) => {
      const r = await zeromqSmoke.run(target(), { messages: 10_000, messageBytes: 1024, timeoutSeconds: 60 });
      assertPassed(r, 10_000);
      const rate = Math.round(10_000 / (r.durationMillis / 1000));
      t.diagnostic(
        `${pattern}: 10,000 x 1 KB in ${r.durationMillis} ms = ${rate} msg/s, p50 ${r.p50Millis} ms, p99 ${r.p99Millis} ms`,
      );
    });

    test('1 MiB messages pass', async () => {
      const r = await zeromqSmoke.run(target(), {
        messages: 5,
        messageBytes: 1024 * 1024,
        timeoutSeconds: 30,
      });
      assertPassed(r, 5);
    });

    // Pub/sub runs are isolated by topic. A PUSH/PULL device deals each message to whichever
    // puller is next, so concurrent pipeline runs take each other's messages by design: the smoke
    // test hands them back, best effort, and mqop never runs two at once on one proxy (one run in
    // flight per MessageQueue). Only pub/sub promises isolation, so only pub/sub is tested for it.
    if (pattern === 'pubsub')
      test('two runs at once do not interfere', async () => {
        const opts = { messages: 3000, messageBytes: 512, timeoutSeconds: 30 };
        const [a, b] = await Promise.all([
          zeromqSmoke.run(target(), { ...opts, runId: `a${Date.now()}` }),
          // A run id that extends the other's must not receive its messages either.
          zeromqSmoke.run(target(), { ...opts, runId: `a${Date.now()}0` }),
        ]);
        assertPassed(a, 3000);
        assertPassed(b, 3000);
      });

    test('the run uses its own topic and leaves no connection behind', async () => {
      const p = proxies.get(pattern) as ZmqProxy;
      const runId = `own-${pattern}`;
      let spied = 0;
      const spy = new zmq.Subscriber({ linger: 0 });
      if (pattern === 'pubsub') {
        spy.subscribe(`mqop-smoke-${runId}`);
        spy.connect(p.backend);
        void (async () => {
          for await (const _ of spy) spied++;
        })().catch(() => {});
        await sleep(200);
      }
      try {
        const r = await zeromqSmoke.run(target(), {
          messages: 100,
          messageBytes: 64,
          timeoutSeconds: 20,
          runId,
        });
        assertPassed(r, 100);
        if (pattern === 'pubsub') {
          const t0 = Date.now();
          while (spied < 100 && Date.now() - t0 < 3000) await sleep(20);
          assert.ok(spied >= 100, `a subscriber of mqop-smoke-${runId} saw ${spied}`);
        }
      } finally {
        spy.close();
      }
      // Nothing is created on a ZeroMQ proxy; cleanup is closing both sockets.
      const t0 = Date.now();
      while (clientConnectionsTo(portOf(p.frontend)) + clientConnectionsTo(portOf(p.backend)) > 0) {
        assert.ok(Date.now() - t0 < 3000, 'the run left connections to the proxy open');
        await sleep(50);
      }
    });

    test('the wrong pattern fails fast with a clear protocol error', async () => {
      const p = proxies.get(pattern) as ZmqProxy;
      const other: Pattern = pattern === 'pubsub' ? 'pipeline' : 'pubsub';
      const t0 = Date.now();
      const r = await zeromqSmoke.run(targetOf(p, other), {
        messages: 10,
        messageBytes: 10,
        timeoutSeconds: 20,
      });
      assert.equal(r.ok, false);
      assert.equal(r.errorKind, 'protocol');
      assert.match(r.message ?? '', new RegExp(`pattern looks like "${pattern}"`));
      assert.ok(Date.now() - t0 < 2000);
    });

    test('swapped frontend and backend fail fast with a clear protocol error', async () => {
      const p = proxies.get(pattern) as ZmqProxy;
      const r = await zeromqSmoke.run(
        { url: p.backend, extra: { pattern, backend: p.frontend } },
        { messages: 10, messageBytes: 10, timeoutSeconds: 20 },
      );
      assert.equal(r.errorKind, 'protocol');
      assert.match(r.message ?? '', /frontend and backend look swapped/);
      assert.ok(r.durationMillis < 2000);
    });

    test('killing the proxy mid-run fails within the timeout', async () => {
      const victim = await startProxy(pattern);
      const timeoutSeconds = 15;
      const t0 = Date.now();
      const running = zeromqSmoke.run(targetOf(victim, pattern), {
        messages: 2_000_000,
        messageBytes: 1024,
        timeoutSeconds,
      });
      await sleep(500);
      victim.child.kill('SIGKILL');
      await victim.exit;
      const r = await running;
      assert.equal(r.ok, false);
      assert.ok(['unreachable', 'timeout', 'protocol'].includes(r.errorKind as string), r.message);
      assert.ok(r.produced > 0, 'the run had started');
      assert.ok(Date.now() - t0 < (timeoutSeconds + 3) * 1000);
      // In practice the proxy's disappearance is noticed within seconds.
      assert.equal(r.errorKind, 'unreachable', r.message);
      assert.match(r.message ?? '', /went away mid-run/);
    });
  });
}

describe('zeromq: no proxy', () => {
  test('nothing listening: unreachable', async () => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { port } = srv.address() as { port: number };
    await new Promise((r) => srv.close(r));
    const r = await zeromqSmoke.run(
      { url: `tcp://127.0.0.1:${port}`, extra: { pattern: 'pubsub', backend: `tcp://127.0.0.1:${port}` } },
      { messages: 10, messageBytes: 10, timeoutSeconds: 20 },
    );
    assert.equal(r.ok, false);
    assert.equal(r.errorKind, 'unreachable');
    assert.match(r.message ?? '', /ECONNREFUSED/);
    assert.ok(r.durationMillis < 2000);
  });

  test('unknown host: unreachable', async () => {
    const r = await zeromqSmoke.run(
      { url: 'tcp://mqop-no-such-host.invalid:5555' },
      { messages: 10, messageBytes: 10, timeoutSeconds: 20 },
    );
    assert.equal(r.errorKind, 'unreachable');
  });

  test('a port that accepts but never speaks ZMTP: timeout at the deadline', async () => {
    const conns = new Set<Socket>();
    const silent: Server = createServer((c) => {
      conns.add(c);
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    try {
      const r = await zeromqSmoke.run(
        { url: `tcp://127.0.0.1:${port}`, extra: { backend: `tcp://127.0.0.1:${port}` } },
        { messages: 10, messageBytes: 10, timeoutSeconds: 1 },
      );
      assert.equal(r.errorKind, 'timeout');
      assert.ok(r.durationMillis < 2000);
    } finally {
      for (const c of conns) c.destroy();
      silent.close();
    }
  });

  test('bad input: protocol error, no exception', async () => {
    const r = await zeromqSmoke.run(
      { url: 'tcp://127.0.0.1:5555', extra: { pattern: 'reqrep' } },
      { messages: 10, messageBytes: 10, timeoutSeconds: 5 },
    );
    assert.equal(r.errorKind, 'protocol');
    assert.match(r.message ?? '', /unknown ZeroMQ pattern "reqrep"/);
  });
});
