/**
 * `mqop zmq-proxy`: devices (central and sidecar, both patterns), flags, health endpoint and
 * graceful shutdown. Central proxies run in-process; sidecars and the SIGTERM test run as child
 * processes (each device holds a libuv thread-pool thread, and a sidecar is a process of its own
 * in a pod anyway).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as zmq from 'zeromq';
import { parseZmqProxyArgs, serve } from '../cli/zmq-proxy-command.ts';
import { configErrors, endpointError, type ProxyConfig, startProxy } from './proxy.ts';

const RUNNER = fileURLToPath(new URL('../cli/run-zmq-proxy.ts', import.meta.url));
const ANY = 'tcp://127.0.0.1:*';

/** Messages a pub/sub test keeps on the way; below HWM/2 of every hop (see pubsubRoundTrip). */
const PUBSUB_WINDOW = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Publishes `count` messages on a fresh topic through (frontend → backend) and returns what the
 * subscriber got. Probes first until the subscription has propagated (slow joiner).
 */
async function pubsubRoundTrip(frontend: string, backend: string, count: number): Promise<string[]> {
  const topic = `t-${Math.random().toString(36).slice(2)}`;
  const sub = new zmq.Subscriber({ linger: 0 });
  const pub = new zmq.Publisher({ linger: 0, sendHighWaterMark: 0 });
  try {
    sub.subscribe(topic);
    sub.connect(backend);
    pub.connect(frontend);
    const got: string[] = [];
    let probed = false;
    const reading = (async () => {
      for await (const [, body] of sub) {
        const s = (body as Buffer).toString();
        if (s === 'probe') probed = true;
        else got.push(s);
        if (got.length === count) return;
      }
    })();
    const t0 = Date.now();
    while (!probed) {
      assert.ok(Date.now() - t0 < 15_000, 'subscription did not propagate within 15 s');
      await pub.send([topic, 'probe']);
      await sleep(20);
    }
    // Pub/sub drops at a full pipe (each hop's HWM is libzmq's 1000, credited back every HWM/2):
    // keep at most WINDOW unreceived messages on the way, as the smoke test does.
    const t1 = Date.now();
    for (let i = 0; i < count; i++) {
      while (i - got.length >= PUBSUB_WINDOW) {
        assert.ok(Date.now() - t1 < 10_000, `receiving: ${got.length} of ${i} sent arrived within 10 s`);
        await sleep(1);
      }
      await pub.send([topic, `m${i}`]);
    }
    await withTimeout(reading, 10_000, 'receiving');
    return got;
  } finally {
    sub.close();
    pub.close();
  }
}

/**
 * Pushes `count` messages in at the frontend and pulls them out at the backend(s): with several
 * pullers in the pipeline, the proxy deals each message to one of them.
 */
