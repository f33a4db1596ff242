/**
 * Kafka smoke test (kafkajs): the run's own topic `mqop-smoke-<runId>` (1 partition, replication
 * factor min(3, brokers)), an idempotent producer sending large batches, a consumer in its own
 * group `mqop-smoke-<runId>` reading from the beginning; afterwards the topic and the group are
 * deleted, whatever happened.
 *
 * Target: `kafka://h1:9092,h2:9092` (or `extra['bootstrap.servers']`), SASL (SCRAM-SHA-512 by
 * default, `extra['sasl.mechanism']` may say `scram-sha-256` or `plain`) when a username and
 * password are given, plaintext transport.
 *
 * Throughput notes: kafkajs serialises the idempotent producer's produce requests per broker
 * (a mutex around sequence-number assignment), so at most one produce request is on the wire at a
 * time regardless of `maxInFlightRequests` (the broker would allow 5). Speed comes from batches
 * of ~128 KiB of payload per request: measured on 2 cores, bigger batches did not raise
 * throughput but raised latency, and overlapping send() calls reordered the partition.
 */
import { type Admin, type Consumer, Kafka, logLevel, type Producer, type SASLOptions } from 'kafkajs';
import type { SmokeErrorKind, SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';

const DEFAULT_PORT = 9092;
/** Payload bytes per produce request (before per-record overhead). */
const BATCH_TARGET_BYTES = 128 * 1024;
const MAX_BATCH_MESSAGES = 2000;
/** Kafka's default `message.max.bytes`; the run's topic never goes below it. */
const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1048588;

class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** `kafka://h1:9092,h2:9092` → `['h1:9092', 'h2:9092']`. */
export function parseBrokers(target: SmokeTarget): string[] {
  const fromExtra = target.extra?.['bootstrap.servers'];
  let list = fromExtra && fromExtra.trim() !== '' ? fromExtra : target.url;
  list = list.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const brokers: string[] = [];
  for (let part of list.split(',')) {
    part = part.trim();
    const at = part.lastIndexOf('@');
    if (at >= 0) part = part.slice(at + 1); // userinfo never goes to the client
    part = part.replace(/[/?#].*$/, '');
    if (part === '') continue;
    brokers.push(/:\d+$/.test(part) ? part : `${part}:${DEFAULT_PORT}`);
  }
  if (brokers.length === 0) throw new Error('no Kafka bootstrap servers in the target URL');
  return brokers;
}

function saslFor(target: SmokeTarget): SASLOptions | undefined {
  if (!target.username || target.password === undefined) return undefined;
  const mechanism = (target.extra?.['sasl.mechanism'] ?? 'scram-sha-512').toLowerCase();
  const { username, password } = target;
  if (mechanism === 'plain') return { mechanism: 'plain', username, password };
  if (mechanism === 'scram-sha-256') return { mechanism: 'scram-sha-256', username, password };
  return { mechanism: 'scram-sha-512', username, password };
}

// ---- payload --------------------------------------------------------------------------------
// `mqop|<runId>|<seq>|<sendEpochMillis with µs>|` padded with '.' to messageBytes.

function nowMillis(): number {
  return performance.timeOrigin + performance.now();
}

function encodePayload(runId: string, seq: number, sentAt: number, size: number): Buffer {
  const header = `mqop|${runId}|${seq}|${sentAt.toFixed(3)}|`;
  const len = Math.max(size, Buffer.byteLength(header));
  const buf = Buffer.allocUnsafe(len);
  const written = buf.write(header, 0, 'latin1');
  buf.fill(0x2e, written);
  return buf;
}

function decodeHeader(buf: Buffer, runId: string): { seq: number; sentAt: number } | undefined {
  // The header is short; never decode a whole 1 MiB payload to a string.
  const head = buf.toString('latin1', 0, Math.min(buf.length, 64 + runId.length * 2));
  const parts = head.split('|');
  if (parts.length < 5 || parts[0] !== 'mqop' || parts[1] !== runId) return undefined;
  const seq = Number(parts[2]);
  const sentAt = Number(parts[3]);
  if (!Number.isInteger(seq) || !Number.isFinite(sentAt)) return undefined;
  return { seq, sentAt };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  const v = sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? 0;
  return Math.round(v * 1000) / 1000;
}

// ---- errors ---------------------------------------------------------------------------------

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
]);

function errorChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < 20) {
    const e = queue.shift();
    if (e == null || out.includes(e)) continue;
    out.push(e);
    if (typeof e === 'object') {
      const o = e as { cause?: unknown; originalError?: unknown; errors?: unknown };
      queue.push(o.cause, o.originalError);
      if (Array.isArray(o.errors)) queue.push(...o.errors);
    }
  }
  return out;
}

