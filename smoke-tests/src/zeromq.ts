/**
 * ZeroMQ smoke test, through mqop's own proxy (`mqop zmq-proxy`, see operator/src/zmq/proxy.ts).
 *
 * target.url is the proxy's frontend (`tcp://host:5555`); target.extra.backend its backend
 * (`tcp://host:5556`, default: the frontend's port + 1) and target.extra.pattern `pubsub`
 * (default) or `pipeline`.
 *
 * - pubsub: a SUB on the backend subscribes to the run's topic `mqop-smoke-<runId>`, a PUB on the
 *   frontend publishes. Subscriptions take a moment to travel SUB → XPUB → XSUB → PUB (the "slow
 *   joiner"), so probes go out until one comes back before the counted messages start.
 * - pipeline: a PULL on the backend, a PUSH on the frontend, probed the same way. PUSH/PULL cannot
 *   route, so the proxy may hand this run's puller messages of another run (or of an
 *   application): those are pushed back into the frontend rather than eaten, so concurrent runs
 *   each still get all of theirs.
 *
 * Framing. Every message is two or three frames:
 *   1. the topic, `mqop-smoke-<runId>` (pub/sub subscriptions filter on a prefix of the first
 *      frame, so the topic goes first; an exact match is then checked, since another run's id may
 *      extend ours);
 *   2. the payload: the one smoke payload of every engine (contract/payload.ts, `mqop1 <runId>
 *      <seq> <sentAt>` padded to `messageBytes`), counted by the shared counter;
 *   3. optionally a control frame: `probe` on the probes (their payload is `mqop1` too, numbered
 *      on their own and never counted), or `hops=<n>` on another run's pipeline message that was
 *      pushed back into the proxy n times (dropped after 64 hops or 5 minutes).
 * At most `window` messages are in flight: a PUB silently drops what exceeds the high-water marks,
 * and the window also bounds the proxy's memory.
 *
 * ZeroMQ connects lazily and retries forever without saying why, so each end is first asked
 * directly for its ZMTP greeting (protocols/zmtp.ts): an answer from the wrong socket type (other
 * pattern, frontend and backend swapped) is a 'protocol' error naming the likely mistake. When
 * nothing arrives for a while mid-run, the same check tells a vanished proxy ('unreachable') from
 * lost messages ('protocol'). ZeroMQ has no credentials here, and nothing is created on the proxy:
 * cleanup is closing the sockets (linger 0).
 */
import * as zmq from 'zeromq';
import { SmokeError } from './contract/errors.ts';
import { decodePayload, encodePayload, nowMillis } from './contract/payload.ts';
import { SMOKE_PREFIX } from './contract/run-options.ts';
import { type RunContext, runSmoke } from './contract/runner.ts';
import { type ZmtpEndpoint, zmtpSocketType } from './protocols/zmtp.ts';
import type { SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';

/**
 * Messages in flight at most, and bytes. A PUB/XPUB drops beyond its high-water mark (1000 by
 * default), and libzmq credits a pipe's reads back to its writer only every HWM/2 messages, so
 * pubsub stays well below HWM/2.
 */
const MAX_WINDOW = { pubsub: 200, pipeline: 500 };
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Pipeline: after our last message, keep bouncing other runs' messages until quiet this long. */
const DRAIN_QUIET_MILLIS = 300;
/** Pipeline: how long bounced messages may still go out after our sockets close. */
const BOUNCE_LINGER_MILLIS = 2_000;
/** Without progress for this long, check that the proxy is still there. */
const STALL_CHECK_MILLIS = 2_000;
/** Without progress for this long (proxy still there), the missing messages count as lost. */
const IDLE_MILLIS = 10_000;
/** Endpoint check: at most this long per end (the deadline ends it earlier). */
const CHECK_MILLIS = 5_000;
/** Pipeline: bounce another run's message at most this often / this long after it was sent. */
const MAX_HOPS = 64;
const MAX_BOUNCE_AGE_MILLIS = 5 * 60_000;
const PROBE_INTERVAL_MILLIS = 25;

/** Control frames (see the framing above). */
const PROBE = Buffer.from('probe', 'latin1');
const HOPS = 'hops=';

type Pattern = 'pubsub' | 'pipeline';

interface Endpoint extends ZmtpEndpoint {
  /** For zmq connect(). */
  zmq: string;
}

function parseTcp(url: string, what: string): Endpoint {
  const m = /^(?:tcp|zmq|zeromq):\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(url);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) {
    throw new SmokeError('protocol', `${what} "${url}" is not tcp://HOST:PORT`);
  }
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  return { url, host, port, zmq: `tcp://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/** What each end of the proxy must be, per pattern: [frontend types, backend types]. */
const EXPECTED: Record<Pattern, [string[], string[]]> = {
  pubsub: [
    ['XSUB', 'SUB'],
    ['XPUB', 'PUB'],
  ],
  pipeline: [['PULL'], ['PUSH']],
};

async function checkProxy(
  pattern: Pattern,
  frontend: Endpoint,
  backend: Endpoint,
  signal: AbortSignal,
): Promise<void> {
  const [frontType, backType] = await Promise.all([
    zmtpSocketType(frontend, 'proxy frontend', CHECK_MILLIS, signal),
    zmtpSocketType(backend, 'proxy backend', CHECK_MILLIS, signal),
  ]);
  const [frontOk, backOk] = EXPECTED[pattern];
  const other = pattern === 'pubsub' ? 'pipeline' : 'pubsub';
  for (const [what, ep, type, ok, okOther, okSwapped] of [
    ['frontend', frontend, frontType, frontOk, EXPECTED[other][0], backOk],
    ['backend', backend, backType, backOk, EXPECTED[other][1], frontOk],
  ] as const) {
    if (ok.includes(type)) continue;
    const hint = okOther.includes(type)
      ? `the proxy's pattern looks like "${other}", not "${pattern}"`
      : okSwapped.includes(type)
        ? 'frontend and backend look swapped'
        : 'not an mqop ZeroMQ proxy port';
    throw new SmokeError(
      'protocol',
      `proxy ${what} ${ep.url} is ${/^[AEIOUX]/.test(type) ? 'an' : 'a'} ${type} socket, expected ${ok.join(' or ')} for pattern "${pattern}": ${hint}`,
    );
  }
}

