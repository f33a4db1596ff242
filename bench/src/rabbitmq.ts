/**
 * RabbitMQ in the benchmark. Ours: amqplib as the smoke test uses it (a durable quorum queue,
 * persistent messages published on a confirm channel with many confirms in flight; a consumer with
 * a prefetch and cumulative acks). Native: RabbitMQ PerfTest with the same queue type, flags,
 * confirm window and prefetch: a producer-only run (`-x 1 -y 0 -C N -c window`), then a
 * consumer-only run on the filled queue (`-x 0 -y 1 -D N -q prefetch -A ack-every`).
 */
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { connect } from 'amqplib';
import { bestEffort } from '../../smoke-tests/src/contract/deadline.ts';
import { amqpConnectOptions } from '../../smoke-tests/src/rabbitmq.ts';
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';
import { parsePerfTest, runTool, tail } from './native.ts';
import type {
  BenchEngine,
  BenchQueue,
  BenchRunContext,
  NativePhaseResult,
  NativeRun,
  Progress,
} from './types.ts';
import { benchPayload } from './util.ts';

/** Unconfirmed publishes in flight: bytes, and at most this many messages. */
const WINDOW_BYTES = 8 * 1024 * 1024;
const MAX_INFLIGHT = 500;
/** Consumer prefetch: bytes, and at most this many messages. */
const PREFETCH_BYTES = 4 * 1024 * 1024;
const MAX_PREFETCH = 1000;
/** A queue left behind (cleanup failed) expires after this long unused. */
const QUEUE_EXPIRES_MILLIS = 30 * 60 * 1000;

function shape(size: number) {
  const s = Math.max(1, size);
  const inflight = Math.max(1, Math.min(MAX_INFLIGHT, Math.floor(WINDOW_BYTES / s)));
  const prefetch = Math.max(1, Math.min(MAX_PREFETCH, Math.floor(PREFETCH_BYTES / s)));
  const ackEvery = Math.max(1, Math.floor(prefetch / 4));
  return { inflight, prefetch, ackEvery };
}

const QUEUE_ARGS = { 'x-queue-type': 'quorum', 'x-expires': QUEUE_EXPIRES_MILLIS };

async function open(target: SmokeTarget): Promise<ChannelModel> {
  const conn = await connect(amqpConnectOptions(target), {
    timeout: 10_000,
    noDelay: true,
    clientProperties: { connection_name: 'mqop-bench' },
  });
  conn.on('error', () => {});
  return conn;
}

class RabbitQueue implements BenchQueue {
  private readonly conn: ChannelModel;
  private readonly pub: ConfirmChannel;
  private readonly name: string;
  private readonly size: number;
  private failure: Error | undefined;

  constructor(conn: ChannelModel, pub: ConfirmChannel, name: string, size: number) {
    this.conn = conn;
    this.pub = pub;
    this.name = name;
    this.size = size;
    conn.on('close', (e?: Error) => {
      this.failure ??= e ?? new Error('connection to RabbitMQ closed');
    });
    pub.on('error', (e: Error) => {
      this.failure ??= e;
    });
  }

