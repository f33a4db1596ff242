/**
 * RocketMQ 5 in the benchmark. Ours: rocketmq-client-nodejs through the proxy's gRPC endpoint,
 * as the smoke test uses it (../rocketmq.ts): the run's own NORMAL topic (made and removed over
 * the signed remoting protocol), a Producer with many sends in flight, then SimpleConsumers
 * receiving batches (long polling; the proxy hands out at most 32 per call) with several receive
 * calls in flight, each batch acked in one AckMessageRequest per broker without waiting.
 *
 * Native: RocketMQ's benchmark classes (`org.apache.rocketmq.example.benchmark.Producer` /
 * `Consumer`, what `benchmark/producer.sh` runs) live in the `rocketmq-example` module, which
 * Apache does not publish to Maven Central (checked for 4.3.0, 4.9.7, 5.0.0 and 5.3.3: not
 * found), and the binary distribution that ships them is not on Maven Central either. So there is
 * no native ceiling for RocketMQ here (see {@link rocketmqBench}.notes), and no ratio.
 */
import type { MessageView } from 'rocketmq-client-nodejs';
import { Producer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { bestEffort } from '../../smoke-tests/src/contract/deadline.ts';
import { describeError } from '../../smoke-tests/src/contract/errors.ts';
import { RocketmqAdmin } from '../../smoke-tests/src/protocols/rocketmq-admin.ts';
import { ackAll, closeClient } from '../../smoke-tests/src/protocols/rocketmq-grpc.ts';
import { clientOptions, credentialsOf, rocketmqEndpoints } from '../../smoke-tests/src/rocketmq.ts';
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';
import type { BenchEngine, BenchQueue, BenchRunContext, Progress } from './types.ts';
import { benchPayload } from './util.ts';

/** Queues of the run's topic per master broker; receive calls spread over them. */
export const QUEUES = 4;
/** Sends in flight: bytes, and at most this many. */
const WINDOW_BYTES = 16 * 1024 * 1024;
const MAX_INFLIGHT = 1024;
/** Receive calls in flight, and messages per call (the proxy's cap is 32). */
export const RECEIVERS = 4;
const MAX_BATCH = 32;
/** Acks in flight at most (each one request for a whole batch). */
const MAX_ACKS = 16;
/** Long polling of one receive call (the proxy allows 5-20 s). */
const AWAIT_MILLIS = 5_000;
/** A received message not acked within this long would come again. */
const INVISIBLE_MILLIS = 120_000;

export function rocketmqShape(size: number): { inflight: number; batch: number } {
  const s = Math.max(1, size);
  return {
    inflight: Math.max(1, Math.min(MAX_INFLIGHT, Math.floor(WINDOW_BYTES / s))),
    batch: MAX_BATCH,
  };
}

/** The test bed's name server (scripts/brokers/rocketmq.sh), when the target does not say. */
function withNamesrv(target: SmokeTarget): SmokeTarget {
  if (target.extra?.['namesrv.addr']) return target;
  const host = new URL(target.url.replace(/^rocketmq:/i, 'http:')).hostname;
  const port = process.env.MQOP_ROCKETMQ_NAMESRV_PORT || '19876';
  return { ...target, extra: { ...target.extra, 'namesrv.addr': `${host}:${port}` } };
}

/** Starts a client, retrying while the proxy does not know the new topic's route yet. */
async function startWithRetry(client: Producer | SimpleConsumer): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.startup();
      return;
    } catch (e) {
      if (!/40402|No topic route/i.test(describeError(e)) || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

class RocketmqQueue implements BenchQueue {
  private readonly target: SmokeTarget;
  private readonly admin: RocketmqAdmin;
  private readonly masters: string[];
  private readonly name: string;
  private readonly size: number;
  private readonly clients: Array<Producer | SimpleConsumer> = [];
  private groupUsed = false;

  constructor(target: SmokeTarget, admin: RocketmqAdmin, masters: string[], ctx: BenchRunContext) {
    this.target = target;
    this.admin = admin;
    this.masters = masters;
    this.name = ctx.name;
    this.size = ctx.messageBytes;
  }

  private options() {
    return clientOptions(rocketmqEndpoints(this.target), this.target);
  }

  async enqueue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    // Three attempts, the client's own default: a broker that has just started, or a busy one,
    // answers a send now and then with a retryable code (flow control, a timeout); one such answer
    // ended the whole phase with maxAttempts 1 (seen as 964/2000 and 632/2000 in full quick runs).
    const producer = new Producer({ ...this.options(), topics: [this.name], maxAttempts: 3 });
    this.clients.push(producer);
    await startWithRetry(producer);
    const { inflight: maxInflight } = rocketmqShape(this.size);
    const body = benchPayload(this.size);
    let inflight = 0;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const wakeUp = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    signal.addEventListener('abort', wakeUp, { once: true });
    try {
      for (let i = 0; i < n && !signal.aborted && failure === undefined; i++) {
        inflight++;
        producer.send({ topic: this.name, body }).then(
          () => {
            inflight--;
            meter.add(1);
            wakeUp();
          },
          (e: unknown) => {
            inflight--;
            failure ??= e;
            wakeUp();
          },
        );
        while (inflight >= maxInflight && failure === undefined && !signal.aborted) {
          await new Promise<void>((resolve) => (wake = resolve));
        }
      }
      while (inflight > 0 && failure === undefined && !signal.aborted) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (failure !== undefined) throw failure;
    } finally {
      signal.removeEventListener('abort', wakeUp);
    }
  }

  async dequeue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    if (n <= 0) return;
    const consumer = new SimpleConsumer({
      ...this.options(),
      consumerGroup: this.name,
      subscriptions: new Map([[this.name, '*']]),
      awaitDuration: AWAIT_MILLIS,
      maxRetryAttempts: 1,
    });
    this.clients.push(consumer);
    this.groupUsed = true;
    await startWithRetry(consumer);
    let got = 0;
    let failure: unknown;
    const acks = new Set<Promise<void>>();
    const receiver = async () => {
      while (got < n && !signal.aborted && failure === undefined) {
        let msgs: MessageView[];
        try {
          msgs = await consumer.receive(MAX_BATCH, INVISIBLE_MILLIS);
        } catch (e) {
          // Long polling that found nothing ends with "message not found" (40401).
          if (/40401|not found/i.test(describeError(e))) continue;
          throw e;
        }
        if (!msgs.length) continue;
        const mine = msgs.filter((m) => m.body.length === this.size).length;
        const k = Math.min(mine, n - got);
        got += k;
        meter.add(k);
        const a = ackAll(consumer, this.name, msgs).then(
          () => {
            acks.delete(a);
          },
          (e: unknown) => {
            acks.delete(a);
            failure ??= e;
          },
        );
        acks.add(a);
        while (acks.size > MAX_ACKS) await Promise.race(acks);
      }
    };
    await Promise.all(Array.from({ length: RECEIVERS }, () => receiver()));
    await Promise.all(acks);
    if (failure !== undefined) throw failure;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => closeClient(c)));
    try {
      await bestEffort(
        Promise.all(
          this.masters.map(async (b) => {
            if (this.groupUsed) await this.admin.deleteGroup(b, this.name).catch(() => {});
            const topics = this.groupUsed
              ? [this.name, `%RETRY%${this.name}`, `%DLQ%${this.name}`]
              : [this.name];
            for (const t of topics) await this.admin.deleteTopicInBroker(b, t).catch(() => {});
          }),
        ),
        10_000,
      );
      await bestEffort(this.admin.deleteTopicInNamesrvs(this.name), 5000);
    } finally {
      this.admin.close();
    }
  }
}