async function pipelineRoundTrip(
  frontend: string,
  backends: string | string[],
  count: number,
): Promise<string[]> {
  const pulls = [backends].flat().map((b) => {
    const pull = new zmq.Pull({ linger: 0 });
    pull.connect(b);
    return pull;
  });
  const push = new zmq.Push({ linger: 0 });
  try {
    push.connect(frontend);
    const got: string[] = [];
    let done: () => void = () => {};
    const all = new Promise<void>((r) => {
      done = r;
    });
    for (const pull of pulls) {
      void (async () => {
        for await (const [body] of pull) {
          got.push((body as Buffer).toString());
          if (got.length === count) done();
        }
      })().catch(() => {});
    }
    for (let i = 0; i < count; i++) await withTimeout(push.send(`m${i}`), 10_000, 'sending');
    await withTimeout(all, 15_000, 'receiving');
    return got;
  } finally {
    for (const pull of pulls) pull.close();
    push.close();
  }
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

interface Child {
  child: ChildProcess;
  /** The "forwarding" log line. */
  info: { frontend: string; backend: string; health: string };
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: () => string;
}

/** Starts `mqop zmq-proxy` as a child process and waits for its "forwarding" line. */
async function spawnProxy(args: string[]): Promise<Child> {
  const child = spawn(process.execPath, [RUNNER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const t0 = Date.now();
  for (;;) {
    const line = out.split('\n').find((l) => l.includes('"msg":"forwarding"'));
    if (line) return { child, info: JSON.parse(line), exit, stdout: () => out };
    if (child.exitCode !== null) throw new Error(`proxy exited ${child.exitCode}: ${out}${err}`);
    if (Date.now() - t0 > 15_000) {
      child.kill('SIGKILL');
      throw new Error(`proxy did not start: ${out}${err}`);
    }
    await sleep(20);
  }
}

/** Runs the CLI to completion (for bad-flag cases). */
async function runCli(args: string[]) {
  const child = spawn(process.execPath, [RUNNER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const [code] = await withTimeout(once(child, 'exit'), 15_000, 'mqop zmq-proxy');
  return { code: code as number, stderr: err };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

const central = (pattern: 'pubsub' | 'pipeline'): ProxyConfig => ({
  role: 'central',
  pattern,
  frontend: ANY,
  backend: ANY,
  linger: 0,
});

describe('flags', () => {
  test('endpoints: bind allows *, connect needs host and port', () => {
    assert.equal(endpointError('tcp://*:5555', 'bind'), undefined);
    assert.equal(endpointError('tcp://127.0.0.1:*', 'bind'), undefined);
    assert.equal(endpointError('tcp://[::1]:5555', 'connect'), undefined);
    assert.equal(endpointError('tcp://mq.ns.svc.cluster.local:5555', 'connect'), undefined);
    assert.equal(endpointError('ipc:///tmp/x.sock', 'bind'), undefined);
    assert.match(endpointError('tcp://*:5555', 'connect') ?? '', /concrete host and port/);
    assert.match(endpointError('tcp://host', 'bind') ?? '', /not a ZeroMQ endpoint/);
    assert.match(endpointError('http://host:80', 'bind') ?? '', /not a ZeroMQ endpoint/);
    assert.match(endpointError('tcp://host:70000', 'bind') ?? '', /port must be 1-65535/);
    assert.match(endpointError('tcp://host:0', 'connect') ?? '', /port must be 1-65535/);
  });

  test('the renderer’s central and sidecar command lines parse', () => {
    const c = parseZmqProxyArgs([
      '--role=central',
      '--pattern=pubsub',
      '--frontend=tcp://*:5555',
      '--backend=tcp://*:5556',
      '--health-port=8080',
      '--sndhwm',
      '5000',
      '--linger',
      '250',
    ]);
    assert.deepEqual(c, {
      proxy: {
        role: 'central',
        pattern: 'pubsub',
        frontend: 'tcp://*:5555',
        backend: 'tcp://*:5556',
        upstreamFrontend: undefined,
        upstreamBackend: undefined,
        sndhwm: 5000,
        rcvhwm: undefined,
        linger: 250,
      },
      healthHost: '0.0.0.0',
      healthPort: 8080,
      drainMillis: 0,
    });
    const s = parseZmqProxyArgs([
      '--role=sidecar',
      '--pattern=pipeline',
      '--frontend=tcp://127.0.0.1:5557',
      '--backend=tcp://127.0.0.1:5558',
      '--upstream-frontend=tcp://mq.default.svc.cluster.local:5555',
      '--upstream-backend=tcp://mq.default.svc.cluster.local:5556',
      '--health-port=18080',
    ]);
    assert.equal(s.proxy.role, 'sidecar');
    assert.equal(s.proxy.upstreamBackend, 'tcp://mq.default.svc.cluster.local:5556');
    assert.equal(s.healthPort, 18080);
    assert.equal(s.proxy.linger, 1000);
  });

  const bad: [string, string[], RegExp][] = [
    ['no role', ['--pattern=pubsub'], /--role is required/],
    ['unknown role', ['--role=edge', '--pattern=pubsub'], /unknown --role "edge"/],
    ['no pattern', ['--role=central'], /--pattern is required/],
    ['unknown pattern', ['--role=central', '--pattern=reqrep'], /unknown pattern "reqrep"/],
    ['sidecar without upstream', ['--role=sidecar', '--pattern=pubsub'], /--upstream-frontend is required/],
    [
      'central with upstream',
      ['--role=central', '--pattern=pubsub', '--upstream-frontend=tcp://h:1'],
      /only for --role=sidecar/,
    ],
    [
      'bad endpoint',
      ['--role=central', '--pattern=pubsub', '--frontend=localhost:5555'],
      /not a ZeroMQ endpoint/,
    ],
    [
      'upstream with wildcard',
      ['--role=sidecar', '--pattern=pubsub', '--upstream-frontend=tcp://*:1', '--upstream-backend=tcp://h:2'],
      /concrete host and port/,
    ],
    ['bad number', ['--role=central', '--pattern=pubsub', '--sndhwm=lots'], /--sndhwm must be an integer/],
    ['negative linger', ['--role=central', '--pattern=pubsub', '--linger=-1'], /--linger must be >= 0/],
    ['unknown flag', ['--role=central', '--pattern=pubsub', '--verbose'], /Unknown option '--verbose'/],
    [
      'same ports',
      ['--role=central', '--pattern=pubsub', '--frontend=tcp://*:1', '--backend=tcp://*:1'],
      /must differ/,
    ],
  ];
  for (const [name, args, message] of bad) {
    test(`rejects ${name}`, () => assert.throws(() => parseZmqProxyArgs(args), message));
  }

  test('configErrors reports every problem at once', () => {
    const errors = configErrors({
      role: 'sidecar',
      pattern: 'pubsub',
      frontend: 'x',
      backend: 'y',
      linger: 0,
    });
    assert.equal(errors.length, 4);
  });

  test('bad flags exit 2 with a clear message and the usage', async () => {
    const r = await runCli(['--role=sidecar', '--pattern=fanout']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown pattern "fanout"/);
    assert.match(r.stderr, /--upstream-frontend is required/);
    assert.match(r.stderr, /Usage:/);
  });

  test('a port already in use exits 1', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    try {
      const r = await runCli([
        '--role=central',
        '--pattern=pubsub',
        `--frontend=tcp://127.0.0.1:${port}`,
        `--backend=${ANY}`,
        '--health-port=0',
        '--health-host=127.0.0.1',
      ]);
      assert.equal(r.code, 1);
      await assert.rejects(
        startProxy({ ...central('pubsub'), frontend: `tcp://127.0.0.1:${port}` }),
        /cannot bind/,
      );
    } finally {
      taken.close();
    }
  });
});

describe('central proxy', () => {
  test('pubsub: XSUB/XPUB forward messages one way and subscriptions the other', async () => {
    const p = await startProxy(central('pubsub'));
    try {
      assert.match(p.frontend, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(p.ready, true);
      assert.deepEqual(await pubsubRoundTrip(p.frontend, p.backend, 500), expected(500));
    } finally {
      await p.stop();
    }
    assert.equal(p.ready, false);
    await p.done;
  });

  test('pubsub: only subscribed topics reach a subscriber', async () => {
    const p = await startProxy(central('pubsub'));
    const sub = new zmq.Subscriber({ linger: 0 });
    const pub = new zmq.Publisher({ linger: 0 });
    try {
      sub.subscribe('wanted');
      sub.connect(p.backend);
      pub.connect(p.frontend);
      const first = sub.receive();
      let got: Buffer[] | undefined;
      void first.then((m) => {
        got = m;
      });
      while (!got) {
        await pub.send(['other', 'x']);
        await pub.send(['wanted', 'y']);
        await sleep(20);
      }
      assert.equal(got[0]?.toString(), 'wanted');
    } finally {
      sub.close();
      pub.close();
      await p.stop();
    }
  });

  test('pipeline: PULL/PUSH forward every message, in order for one pusher and one puller', async () => {
    const p = await startProxy(central('pipeline'));
    try {
      assert.deepEqual(await pipelineRoundTrip(p.frontend, p.backend, 2000), expected(2000));
    } finally {
      await p.stop();
    }
  });

  test('stop() is idempotent and closes the ports', async () => {
    const p = await startProxy(central('pipeline'));
    await Promise.all([p.stop(), p.stop()]);
    // The ports are free again: a new proxy can bind them. libzmq releases a port on its own I/O
    // thread shortly after close, so allow it a moment on a busy machine.
    let again: Awaited<ReturnType<typeof startProxy>> | undefined;
    for (let i = 0; i < 40 && !again; i++) {
      try {
        again = await startProxy({ ...central('pipeline'), frontend: p.frontend, backend: p.backend });
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(again, 'ports were not released within 2 s');
    await again.stop();
  });
});

describe('sidecar → central → sidecar', () => {
  for (const pattern of ['pubsub', 'pipeline'] as const) {
    test(`${pattern}: messages flow end to end, sidecars started before the central proxy`, async () => {
      // The central proxy's ports are chosen now, but it starts last: the sidecars must start
      // without it and connect once it is there.
      const [front, back] = [await freePort(), await freePort()];
      const upstream = [
        `--upstream-frontend=tcp://127.0.0.1:${front}`,
        `--upstream-backend=tcp://127.0.0.1:${back}`,
      ];
      const sidecarArgs = [
        '--role=sidecar',
        `--pattern=${pattern}`,
        `--frontend=${ANY}`,
        `--backend=${ANY}`,
        ...upstream,
        '--health-port=0',
        '--health-host=127.0.0.1',
        '--linger=0',
      ];
      const a = await spawnProxy(sidecarArgs);
      const b = await spawnProxy(sidecarArgs);
      const c = await startProxy({
        ...central(pattern),
        frontend: `tcp://127.0.0.1:${front}`,
        backend: `tcp://127.0.0.1:${back}`,
      });
      try {
        // Sidecars are healthy on their own (a missing central must not restart the app's pod).
        assert.equal((await fetch(a.info.health)).status, 200);
        // The app publishes/pushes to sidecar a, and subscribes/pulls at sidecar b. In a
        // pipeline every sidecar pulls from the central proxy, so pull at both.
        const got =
          pattern === 'pubsub'
            ? await pubsubRoundTrip(a.info.frontend, b.info.backend, 1000)
            : await pipelineRoundTrip(a.info.frontend, [a.info.backend, b.info.backend], 1000);
        assert.equal(got.length, 1000);
        assert.deepEqual([...got].sort(), expected(1000).sort());
        if (pattern === 'pubsub') {
          // Through one sidecar both ways.
          assert.equal((await pubsubRoundTrip(a.info.frontend, a.info.backend, 100)).length, 100);
        }
      } finally {
        a.child.kill('SIGTERM');
        b.child.kill('SIGTERM');
        await c.stop();
      }
      assert.deepEqual(await withTimeout(a.exit, 10_000, 'sidecar a exit'), { code: 0, signal: null });
      assert.deepEqual(await withTimeout(b.exit, 10_000, 'sidecar b exit'), { code: 0, signal: null });
    });
  }
});

describe('health and shutdown', () => {
  test('/healthz: 200 while forwarding, 503 while draining, then closed', async () => {
    const svc = await serve({
      proxy: central('pubsub'),
      healthHost: '127.0.0.1',
      healthPort: 0,
      drainMillis: 1000,
    });
    const ok = await fetch(svc.healthUrl);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'ok\n');
    assert.equal((await fetch(svc.healthUrl.replace('/healthz', '/nope'))).status, 404);
    svc.shutdown('test');
    const draining = await fetch(svc.healthUrl);
    assert.equal(draining.status, 503);
    assert.match(await draining.text(), /shutting down/);
    assert.equal(await withTimeout(svc.finished, 5_000, 'shutdown'), 0);
    await assert.rejects(fetch(svc.healthUrl));
  });

  test('SIGTERM: exits 0 within a few seconds and frees the ports', async () => {
    const p = await spawnProxy([
      '--role=central',
      '--pattern=pubsub',
      `--frontend=${ANY}`,
      `--backend=${ANY}`,
      '--health-port=0',
      '--health-host=127.0.0.1',
    ]);
    assert.equal((await fetch(p.info.health)).status, 200);
    // It forwards, too.
    assert.equal((await pubsubRoundTrip(p.info.frontend, p.info.backend, 10)).length, 10);
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    assert.deepEqual(await withTimeout(p.exit, 5_000, 'exit after SIGTERM'), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 5_000);
    assert.match(p.stdout(), /"msg":"stopped","exitCode":0/);
    await assert.rejects(fetch(p.info.health));
    const again = await startProxy({
      ...central('pubsub'),
      frontend: p.info.frontend,
      backend: p.info.backend,
    });
    await again.stop();
  });
});