export function classifyKafkaError(err: unknown): SmokeErrorKind {
  const chain = errorChain(err);
  const props = chain.map((e) => {
    const o = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
    return {
      name: String(o.name ?? ''),
      type: String(o.type ?? ''),
      code: String(o.code ?? ''),
      message: String(o.message ?? e),
    };
  });
  if (props.some((p) => p.name === 'DeadlineError')) return 'timeout';
  if (
    props.some(
      (p) =>
        p.name === 'KafkaJSSASLAuthenticationError' ||
        p.type === 'SASL_AUTHENTICATION_FAILED' ||
        p.type === 'ILLEGAL_SASL_STATE' ||
        p.type === 'UNSUPPORTED_SASL_MECHANISM' ||
        p.type.endsWith('_AUTHORIZATION_FAILED') ||
        /\bSASL\b.*(authentication failed|invalid username or password|failed)/i.test(p.message),
    )
  ) {
    return 'auth';
  }
  if (
    props.some(
      (p) =>
        p.name === 'KafkaJSConnectionError' ||
        p.name === 'KafkaJSConnectionClosedError' ||
        p.name === 'KafkaJSNoBrokerAvailableError' ||
        UNREACHABLE_CODES.has(p.code) ||
        /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET)\b/.test(p.message) ||
        /Connection (timeout|error|closed)|Failed to connect|Closed connection|Not connected/i.test(
          p.message,
        ),
    )
  ) {
    return 'unreachable';
  }
  return 'protocol';
}

function describe(err: unknown, secret: string | undefined): string {
  const chain = errorChain(err);
  const msgs: string[] = [];
  for (const e of chain) {
    const m = e instanceof Error ? e.message : String(e);
    if (m && !msgs.some((x) => x.includes(m))) msgs.push(m);
  }
  let text = msgs.join(': ') || 'unknown error';
  if (secret) text = text.split(secret).join('***');
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

// ---- deadline helpers -----------------------------------------------------------------------

/** Resolves/rejects like `p`, or rejects with DeadlineError at `deadline` (performance.now()). */
function before<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  p.catch(() => {}); // the loser of the race must not become an unhandled rejection
  const left = deadline - performance.now();
  if (left <= 0) return Promise.reject(new DeadlineError(`deadline passed while ${what}`));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`deadline passed while ${what}`)), left);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function quietly(p: Promise<unknown> | undefined, deadline: number): Promise<void> {
  if (!p) return;
  try {
    await before(p, deadline, 'cleaning up');
  } catch {
    /* best effort */
  }
}

// ---- the run --------------------------------------------------------------------------------