export const rocketmqBench: BenchEngine = {
  engine: 'rocketmq',
  maxMessages: {
    messages: 50_000,
    why:
      'our RocketMQ client (one gRPC call per send through the proxy; receive batches of at most ' +
      '32) did about 750-1,200 msg/s in quick runs on this shared 2-core box (load average 7-10 ' +
      'then), so 1,000,000 per size would take over two hours; 50,000 keeps RocketMQ near 10 minutes',
  },
  notes: [
    "No native ceiling: RocketMQ's benchmark classes (`org.apache.rocketmq.example.benchmark.Producer` / " +
      '`Consumer`) are in the `rocketmq-example` module, which is not published to Maven Central ' +
      '(looked up for 4.3.0, 4.9.7, 5.0.0 and 5.3.3: not found), nor is the binary distribution ' +
      'that ships them; so no ratio.',
  ],
  describeOurs({ messageBytes }) {
    const s = rocketmqShape(messageBytes);
    return (
      `rocketmq-client-nodejs via the proxy's gRPC port: Producer with up to ${s.inflight} sends in flight; ` +
      `SimpleConsumer with ${RECEIVERS} receive calls in flight (batches of ${s.batch}), one ack request per ` +
      `batch, acks in flight; topic with ${QUEUES} queues`
    );
  },
  async open(target0, ctx) {
    const target = withNamesrv(target0);
    const admin = new RocketmqAdmin(rocketmqEndpoints(target), credentialsOf(target));
    try {
      const masters = await admin.masters();
      if (!masters.length) throw new Error('no master broker registered with the name server');
      await Promise.all(masters.map((b) => admin.createTopic(b, ctx.name, QUEUES)));
      return new RocketmqQueue(target, admin, masters, ctx);
    } catch (e) {
      admin.close();
      throw e;
    }
  },
  async brokerVersion() {
    return process.env.MQOP_ROCKETMQ_VERSION ?? undefined;
  },
};
