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
 * Every message is two frames: the topic, and a payload of `messageBytes` bytes (header with run
 * id, sequence number and send time, zero padded). At most `window` messages are in flight: a PUB
 * silently drops what exceeds the high-water marks, and the window also bounds the proxy's memory.
 *
 * ZeroMQ connects lazily and retries forever without saying why, so each end is first asked
 * directly over TCP for its ZMTP greeting: refused/DNS/unreachable → 'unreachable'; an answer
 * from the wrong socket type (other pattern, frontend and backend swapped) or not ZMTP at all →
 * 'protocol'. When nothing arrives for a while mid-run, the same check tells a vanished proxy
 * ('unreachable') from lost messages ('protocol'). ZeroMQ has no credentials here, and nothing is
 * created on the proxy: cleanup is closing the sockets (linger 0).
 */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import * as zmq from 'zeromq';
import type { SmokeErrorKind, SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';

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
/** Endpoint check: at most this long per end (bounded by the deadline too). */
const CHECK_MILLIS = 5_000;
/** Pipeline: bounce another run's message at most this often / this long after it was sent. */
const MAX_HOPS = 64;
const MAX_BOUNCE_AGE_MILLIS = 5 * 60_000;
const PROBE_INTERVAL_MILLIS = 25;

const KIND_DATA = 0;
const KIND_PROBE = 1;
const VERSION = 1;
/** version u8, kind u8, hops u8, idLen u8, seq u32, sentAt f64, then the run id. */
const FIXED_HEADER = 16;
const SMOKE_TOPIC_PREFIX = 'mqop-smoke-';

interface Header {
  kind: number;
  hops: number;
  runId: string;
  seq: number;
  sentAt: number;
}

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across processes). */
const now = () => performance.timeOrigin + performance.now();

function encode(kind: number, runId: string, seq: number, size: number): Buffer {
  const id = Buffer.from(runId, 'utf8');
  const buf = Buffer.alloc(Math.max(size, FIXED_HEADER + id.length));
  buf.writeUInt8(VERSION, 0);
  buf.writeUInt8(kind, 1);
  buf.writeUInt8(0, 2);
  buf.writeUInt8(id.length, 3);
  buf.writeUInt32BE(seq, 4);
  buf.writeDoubleBE(now(), 8);
  id.copy(buf, FIXED_HEADER);
  return buf;
}

function decode(buf: Buffer): Header | undefined {
  if (buf.length < FIXED_HEADER || buf.readUInt8(0) !== VERSION) return undefined;
  const idLen = buf.readUInt8(3);
  if (buf.length < FIXED_HEADER + idLen) return undefined;
  return {
    kind: buf.readUInt8(1),
    hops: buf.readUInt8(2),
    seq: buf.readUInt32BE(4),
    sentAt: buf.readDoubleBE(8),
    runId: buf.toString('utf8', FIXED_HEADER, FIXED_HEADER + idLen),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[i] as number) * 1000) / 1000;
}

class SmokeFailure extends Error {
  kind: SmokeErrorKind;
  constructor(kind: SmokeErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

const NET_UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ECONNRESET',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
]);

interface Endpoint {
  /** As given, for messages. */
  url: string;
  host: string;
  port: number;
  /** For zmq connect(). */
  zmq: string;
}