  async enqueue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    const { inflight: maxInflight } = shape(this.size);
    const payload = benchPayload(this.size);
    let inflight = 0;
    let nacked = 0;
    let wake: (() => void) | undefined;
    const onConfirm = (err: unknown) => {
      inflight--;
      if (err) nacked++;
      else meter.add(1);
      const w = wake;
      wake = undefined;
      w?.();
    };
    for (let i = 0; i < n && !signal.aborted; i++) {
      if (this.failure) throw this.failure;
      if (nacked) throw new Error(`${nacked} publish(es) nacked by the broker`);
      inflight++;
      const ok = this.pub.sendToQueue(this.name, payload, { persistent: true }, onConfirm);
      if (!ok) await new Promise<void>((resolve) => this.pub.once('drain', resolve));
      while (inflight >= maxInflight && !this.failure) await new Promise<void>((resolve) => (wake = resolve));
    }
    await this.pub.waitForConfirms();
    if (nacked) throw new Error(`${nacked} publish(es) nacked by the broker`);
  }

  async dequeue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    if (n <= 0) return;
    const { prefetch, ackEvery } = shape(this.size);
    const sub = await this.conn.createChannel();
    sub.on('error', () => {});
    await sub.prefetch(prefetch);
    let got = 0;
    let unacked = 0;
    let done!: () => void;
    let fail!: (e: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => {
      done = resolve;
      fail = reject;
    });
    const onAbort = () => done();
    signal.addEventListener('abort', onAbort, { once: true });
    const { consumerTag } = await sub.consume(
      this.name,
      (msg) => {
        if (msg === null) return fail(new Error('consumer cancelled by the broker'));
        if (got >= n) return;
        got++;
        unacked++;
        if (msg.content.length === this.size) meter.add(1);
        if (unacked >= ackEvery || got >= n) {
          sub.ack(msg, true);
          unacked = 0;
        }
        if (got >= n) done();
      },
      { noAck: false },
    );
    try {
      await finished;
    } finally {
      signal.removeEventListener('abort', onAbort);
      await bestEffort(sub.cancel(consumerTag), 5000);
      await bestEffort(sub.close(), 5000);
    }
  }

  async close(): Promise<void> {
    await bestEffort(
      (async () => {
        const ch = await this.conn.createChannel();
        ch.on('error', () => {});
        await ch.deleteQueue(this.name);
        await ch.close();
      })(),
      15_000,
    );
    await bestEffort(this.conn.close(), 5000);
  }
}

/** The target as a PerfTest URI (credentials inside; only ever passed through the env). */
function perfTestUri(target: SmokeTarget): string {
  const o = amqpConnectOptions(target);
  const auth =
    o.username !== undefined
      ? `${encodeURIComponent(o.username)}:${encodeURIComponent(o.password ?? '')}@`
      : '';
  const host = (o.hostname ?? '127.0.0.1').includes(':') ? `[${o.hostname}]` : o.hostname;
  return `${o.protocol}://${auth}${host}:${o.port}/${encodeURIComponent(o.vhost ?? '/')}`;
}

async function nativeRun(target: SmokeTarget, ctx: BenchRunContext): Promise<NativeRun> {
  const n = ctx.messages;
  const { inflight, prefetch, ackEvery } = shape(ctx.messageBytes);
  const env = { MQOP_BENCH_AMQP_URI: perfTestUri(target) };
  const q = ctx.name;
  const queueFlags = ['-u', q, '-qq', '-ad', 'false', '-qa', `x-expires=${QUEUE_EXPIRES_MILLIS}`];
  const produce = [
    ...['-x', '1', '-y', '0', '-C', String(n), '-s', String(ctx.messageBytes), '-c', String(inflight)],
    ...['-f', 'persistent', ...queueFlags, '--id', `${q}-p`, '-z', String(ctx.maxSeconds)],
  ];
  const consume = (count: number) => [
    ...['-x', '0', '-y', '1', '-D', String(count), '-q', String(prefetch), '-A', String(ackEvery)],
    ...[...queueFlags, '-p', '--id', `${q}-c`, '-z', String(ctx.maxSeconds)],
  ];
  const commands = [`PerfTest ${produce.join(' ')}`];
  const guard = (ctx.maxSeconds + 60) * 1000; // JVM start and shutdown on top of -z
  try {
    const p = await runTool(ctx.repoRoot, 'rabbitmq-perftest.sh', ['run', ...produce], env, guard);
    const ps = parsePerfTest(p.stdout);
    const enqueue: NativePhaseResult = { requested: n, count: 0, rate: 0, partial: true };
    enqueue.how = 'PerfTest "sending rate avg" (confirms in flight, producer-only run)';
    if (ps.sendRate !== undefined && /message limit/i.test(ps.stopReason ?? '')) {
      Object.assign(enqueue, { count: n, rate: Math.round(ps.sendRate), partial: false });
    } else if (ps.sendRate !== undefined) {
      Object.assign(enqueue, {
        rate: Math.round(ps.sendRate),
        error: `stopped: ${ps.stopReason ?? 'no reason'}`,
      });
    } else {
      enqueue.error = `PerfTest producer: ${tail(p.stdout + p.stderr)}`;
    }
    // The consumer takes what the queue holds.
    const held = await queueDepth(target, q);
    if (held === 0) {
      // -D 0 would mean "no limit": nothing to consume, nothing to measure.
      const error = 'the producer run left nothing in the queue';
      return {
        tool: 'RabbitMQ PerfTest',
        commands,
        enqueue,
        dequeue: { requested: 0, count: 0, rate: 0, partial: true, error },
      };
    }
    commands.push(`PerfTest ${consume(held ?? n).join(' ')}`);
    const c = await runTool(ctx.repoRoot, 'rabbitmq-perftest.sh', ['run', ...consume(held ?? n)], env, guard);
    const cs = parsePerfTest(c.stdout);
    const dequeue: NativePhaseResult = { requested: held ?? n, count: 0, rate: 0, partial: true };
    dequeue.how = 'PerfTest "receiving rate avg" (consumer-only run on the filled queue)';
    if (cs.receiveRate !== undefined && /message limit/i.test(cs.stopReason ?? '')) {
      Object.assign(dequeue, { count: held ?? n, rate: Math.round(cs.receiveRate), partial: false });
    } else if (cs.receiveRate !== undefined) {
      Object.assign(dequeue, {
        rate: Math.round(cs.receiveRate),
        error: `stopped: ${cs.stopReason ?? 'no reason'}`,
      });
    } else {
      dequeue.error = `PerfTest consumer: ${tail(c.stdout + c.stderr)}`;
    }
    return { tool: 'RabbitMQ PerfTest', commands, enqueue, dequeue };
  } finally {
    await deleteQueue(target, q);
  }
}

