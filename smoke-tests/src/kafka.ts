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
 * The run goes through the shared runner (contract/runner.ts): one counter, the `mqop1` payload,
 * the run's deadline, which comes up to 5 s (a fifth of the timeout at most) before the timeout so
 * that cleanup (leave the group, delete group and topic) fits in it too.
 *
 * Throughput notes: kafkajs serialises the idempotent producer's produce requests per broker
 * (a mutex around sequence-number assignment), so at most one produce request is on the wire at a
 * time regardless of `maxInFlightRequests` (the broker would allow 5). Speed comes from batches
 * of ~128 KiB of payload per request: measured on 2 cores, bigger batches did not raise
 * throughput but raised latency, and overlapping send() calls reordered the partition.
 */
import {
  type Admin,
  type Consumer,
  type ConsumerConfig,
  Kafka,
  logLevel,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import { bestEffort } from './contract/deadline.ts';
import { SmokeError } from './contract/errors.ts';
import { nowMillis } from './contract/payload.ts';
import { type RunContext, runSmoke } from './contract/runner.ts';
import type { SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';

const DEFAULT_PORT = 9092;
/** Payload bytes per produce request (before per-record overhead). */
const BATCH_TARGET_BYTES = 128 * 1024;
const MAX_BATCH_MESSAGES = 2000;
/** Kafka's default `message.max.bytes`; the run's topic never goes below it. */
const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1048588;
/** The end of the timeout kept for cleanup: at most 5 s, at most a fifth of the timeout. */
const cleanupReserveMillis = (timeoutMillis: number) => Math.min(5000, timeoutMillis * 0.2);

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
  if (brokers.length === 0) throw new SmokeError('protocol', 'no Kafka bootstrap servers in the target URL');
  return brokers;
}

/** SASL for the target's credentials: SCRAM-SHA-512 unless extra `sasl.mechanism` says otherwise. */
export function saslFor(target: SmokeTarget): SASLOptions | undefined {
  if (!target.username || target.password === undefined) return undefined;
  const mechanism = (target.extra?.['sasl.mechanism'] ?? 'scram-sha-512').toLowerCase();
  const { username, password } = target;
  if (mechanism === 'plain') return { mechanism: 'plain', username, password };
  if (mechanism === 'scram-sha-256') return { mechanism: 'scram-sha-256', username, password };
  return { mechanism: 'scram-sha-512', username, password };
}

/**
 * The consumer of a group of its own that reads batches of up to `maxMessageBytes` per partition
 * as soon as there are any, and gives up rather than restart on failure (the bench uses it too).
 */
export function consumerConfig(groupId: string, maxMessageBytes: number): ConsumerConfig {
  return {
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
  };
}

// ---------------------------------------------------------------------------------------------
// Error classification (KafkaJS's error names and types; the runner walks the chain)

function fieldsOf(err: unknown): { name: string; type: string; message: string } {
  const o = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  return { name: String(o.name ?? ''), type: String(o.type ?? ''), message: String(o.message ?? err) };
}

function isKafkaAuth(err: unknown): boolean {
  const { name, type, message } = fieldsOf(err);
  return (
    name === 'KafkaJSSASLAuthenticationError' ||
    type === 'SASL_AUTHENTICATION_FAILED' ||
    type === 'ILLEGAL_SASL_STATE' ||
    type === 'UNSUPPORTED_SASL_MECHANISM' ||
    type.endsWith('_AUTHORIZATION_FAILED') ||
    /\bSASL\b.*(authentication failed|invalid username or password|failed)/i.test(message)
  );
}

function isKafkaUnreachable(err: unknown): boolean {
  const { name, message } = fieldsOf(err);
  return (
    name === 'KafkaJSConnectionError' ||
    name === 'KafkaJSConnectionClosedError' ||
    name === 'KafkaJSNoBrokerAvailableError' ||
    /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET)\b/.test(message) ||
    /Connection (timeout|error|closed)|Failed to connect|Closed connection|Not connected/i.test(message)
  );
}

// ---------------------------------------------------------------------------------------------
// The run

interface State {
  admin?: Admin;
  producer?: Producer;
  consumer?: Consumer;
  /** The topic may exist (created, or its creation sent): cleanup deletes it. */
  topicRequested: boolean;
  groupJoined: boolean;
  /** Set by cleanup: nothing more is produced or counted. */
  stopped: boolean;
}