async function run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
  const t0 = performance.now();
  const totalMs = Math.max(1, options.timeoutSeconds) * 1000;
  // The last part of the budget is kept for cleanup (leave group, delete group and topic).
  const cleanupReserve = Math.min(5000, totalMs * 0.2);
  const mainDeadline = t0 + totalMs - cleanupReserve;
  const finalDeadline = t0 + totalMs;
  const left = (deadline: number) => Math.max(1, Math.floor(deadline - performance.now()));

  const messages = Math.max(0, Math.floor(options.messages));
  const messageBytes = Math.max(1, Math.floor(options.messageBytes));
  const runId = (options.runId ?? crypto.randomUUID().slice(0, 12)).replace(/[^A-Za-z0-9._-]/g, '-');
  const topic = `mqop-smoke-${runId}`;
  const groupId = topic;

  // Counters, updated as we go, so a timed-out run still reports what it saw.
  let produced = 0;
  let consumed = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let maxSeqSeen = -1;
  const seen = new Uint8Array(messages);
  const latencies: number[] = [];
  let stopped = false;

  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  let topicRequested = false;
  let groupJoined = false;
  let failure: unknown;

  let brokers: string[];
  try {
    brokers = parseBrokers(target);
  } catch (e) {
    return {
      ok: false,
      produced: 0,
      consumed: 0,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      p50Millis: 0,
      p99Millis: 0,
      durationMillis: Math.round(performance.now() - t0),
      errorKind: 'protocol',
      message: describe(e, target.password),
    };
  }

  const kafka = new Kafka({
    clientId: `mqop-smoke-${runId}`,
    brokers,
    ssl: false,
    sasl: saslFor(target),
    // Nothing from kafkajs reaches a log: no secrets, no noise.
    logLevel: logLevel.NOTHING,
    logCreator: () => () => {},
    connectionTimeout: Math.min(5000, Math.max(1000, Math.floor(totalMs / 4))),
    authenticationTimeout: Math.min(5000, Math.max(1000, Math.floor(totalMs / 4))),
    requestTimeout: Math.min(30000, Math.max(2000, Math.floor(totalMs / 2))),
    enforceRequestTimeout: true,
    // Few, short retries: a smoke test reports trouble, it does not wait it out.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000, factor: 0.2, multiplier: 2 },
  });

  // Resolved when every produced message has been consumed (checked once producing is done).
  let allConsumed: () => void = () => {};
  const allConsumedP = new Promise<void>((resolve) => {
    allConsumed = resolve;
  });
  let producingDone = false;
  const checkDone = () => {
    if (producingDone && consumed >= produced) allConsumed();
  };

  const main = async () => {
    admin = kafka.admin({ retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 } });
    await before(admin.connect(), mainDeadline, 'connecting');
    const cluster = await before(admin.describeCluster(), mainDeadline, 'describing the cluster');
    const replicationFactor = Math.max(1, Math.min(3, cluster.brokers.length));

    const perBatch = Math.max(1, Math.min(MAX_BATCH_MESSAGES, Math.floor(BATCH_TARGET_BYTES / messageBytes)));
    const payloadBytes = Math.max(messageBytes, 64 + runId.length);
    // Room for one request's record batch (records carry ~30 bytes of framing each).
    const maxMessageBytes = Math.max(
      KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
      perBatch * (payloadBytes + 64) + 64 * 1024,
    );

    topicRequested = true;
    const created = await before(
      admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: 1,
            replicationFactor,
            configEntries: [
              { name: 'max.message.bytes', value: String(maxMessageBytes) },
              { name: 'retention.ms', value: String(60 * 60 * 1000) },
            ],
          },
        ],
        waitForLeaders: true,
        timeout: left(mainDeadline),
      }),
      mainDeadline,
      'creating the topic',
    );
    if (!created) {
      // Not ours (a reused run id): leave it alone.
      topicRequested = false;
      throw new Error(`topic ${topic} already exists`);
    }

    // Consumer first, so that latency is send → receive and not send → group join.
    const c = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      minBytes: 1,
      maxBytesPerPartition: Math.max(1024 * 1024, maxMessageBytes),
      maxBytes: Math.max(10 * 1024 * 1024, 2 * maxMessageBytes),
      sessionTimeout: 10000,
      rebalanceTimeout: 10000,
      heartbeatInterval: 1000,
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000, restartOnFailure: async () => false },
    });
    consumer = c;
    let crashed: (e: unknown) => void = () => {};
    const crashP = new Promise<never>((_, reject) => {
      crashed = reject;
    });
    crashP.catch(() => {});
    c.on(c.events.CRASH, (ev) => crashed(ev.payload.error));
    const joinedP = new Promise<void>((resolve) => {
      c.on(c.events.GROUP_JOIN, () => {
        groupJoined = true;
        resolve();
      });
    });
    await before(c.connect(), mainDeadline, 'connecting the consumer');
    await before(c.subscribe({ topic, fromBeginning: true }), mainDeadline, 'subscribing');
    await before(
      c.run({
        autoCommit: true,
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }) => {
          const receivedAt = nowMillis();
          for (const m of batch.messages) {
            if (stopped || !m.value) continue;
            const h = decodeHeader(m.value, runId);
            if (!h || h.seq < 0 || h.seq >= messages) continue;
            if (seen[h.seq]) {
              duplicated++;
              continue;
            }
            seen[h.seq] = 1;
            consumed++;
            if (h.seq < maxSeqSeen) outOfOrder++;
            else maxSeqSeen = h.seq;
            latencies.push(receivedAt - h.sentAt);
          }
          checkDone();
        },
      }),
      mainDeadline,
      'starting the consumer',
    );
    await before(Promise.race([joinedP, crashP]), mainDeadline, 'joining the consumer group');

    const p = kafka.producer({
      idempotent: true,
      allowAutoTopicCreation: false,
      // Finite retries: a broker that went away is reported, not waited for until the deadline.
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    producer = p;
    await before(p.connect(), mainDeadline, 'connecting the producer');

    // One produce request at a time (kafkajs would serialise them anyway, and concurrent send()
    // calls can overtake each other before the lock, which reorders the partition).
    for (let first = 0; first < messages && !stopped; first += perBatch) {
      const count = Math.min(perBatch, messages - first);
      const sentAt = nowMillis();
      const batch = new Array<{ value: Buffer }>(count);
      for (let i = 0; i < count; i++)
        batch[i] = { value: encodePayload(runId, first + i, sentAt, messageBytes) };
      await before(
        Promise.race([p.send({ topic, acks: -1, timeout: left(mainDeadline), messages: batch }), crashP]),
        mainDeadline,
        'producing',
      );
      produced += count;
    }
    producingDone = true;
    checkDone();
    await before(Promise.race([allConsumedP, crashP]), mainDeadline, 'consuming');
  };

  try {
    await before(main(), mainDeadline, 'running');
  } catch (e) {
    failure = e;
  }
  stopped = true;

  // Cleanup: leave the group, then delete the group and the topic. Bounded by the final deadline.
  await quietly(consumer?.disconnect(), finalDeadline);
  await quietly(producer?.disconnect(), finalDeadline);
  if (admin && (topicRequested || groupJoined)) {
    const a = admin;
    if (groupJoined || consumer) {
      await quietly(
        a.deleteGroups([groupId]).catch((e: unknown) => {
          // A group that never got to exist is fine.
          const kinds = errorChain(e).map((x) => String((x as { type?: unknown })?.type ?? ''));
          if (!kinds.includes('GROUP_ID_NOT_FOUND')) throw e;
        }),
        finalDeadline,
      );
    }
    if (topicRequested) {
      await quietly(a.deleteTopics({ topics: [topic], timeout: left(finalDeadline) }), finalDeadline);
    }
  }
  await quietly(admin?.disconnect(), finalDeadline);

  const sorted = latencies.slice().sort((x, y) => x - y);
  const lost = Math.max(0, produced - consumed);
  const result: SmokeResult = {
    ok: false,
    produced,
    consumed,
    lost,
    duplicated,
    outOfOrder,
    p50Millis: percentile(sorted, 50),
    p99Millis: percentile(sorted, 99),
    durationMillis: Math.round(performance.now() - t0),
  };
  if (failure !== undefined) {
    result.errorKind = classifyKafkaError(failure);
    result.message =
      result.errorKind === 'timeout'
        ? `timed out after ${options.timeoutSeconds}s (${describe(failure, target.password)}); produced ${produced}, consumed ${consumed} of ${messages}`
        : `${describe(failure, target.password)} (produced ${produced}, consumed ${consumed} of ${messages})`;
    return result;
  }
  if (produced !== messages || consumed !== messages || duplicated !== 0) {
    result.errorKind = 'protocol';
    result.message = `produced ${produced}, consumed ${consumed} of ${messages}, ${duplicated} duplicated`;
    return result;
  }
  result.ok = true;
  result.message = `${messages} messages of ${messageBytes} bytes through topic ${topic}`;
  return result;
}

export const kafkaSmoke: SmokeTest = { engine: 'kafka', run };
