/**
 * Kafka in the benchmark. Ours: kafkajs as the smoke test uses it (the run's own topic, 1
 * partition; an idempotent producer, acks=all, ~128 KiB of payload per produce request, one
 * request at a time; a consumer in its own group reading from the beginning). Native: Kafka's
 * ProducerPerformance (acks=all, idempotent, batch.size 131072, linger.ms 5) and
 * ConsumerPerformance (its own group) from the kafka-tools jar, on a topic of their own made the
 * same way. Both dequeue rates include joining the group.
 */
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { bestEffort } from '../../smoke-tests/src/contract/deadline.ts';
import { consumerConfig, parseBrokers, saslFor } from '../../smoke-tests/src/kafka.ts';
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';
import { parseConsumerPerformance, parseProducerPerformance, runTool, tail } from './native.ts';
import type {
  BenchEngine,
  BenchQueue,
  BenchRunContext,
  NativePhaseResult,
  NativeRun,
  Progress,
} from './types.ts';
import { benchPayload } from './util.ts';

/** Payload bytes per produce request, and at most this many messages. */
const BATCH_TARGET_BYTES = 128 * 1024;
const MAX_BATCH_MESSAGES = 2000;
const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1048588;
/** The native producer's batch.size: the same request size as ours. */
const NATIVE_BATCH_BYTES = 131072;

function shape(size: number) {
  const perBatch = Math.max(
    1,
    Math.min(MAX_BATCH_MESSAGES, Math.floor(BATCH_TARGET_BYTES / Math.max(1, size))),
  );
  const maxMessageBytes = Math.max(KAFKA_DEFAULT_MAX_MESSAGE_BYTES, perBatch * (size + 64) + 64 * 1024);
  return { perBatch, maxMessageBytes };
}

function client(target: SmokeTarget, id: string): Kafka {
  return new Kafka({
    clientId: id,
    brokers: parseBrokers(target),
    ssl: false,
    sasl: saslFor(target),
    logLevel: logLevel.NOTHING,
    logCreator: () => () => {},
    connectionTimeout: 10_000,
    authenticationTimeout: 10_000,
    requestTimeout: 60_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

async function createTopic(admin: Admin, name: string, size: number): Promise<void> {
  const cluster = await admin.describeCluster();
  const created = await admin.createTopics({
    topics: [
      {
        topic: name,
        numPartitions: 1,
        replicationFactor: Math.max(1, Math.min(3, cluster.brokers.length)),
        configEntries: [
          { name: 'max.message.bytes', value: String(shape(size).maxMessageBytes) },
          { name: 'retention.ms', value: String(60 * 60 * 1000) },
        ],
      },
    ],
    waitForLeaders: true,
    timeout: 30_000,
  });
  if (!created) throw new Error(`topic ${name} already exists`);
}

async function dropTopicAndGroup(admin: Admin, name: string, group?: string): Promise<void> {
  if (group) await bestEffort(admin.deleteGroups([group]), 15_000);
  await bestEffort(admin.deleteTopics({ topics: [name], timeout: 30_000 }), 35_000);
}

class KafkaQueue implements BenchQueue {
  private readonly kafka: Kafka;
  private readonly admin: Admin;
  private readonly name: string;
  private readonly size: number;
  private groupUsed = false;

  constructor(kafka: Kafka, admin: Admin, name: string, size: number) {
    this.kafka = kafka;
    this.admin = admin;
    this.name = name;
    this.size = size;
  }

  async enqueue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    // No request bigger than a tenth of the run, so that every checkpoint is seen.
    const perBatch = Math.max(1, Math.min(shape(this.size).perBatch, Math.ceil(n / 10)));
    const payload = benchPayload(this.size);
    const producer = this.kafka.producer({
      idempotent: true,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    await producer.connect();
    try {
      const full = Array.from({ length: perBatch }, () => ({ value: payload }));
      for (let sent = 0; sent < n && !signal.aborted; ) {
        const k = Math.min(perBatch, n - sent);
        await producer.send({
          topic: this.name,
          acks: -1,
          timeout: 30_000,
          messages: k === perBatch ? full : full.slice(0, k),
        });
        sent += k;
        meter.add(k);
      }
    } finally {
      await bestEffort(producer.disconnect(), 10_000);
    }
  }

  async dequeue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    if (n <= 0) return;
    const { maxMessageBytes } = shape(this.size);
    const consumer = this.kafka.consumer(consumerConfig(this.name, maxMessageBytes));
    this.groupUsed = true;
    let got = 0;
    let done!: () => void;
    let fail!: (e: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => {
      done = resolve;
      fail = reject;
    });
    consumer.on(consumer.events.CRASH, (ev) => fail(ev.payload.error));
    const onAbort = () => done();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await consumer.connect();
      // Timing covers subscribing and joining the group, as ConsumerPerformance's nMsg.sec does.
      await consumer.subscribe({ topic: this.name, fromBeginning: true });
      await consumer.run({
        autoCommit: true,
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }) => {
          if (got >= n) return;
          let k = 0;
          for (const m of batch.messages) if (m.value?.length === this.size) k++;
          got += k;
          meter.add(k);
          if (got >= n) done();
        },
      });
      await finished;
    } finally {
      signal.removeEventListener('abort', onAbort);
      await bestEffort(consumer.disconnect(), 15_000);
    }
  }

  async close(): Promise<void> {
    await dropTopicAndGroup(this.admin, this.name, this.groupUsed ? this.name : undefined);
    await bestEffort(this.admin.disconnect(), 5000);
  }
}