function kafkaClient(target: SmokeTarget, ctx: RunContext): Kafka {
  const totalMs = ctx.options.timeoutSeconds * 1000;
  return new Kafka({
    clientId: ctx.name,
    brokers: parseBrokers(target),
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
}

async function body(kafka: Kafka, ctx: RunContext, state: State): Promise<void> {
  const { deadline, counter, name: topic, options } = ctx;
  const groupId = topic;
  const left = () => Math.max(1, Math.floor(deadline.remaining()));

  const admin = kafka.admin({ retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 } });
  state.admin = admin;
  await deadline.race(admin.connect());
  const cluster = await deadline.race(admin.describeCluster());
  const replicationFactor = Math.max(1, Math.min(3, cluster.brokers.length));

  const messageBytes = Math.max(1, options.messageBytes);
  const perBatch = Math.max(1, Math.min(MAX_BATCH_MESSAGES, Math.floor(BATCH_TARGET_BYTES / messageBytes)));
  const payloadBytes = Math.max(messageBytes, 64 + ctx.runId.length);
  // Room for one request's record batch (records carry ~30 bytes of framing each).
  const maxMessageBytes = Math.max(
    KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
    perBatch * (payloadBytes + 64) + 64 * 1024,
  );

  state.topicRequested = true;
  const created = await deadline.race(
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
      timeout: left(),
    }),
  );
  if (!created) {
    // Not ours (a reused run id): leave it alone.
    state.topicRequested = false;
    throw new SmokeError('protocol', `topic ${topic} already exists`);
  }

  // Consumer first, so that latency is send → receive and not send → group join.
  const c = kafka.consumer(consumerConfig(groupId, maxMessageBytes));
  state.consumer = c;
  let crashed: (e: unknown) => void = () => {};
  const crashP = new Promise<never>((_, reject) => {
    crashed = reject;
  });
  crashP.catch(() => {});
  c.on(c.events.CRASH, (ev) => crashed(ev.payload.error));
  const joinedP = new Promise<void>((resolve) => {
    c.on(c.events.GROUP_JOIN, () => {
      state.groupJoined = true;
      resolve();
    });
  });

  // Resolved when every produced message has been consumed (checked once producing is done).
  let allConsumed: () => void = () => {};
  const allConsumedP = new Promise<void>((resolve) => {
    allConsumed = resolve;
  });
  let producingDone = false;
  const checkDone = () => {
    if (producingDone && counter.consumedCount >= counter.producedCount) allConsumed();
  };

  await deadline.race(c.connect());
  await deadline.race(c.subscribe({ topic, fromBeginning: true }));
  await deadline.race(
    c.run({
      autoCommit: true,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const receivedAt = nowMillis();
        for (const m of batch.messages) {
          if (!state.stopped && m.value) counter.receive(m.value, receivedAt, batch.partition);
        }
        checkDone();
      },
    }),
  );
  await deadline.race(Promise.race([joinedP, crashP]));

  const p = kafka.producer({
    idempotent: true,
    allowAutoTopicCreation: false,
    // Finite retries: a broker that went away is reported, not waited for until the deadline.
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  state.producer = p;
  await deadline.race(p.connect());

  // One produce request at a time (kafkajs would serialise them anyway, and concurrent send()
  // calls can overtake each other before the lock, which reorders the partition).
  for (let first = 0; first < options.messages && !state.stopped; first += perBatch) {
    const count = Math.min(perBatch, options.messages - first);
    const batch = new Array<{ value: Buffer }>(count);
    for (let i = 0; i < count; i++) batch[i] = { value: counter.encode(first + i, options.messageBytes) };
    await deadline.race(
      Promise.race([p.send({ topic, acks: -1, timeout: left(), messages: batch }), crashP]),
    );
    counter.produced(count);
  }
  producingDone = true;
  checkDone();
  await deadline.race(Promise.race([allConsumedP, crashP]));
  ctx.summary = `${options.messages} messages of ${options.messageBytes} bytes through topic ${topic}`;
}

/** Leaves the group, then deletes the group and the topic; bounded by the end of the timeout. */
async function cleanup(ctx: RunContext, state: State): Promise<void> {
  state.stopped = true;
  const end = ctx.deadline.startedAt + ctx.options.timeoutSeconds * 1000;
  const quietly = async (p: Promise<unknown> | undefined) => {
    if (p) await bestEffort(p, Math.max(1, end - performance.now()));
  };
  await quietly(state.consumer?.disconnect());
  await quietly(state.producer?.disconnect());
  const admin = state.admin;
  if (admin && (state.topicRequested || state.groupJoined)) {
    if (state.groupJoined || state.consumer) {
      // A group that never got to exist is fine (bestEffort swallows the GROUP_ID_NOT_FOUND).
      await quietly(admin.deleteGroups([ctx.name]));
    }
    if (state.topicRequested) {
      const timeout = Math.max(1, Math.floor(end - performance.now()));
      await quietly(admin.deleteTopics({ topics: [ctx.name], timeout }));
    }
  }
  await quietly(admin?.disconnect());
}

export const kafkaSmoke: SmokeTest = {
  engine: 'kafka',
  run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
    const state: State = { topicRequested: false, groupJoined: false, stopped: false };
    return runSmoke(
      options,
      [target.password],
      { isAuth: isKafkaAuth, isUnreachable: isKafkaUnreachable },
      async (ctx) => body(kafkaClient(target, ctx), ctx, state),
      (ctx) => cleanup(ctx, state),
      { cleanupReserveMillis },
    );
  },
};