async function queueDepth(target: SmokeTarget, name: string): Promise<number | undefined> {
  const conn = await bestEffort(open(target), 15_000);
  if (!conn) return undefined;
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    const ok = await ch.checkQueue(name);
    return ok.messageCount;
  } catch {
    return undefined;
  } finally {
    await bestEffort(conn.close(), 5000);
  }
}

async function deleteQueue(target: SmokeTarget, name: string): Promise<void> {
  const conn = await bestEffort(open(target), 15_000);
  if (!conn) return;
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    await bestEffort(ch.deleteQueue(name), 15_000);
  } catch {
    // best effort
  } finally {
    await bestEffort(conn.close(), 5000);
  }
}

export const rabbitmqBench: BenchEngine = {
  engine: 'rabbitmq',
  describeOurs({ messageBytes }) {
    const s = shape(messageBytes);
    return (
      `amqplib, one connection: durable quorum queue, persistent publishes on a confirm channel ` +
      `(${s.inflight} unconfirmed in flight); consume with prefetch ${s.prefetch}, multi-ack every ${s.ackEvery}`
    );
  },
  async open(target, ctx) {
    const conn = await open(target);
    try {
      const pub = await conn.createConfirmChannel();
      await pub.assertQueue(ctx.name, { durable: true, arguments: QUEUE_ARGS });
      return new RabbitQueue(conn, pub, ctx.name, ctx.messageBytes);
    } catch (e) {
      await bestEffort(conn.close(), 5000);
      throw e;
    }
  },
  async brokerVersion(target) {
    const conn = await open(target);
    try {
      const props = (conn.connection as unknown as { serverProperties?: Record<string, unknown> })
        .serverProperties;
      const v = props?.version;
      return v === undefined ? undefined : String(v);
    } finally {
      await bestEffort(conn.close(), 5000);
    }
  },
  native: {
    tool: 'RabbitMQ PerfTest',
    describe({ messageBytes }) {
      const s = shape(messageBytes);
      return (
        `PerfTest (Java) on its own quorum queue: producer-only -x 1 -y 0 -C N -s ${messageBytes} ` +
        `-c ${s.inflight} -f persistent, then consumer-only -x 0 -y 1 -D N -q ${s.prefetch} -A ${s.ackEvery}`
      );
    },
    async prepare(repoRoot, log) {
      const r = await runTool(repoRoot, 'rabbitmq-perftest.sh', ['fetch'], {}, 600_000);
      if (r.code !== 0) throw new Error(`PerfTest unavailable: ${tail(r.stderr)}`);
      log(r.stderr.trim());
    },
    run: nativeRun,
  },
};