/** Hop count of a bounced message (its control frame), 0 when it has none. */
function hopsOf(control: Buffer | undefined): number {
  const s = control?.toString('latin1') ?? '';
  return s.startsWith(HOPS) ? Number(s.slice(HOPS.length)) || 0 : 0;
}

interface State {
  sockets: zmq.Socket[];
  /** Set by cleanup: nothing more is bounced or counted. */
  stopped: boolean;
}

async function body(target: SmokeTarget, ctx: RunContext, state: State): Promise<void> {
  const { deadline, counter, name: topic, options, runId } = ctx;
  const pattern = target.extra?.pattern ?? 'pubsub';
  if (pattern !== 'pubsub' && pattern !== 'pipeline') {
    throw new SmokeError('protocol', `unknown ZeroMQ pattern "${pattern}" (expected pubsub or pipeline)`);
  }
  const frontend = parseTcp(target.extra?.frontend ?? target.url, 'frontend');
  const backend = parseTcp(
    target.extra?.backend ?? frontend.url.replace(/:\d+\/?$/, `:${frontend.port + 1}`),
    'backend',
  );
  const check = () => checkProxy(pattern, frontend, backend, deadline.signal);

  // A failure seen in the background (the receive loop, a stalled run) ends the body through
  // `guard`, like the deadline does.
  let failure: unknown;
  let fail: (err: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = (err) => {
      failure ??= err;
      reject(err);
    };
  });
  failed.catch(() => {});
  const guard = <T>(p: Promise<T>): Promise<T> => deadline.race(Promise.race([p, failed]));
  // `wakeup` resolves on any progress.
  let wake: () => void = () => {};
  let wakeup = new Promise<void>((r) => {
    wake = r;
  });
  const notify = () => {
    const w = wake;
    wakeup = new Promise<void>((r) => {
      wake = r;
    });
    w();
  };
  /** Waits `ms`, or less when progress comes first. */
  const nap = async (ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    await guard(Promise.race([wakeup, new Promise((r) => (timer = setTimeout(r, ms)))]));
    clearTimeout(timer);
  };

  // 1. Is the proxy there, with the expected socket types?
  await guard(check());

  // 2. Sockets; the consumer first.
  const common = { linger: 0, ipv6: frontend.host.includes(':') || backend.host.includes(':') };
  const consumer =
    pattern === 'pubsub'
      ? new zmq.Subscriber({ ...common, receiveHighWaterMark: 0 })
      : new zmq.Pull({ ...common, receiveHighWaterMark: 0 });
  // Our own PUB queues without limit: the window bounds it, and it must not drop.
  const producer =
    pattern === 'pubsub' ? new zmq.Publisher({ ...common, sendHighWaterMark: 0 }) : new zmq.Push(common);
  state.sockets.push(consumer, producer);
  const topicFrame = Buffer.from(topic, 'utf8');
  if (consumer instanceof zmq.Subscriber) consumer.subscribe(topic);
  consumer.connect(backend.zmq);
  producer.connect(frontend.zmq);

  // A zeromq socket allows one pending send at a time: every send goes through one chain.
  let sendChain: Promise<void> = Promise.resolve();
  const send = (frames: Buffer[]): Promise<void> => {
    const p = sendChain.then(() => producer.send(frames));
    sendChain = p.catch(() => {});
    return p;
  };

  let lastProgress = nowMillis();
  let lastCheck = 0;
  let probeSeen = false;
  /** Pipeline: when another run's message last came by (0: never). */
  let lastForeign = 0;

  // 3. Consume in the background.
  void (async () => {
    for await (const frames of consumer) {
      if (state.stopped) return;
      const [t, payload, control] = frames as Buffer[];
      if (!t || !payload || !t.equals(topicFrame)) {
        // Not ours. pubsub: a topic that merely starts with ours. pipeline: another run's or an
        // application's message: put it back, so that its owner gets it.
        if (pattern === 'pipeline' && failure === undefined) {
          const h = payload ? decodePayload(payload) : undefined;
          let out = frames as Buffer[];
          if (h && t?.toString('utf8').startsWith(SMOKE_PREFIX)) {
            const hops = hopsOf(control);
            if (
              control?.equals(PROBE) ||
              hops >= MAX_HOPS ||
              nowMillis() - h.sentAt > MAX_BOUNCE_AGE_MILLIS
            ) {
              continue;
            }
            out = [t as Buffer, payload as Buffer, Buffer.from(`${HOPS}${hops + 1}`, 'latin1')];
            lastForeign = nowMillis();
          }
          send(out).catch(() => {});
        }
        continue;
      }
      const at = nowMillis();
      if (control?.equals(PROBE)) {
        if (!probeSeen && decodePayload(payload)?.runId === runId) {
          probeSeen = true;
          notify();
        }
        continue;
      }
      if (counter.receive(payload, at) === 'foreign') continue;
      lastProgress = at;
      notify();
    }
  })().catch((err: Error) => {
    if (!consumer.closed) fail(new SmokeError('protocol', `receiving: ${err.message}`));
  });

  /** Waits for progress; when there is none, tells a vanished proxy from lost messages. */
  const waitForProgress = async (what: string) => {
    const t = nowMillis();
    if (t - lastProgress >= STALL_CHECK_MILLIS && t - lastCheck >= STALL_CHECK_MILLIS) {
      lastCheck = t;
      await guard(
        check().catch((err: unknown) => {
          if (deadline.expired) throw err;
          const kind = err instanceof SmokeError ? err.kind : 'protocol';
          throw new SmokeError(kind, `the proxy went away mid-run: ${(err as Error).message}`);
        }),
      );
    }
    if (nowMillis() - lastProgress >= IDLE_MILLIS) {
      throw new SmokeError(
        'protocol',
        `nothing arrived for ${IDLE_MILLIS / 1000} s while ${what}, although the proxy answers: messages lost`,
      );
    }
    await nap(Math.min(STALL_CHECK_MILLIS, Math.max(1, lastProgress + IDLE_MILLIS - nowMillis())));
  };

  // 4. Probe until the path works end to end (pubsub: the subscription has propagated).
  lastProgress = nowMillis();
  for (let probe = 0; !probeSeen; probe++) {
    await guard(send([topicFrame, encodePayload(runId, probe, 0), PROBE]));
    if (probeSeen) break;
    if (nowMillis() - lastProgress >= STALL_CHECK_MILLIS) await waitForProgress('probing');
    else await nap(PROBE_INTERVAL_MILLIS);
  }

  // 5. The counted run.
  const size = options.messageBytes;
  const window = Math.max(1, Math.min(MAX_WINDOW[pattern], Math.floor(WINDOW_BYTES / Math.max(size, 1))));
  lastProgress = nowMillis();
  for (let seq = 0; seq < options.messages; seq++) {
    while (counter.backlog >= window) await waitForProgress('sending');
    await guard(send([topicFrame, counter.encode(seq, size)]));
    counter.produced();
  }
  while (counter.backlog > 0) await waitForProgress('waiting for the last messages');

  // 6. Pipeline: the proxy drops what it queued for a puller that goes away, so while other
  // runs' messages still come by, stay and bounce them; then let the bounced ones go out.
  if (pattern === 'pipeline' && lastForeign > 0) {
    while (nowMillis() - lastForeign < DRAIN_QUIET_MILLIS && deadline.remaining() > 100) {
      await nap(DRAIN_QUIET_MILLIS);
    }
    producer.linger = Math.max(0, Math.min(BOUNCE_LINGER_MILLIS, deadline.remaining()));
  }
}

export const zeromqSmoke: SmokeTest = {
  engine: 'zeromq',
  run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
    const state: State = { sockets: [], stopped: false };
    return runSmoke(
      options,
      [],
      {},
      (ctx) => body(target, ctx, state),
      async () => {
        state.stopped = true;
        for (const s of state.sockets) s.close();
      },
    );
  },
};