function parseTcp(url: string, what: string): Endpoint {
  const m = /^(?:tcp|zmq|zeromq):\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(url);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) {
    throw new SmokeFailure('protocol', `${what} "${url}" is not tcp://HOST:PORT`);
  }
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  return { url, host, port, zmq: `tcp://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/**
 * Connects over plain TCP, sends a ZMTP 3.0 greeting (NULL mechanism) and reads the peer's
 * greeting and READY command, which libzmq sends without waiting for ours: returns the peer's
 * Socket-Type (e.g. `XSUB`). Throws 'unreachable' for network errors, 'protocol' if the peer
 * does not speak ZMTP 3 with the NULL mechanism.
 */
export function zmtpSocketType(ep: Endpoint, what: string, timeoutMillis: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host: ep.host, port: ep.port });
    let buf = Buffer.alloc(0);
    const done = (err: SmokeFailure | undefined, type?: string) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(type as string);
    };
    const timer = setTimeout(() => {
      const msg = `${what} ${ep.url}: no ${sock.connecting ? 'TCP connection' : 'ZMTP greeting'} within ${Math.round(timeoutMillis)} ms`;
      done(new SmokeFailure(sock.connecting ? 'unreachable' : 'protocol', msg));
    }, timeoutMillis);
    const notZmtp = (why: string) =>
      new SmokeFailure('protocol', `${what} ${ep.url} is not a ZeroMQ proxy: ${why}`);
    sock.once('connect', () => {
      const greeting = Buffer.alloc(64);
      greeting[0] = 0xff;
      greeting[9] = 0x7f;
      greeting[10] = 3;
      greeting.write('NULL', 12, 'latin1');
      sock.write(greeting);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 10 && (buf[0] !== 0xff || buf[9] !== 0x7f)) return done(notZmtp('no ZMTP signature'));
      if (buf.length < 64 + 2) return;
      if ((buf[10] as number) < 3) return done(notZmtp(`ZMTP ${buf[10]}.x is too old`));
      const mechanism = buf.toString('latin1', 12, 32).replace(/\0+$/, '');
      if (mechanism !== 'NULL') {
        return done(new SmokeFailure('protocol', `${what} ${ep.url} requires ZMTP security "${mechanism}"`));
      }
      const flags = buf[64] as number;
      const long = (flags & 0x02) !== 0;
      const headerLen = long ? 9 : 2;
      if (buf.length < 64 + headerLen) return;
      const size = long ? Number(buf.readBigUInt64BE(65)) : (buf[65] as number);
      if ((flags & 0x04) === 0 || size > 4096) return done(notZmtp('no READY command'));
      if (buf.length < 64 + headerLen + size) return;
      const body = buf.subarray(64 + headerLen, 64 + headerLen + size);
      const nameLen = body[0] as number;
      if (body.toString('latin1', 1, 1 + nameLen) !== 'READY') return done(notZmtp('no READY command'));
      for (let i = 1 + nameLen; i < body.length; ) {
        const keyLen = body[i] as number;
        const key = body.toString('latin1', i + 1, i + 1 + keyLen);
        const valueLen = body.readUInt32BE(i + 1 + keyLen);
        const value = body.toString('latin1', i + 5 + keyLen, i + 5 + keyLen + valueLen);
        if (key.toLowerCase() === 'socket-type') return done(undefined, value);
        i += 5 + keyLen + valueLen;
      }
      done(notZmtp('READY without Socket-Type'));
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      const kind: SmokeErrorKind = NET_UNREACHABLE.has(err.code ?? '') ? 'unreachable' : 'protocol';
      done(new SmokeFailure(kind, `${what} ${ep.url}: ${err.code ?? err.message}`));
    });
    sock.once('close', () => done(notZmtp('connection closed during the ZMTP greeting')));
  });
}

/** What each end of the proxy must be, per pattern: [frontend types, backend types]. */
const EXPECTED: Record<'pubsub' | 'pipeline', [string[], string[]]> = {
  pubsub: [
    ['XSUB', 'SUB'],
    ['XPUB', 'PUB'],
  ],
  pipeline: [['PULL'], ['PUSH']],
};

async function checkProxy(
  pattern: 'pubsub' | 'pipeline',
  frontend: Endpoint,
  backend: Endpoint,
  timeoutMillis: number,
): Promise<void> {
  const [frontType, backType] = await Promise.all([
    zmtpSocketType(frontend, 'proxy frontend', timeoutMillis),
    zmtpSocketType(backend, 'proxy backend', timeoutMillis),
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
    throw new SmokeFailure(
      'protocol',
      `proxy ${what} ${ep.url} is ${/^[AEIOUX]/.test(type) ? 'an' : 'a'} ${type} socket, expected ${ok.join(' or ')} for pattern "${pattern}": ${hint}`,
    );
  }
}

async function run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
  const started = now();
  const deadline = started + options.timeoutSeconds * 1000;
  const messages = options.messages;
  const size = options.messageBytes;
  const runId = options.runId ?? randomBytes(6).toString('hex');
  const topic = `${SMOKE_TOPIC_PREFIX}${runId}`;
  const topicFrame = Buffer.from(topic, 'utf8');

  let produced = 0;
  let consumed = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let maxSeq = -1;
  const latencies: number[] = [];
  let seen = new Uint8Array(0);

  // The first failure wins. `wakeup` resolves on any progress or failure, `failed` on failure.
  let failure: SmokeFailure | undefined;
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
  let signalFailed: () => void = () => {};
  const failed = new Promise<undefined>((r) => {
    signalFailed = () => r(undefined);
  });
  const fail = (err: SmokeFailure) => {
    failure ??= err;
    signalFailed();
    notify();
  };
  const deadlineTimer = setTimeout(
    () => fail(new SmokeFailure('timeout', `deadline of ${options.timeoutSeconds} s reached`)),
    Math.max(0, deadline - now()),
  );
  /** `p`, or undefined as soon as the run has failed (e.g. a send blocked on a dead proxy). */
  const racing = <T>(p: Promise<T>): Promise<T | undefined> => {
    p.catch(() => {});
    return Promise.race([p, failed]);
  };
  const sleep = async (ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([wakeup, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  };

  const sockets: zmq.Socket[] = [];
  let lastProgress = now();
  let lastCheck = 0;
  let probeSeen = false;
  /** Pipeline: when another run's message last came by (0: never). */
  let lastForeign = 0;

  try {
    if (!Number.isSafeInteger(messages) || messages < 0 || messages > 0xffffffff) {
      throw new SmokeFailure('protocol', `messages must be a non-negative integer, got ${messages}`);
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new SmokeFailure('protocol', `messageBytes must be a non-negative integer, got ${size}`);
    }
    if (Buffer.byteLength(runId) > 200) throw new SmokeFailure('protocol', 'runId is too long');
    seen = new Uint8Array(messages);
    const pattern = target.extra?.pattern ?? 'pubsub';
    if (pattern !== 'pubsub' && pattern !== 'pipeline') {
      throw new SmokeFailure('protocol', `unknown ZeroMQ pattern "${pattern}" (expected pubsub or pipeline)`);
    }
    const frontend = parseTcp(target.extra?.frontend ?? target.url, 'frontend');
    const backend = parseTcp(
      target.extra?.backend ?? frontend.url.replace(/:\d+\/?$/, `:${frontend.port + 1}`),
      'backend',
    );
    const check = () => checkProxy(pattern, frontend, backend, Math.min(CHECK_MILLIS, deadline - now()));

    // 1. Is the proxy there, with the expected socket types?
    await racing(check());
    if (failure) throw failure;

    // 2. Sockets; the consumer first.
    const common = { linger: 0, ipv6: frontend.host.includes(':') || backend.host.includes(':') };
    const consumer =
      pattern === 'pubsub'
        ? new zmq.Subscriber({ ...common, receiveHighWaterMark: 0 })
        : new zmq.Pull({ ...common, receiveHighWaterMark: 0 });
    // Our own PUB queues without limit: the window bounds it, and it must not drop.
    const producer =
      pattern === 'pubsub' ? new zmq.Publisher({ ...common, sendHighWaterMark: 0 }) : new zmq.Push(common);
    sockets.push(consumer, producer);
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

    // 3. Consume in the background.
    void (async () => {
      for await (const frames of consumer) {
        const [t, payload] = frames as Buffer[];
        const h = payload ? decode(payload) : undefined;
        if (!t || !payload || !h || h.runId !== runId || !t.equals(topicFrame)) {
          // Not ours. pubsub: a topic that merely starts with ours. pipeline: another run's or an
          // application's message: put it back, so that its owner gets it.
          if (pattern === 'pipeline' && !failure) {
            if (h && payload && t?.toString('utf8').startsWith(SMOKE_TOPIC_PREFIX)) {
              if (h.kind === KIND_PROBE || h.hops >= MAX_HOPS || now() - h.sentAt > MAX_BOUNCE_AGE_MILLIS) {
                continue;
              }
              payload.writeUInt8(h.hops + 1, 2);
              lastForeign = now();
            }
            send(frames as Buffer[]).catch(() => {});
          }
          continue;
        }
        const at = now();
        if (h.kind === KIND_PROBE) {
          if (!probeSeen) {
            probeSeen = true;
            notify();
          }
          continue;
        }
        if (h.kind !== KIND_DATA || h.seq >= messages) continue;
        if (seen[h.seq]) {
          duplicated++;
        } else {
          seen[h.seq] = 1;
          consumed++;
          latencies.push(at - h.sentAt);
          if (h.seq < maxSeq) outOfOrder++;
          else maxSeq = h.seq;
        }
        lastProgress = at;
        notify();
      }
    })().catch((err: Error) => {
      if (!consumer.closed) fail(new SmokeFailure('protocol', `receiving: ${err.message}`));
    });

    /** Waits for progress; when there is none, tells a vanished proxy from lost messages. */
    const waitForProgress = async (what: string) => {
      const t = now();
      if (t - lastProgress >= STALL_CHECK_MILLIS && t - lastCheck >= STALL_CHECK_MILLIS) {
        lastCheck = t;
        try {
          await racing(check());
        } catch (err) {
          const e = err as SmokeFailure;
          fail(new SmokeFailure(e.kind, `the proxy went away mid-run: ${e.message}`));
          return;
        }
      }
      if (now() - lastProgress >= IDLE_MILLIS) {
        fail(
          new SmokeFailure(
            'protocol',
            `nothing arrived for ${IDLE_MILLIS / 1000} s while ${what}, although the proxy answers: messages lost`,
          ),
        );
        return;
      }
      await sleep(Math.min(STALL_CHECK_MILLIS, Math.max(1, lastProgress + IDLE_MILLIS - now())));
    };

    // 4. Probe until the path works end to end (pubsub: the subscription has propagated).
    lastProgress = now();
    for (let probe = 0; !probeSeen && !failure; probe++) {
      await racing(send([topicFrame, encode(KIND_PROBE, runId, probe, 0)]));
      if (!probeSeen && !failure) {
        if (now() - lastProgress >= STALL_CHECK_MILLIS) await waitForProgress('probing');
        else await sleep(PROBE_INTERVAL_MILLIS);
      }
    }

    // 5. The counted run.
    const window = Math.max(1, Math.min(MAX_WINDOW[pattern], Math.floor(WINDOW_BYTES / Math.max(size, 1))));
    lastProgress = now();
    for (let seq = 0; seq < messages && !failure; seq++) {
      while (!failure && produced - consumed >= window) await waitForProgress('sending');
      if (failure) break;
      await racing(send([topicFrame, encode(KIND_DATA, runId, seq, size)]));
      if (failure) break;
      produced++;
    }
    while (!failure && consumed < produced) await waitForProgress('waiting for the last messages');

    // 6. Pipeline: the proxy drops what it queued for a puller that goes away, so while other
    // runs' messages still come by, stay and bounce them; then let the bounced ones go out.
    if (pattern === 'pipeline' && lastForeign > 0) {
      while (!failure && now() - lastForeign < DRAIN_QUIET_MILLIS && now() < deadline - 100) {
        await sleep(DRAIN_QUIET_MILLIS);
      }
      producer.linger = Math.max(0, Math.min(BOUNCE_LINGER_MILLIS, deadline - now()));
    }
  } catch (err) {
    fail(err instanceof SmokeFailure ? err : new SmokeFailure('protocol', (err as Error).message));
  } finally {
    clearTimeout(deadlineTimer);
    for (const s of sockets) s.close();
  }

  latencies.sort((a, b) => a - b);
  const lost = produced - consumed;
  const ok = !failure && produced === messages && consumed === messages && duplicated === 0;
  const result: SmokeResult = {
    ok,
    produced,
    consumed,
    lost,
    duplicated,
    outOfOrder,
    p50Millis: percentile(latencies, 50),
    p99Millis: percentile(latencies, 99),
    durationMillis: Math.round(now() - started),
  };
  const counts = `${consumed} of ${messages} messages consumed, ${produced} produced`;
  const f = failure as SmokeFailure | undefined;
  if (f) {
    result.errorKind = f.kind;
    result.message = `${f.message} (${counts})`;
  } else if (!ok) {
    result.errorKind = 'protocol';
    result.message = `${lost} lost, ${duplicated} duplicated (${counts})`;
  }
  return result;
}

export const zeromqSmoke: SmokeTest = { engine: 'zeromq', run };