async function nativeRun(target: SmokeTarget, ctx: BenchRunContext): Promise<NativeRun> {
  const n = ctx.messages;
  const topic = ctx.name;
  const bootstrap = parseBrokers(target).join(',');
  const env: Record<string, string> = {};
  if (target.username && target.password !== undefined) {
    env.MQOP_BENCH_KAFKA_USERNAME = target.username;
    env.MQOP_BENCH_KAFKA_PASSWORD = target.password;
    env.MQOP_BENCH_KAFKA_MECHANISM = (target.extra?.['sasl.mechanism'] ?? 'scram-sha-512').toUpperCase();
  }
  const admin = client(target, 'mqop-bench-native').admin();
  await admin.connect();
  const guard = (ctx.maxSeconds + 30) * 1000;
  const produce = [
    ...['--topic', topic, '--num-records', String(n), '--record-size', String(ctx.messageBytes)],
    ...['--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=all'],
    ...['enable.idempotence=true', `batch.size=${NATIVE_BATCH_BYTES}`, 'linger.ms=5'],
    `max.request.size=${shape(ctx.messageBytes).maxMessageBytes}`,
  ];
  const consume = [
    ...['--bootstrap-server', bootstrap, '--topic', topic, '--messages', String(n)],
    ...['--group', topic, '--timeout', String(Math.min(60_000, ctx.maxSeconds * 1000))],
  ];
  const commands = [`ProducerPerformance ${produce.join(' ')}`, `ConsumerPerformance ${consume.join(' ')}`];
  try {
    await createTopic(admin, topic, ctx.messageBytes);
    const p = await runTool(ctx.repoRoot, 'kafka-perf.sh', ['producer', ...produce], env, guard);
    const ps = parseProducerPerformance(p.stdout);
    const enqueue: NativePhaseResult = { requested: n, count: 0, rate: 0, partial: true };
    enqueue.how = 'ProducerPerformance records/sec (final summary)';
    if (ps) {
      Object.assign(enqueue, {
        count: ps.records,
        rate: Math.round(ps.rate),
        partial: !ps.final || ps.records < n,
      });
      if (!ps.final) enqueue.error = `stopped after ${ctx.maxSeconds}s (rate from the 5 s windows)`;
    } else {
      enqueue.error = `ProducerPerformance: ${tail(p.stdout + p.stderr)}`;
    }
    const c = await runTool(ctx.repoRoot, 'kafka-perf.sh', ['consumer', ...consume], env, guard);
    const cs = parseConsumerPerformance(c.stdout);
    const dequeue: NativePhaseResult = { requested: enqueue.count || n, count: 0, rate: 0, partial: true };
    dequeue.how = 'ConsumerPerformance nMsg.sec (includes the group join, like ours)';
    if (cs) {
      Object.assign(dequeue, {
        count: cs.messages,
        rate: Math.round(cs.rate),
        partial: cs.messages < (enqueue.count || n),
        extra: { fetchRate: Math.round(cs.fetchRate), rebalanceMillis: cs.rebalanceMillis },
      });
    } else {
      dequeue.error = c.timedOut
        ? `stopped after ${ctx.maxSeconds}s`
        : `ConsumerPerformance: ${tail(c.stdout + c.stderr)}`;
    }
    return { tool: 'kafka-producer-perf-test / kafka-consumer-perf-test', commands, enqueue, dequeue };
  } finally {
    await dropTopicAndGroup(admin, topic, topic);
    await bestEffort(admin.disconnect(), 5000);
  }
}

export const kafkaBench: BenchEngine = {
  engine: 'kafka',
  describeOurs({ messageBytes }) {
    const { perBatch } = shape(messageBytes);
    return (
      `kafkajs: idempotent producer, acks=all, ${perBatch} messages per produce request, one request ` +
      `at a time; consumer in its own group from the beginning (eachBatch)`
    );
  },
  async open(target, ctx) {
    const kafka = client(target, 'mqop-bench');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopic(admin, ctx.name, ctx.messageBytes);
    } catch (e) {
      await bestEffort(admin.disconnect(), 5000);
      throw e;
    }
    return new KafkaQueue(kafka, admin, ctx.name, ctx.messageBytes);
  },
  async brokerVersion() {
    // Kafka does not report its version over the protocol; the test bed's is in the env.
    return process.env.MQOP_KAFKA_VERSION ?? undefined;
  },
  native: {
    tool: 'kafka-producer-perf-test / kafka-consumer-perf-test',
    describe({ messageBytes }) {
      return (
        `ProducerPerformance --record-size ${messageBytes} --throughput -1 acks=all enable.idempotence=true ` +
        `batch.size=${NATIVE_BATCH_BYTES} linger.ms=5; ConsumerPerformance --messages N (own group)`
      );
    },
    async prepare(repoRoot, log) {
      const r = await runTool(repoRoot, 'kafka-perf.sh', ['fetch'], {}, 600_000);
      if (r.code !== 0) throw new Error(`Kafka perf tools unavailable: ${tail(r.stderr)}`);
      log(r.stderr.trim());
    },
    run: nativeRun,
  },
};
