/**
 * ActiveMQ Classic in the benchmark, in two variants (two rows): durable (persistent messages,
 * accepted by the broker once KahaDB has them) and non-durable. Ours: rhea over AMQP 1.0 as the
 * smoke test uses it: senders with many unsettled deliveries in flight (within the broker's link
 * credit), then receivers with a credit window that accept what they get (rhea coalesces the
 * dispositions). Durable uses several connections at once (the broker stores one connection's
 * persistent sends one at a time, a journal sync each, but shares syncs between connections);
 * non-durable one. Native: ActiveMQ's own demo producer/consumer (`activemq producer` /
 * `activemq consumer`, `org.apache.activemq.console.Main` from the test bed's jars) over OpenWire,
 * the broker's own protocol: persistent messages in JMS transactions of TX_BATCH (the tool's
 * fastest durable mode; one sync send per message, its default, is kept for reference), or
 * non-persistent messages (sent async by the JMS client); the consumer in AUTO_ACKNOWLEDGE with
 * the default prefetch. Queues are removed afterwards over OpenWire, as the smoke test does.
 */
import { randomUUID } from 'node:crypto';
import type { Connection, EventContext } from 'rhea';
import rhea from 'rhea';
import {
  amqp10ConnectOptions,
  amqpError,
  attached,
  destroy,
  openwireAddress,
  openwireRemoveQueue,
} from '../../smoke-tests/src/activemq.ts';
import { bestEffort } from '../../smoke-tests/src/contract/deadline.ts';
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';
import { parseActivemqConsumer, parseActivemqProducer, runTool, tail } from './native.ts';
import type {
  BenchEngine,
  BenchQueue,
  BenchRunContext,
  NativePhaseResult,
  NativeRun,
  Progress,
} from './types.ts';
import { benchPayload } from './util.ts';

/** Unsettled deliveries in flight: bytes, and at most this many (the link credit bounds it too). */
const WINDOW_BYTES = 8 * 1024 * 1024;
const MAX_INFLIGHT = 1000;
/** Receiver credit window: bytes, and at most this many messages. */
const CREDIT_BYTES = 8 * 1024 * 1024;
const MAX_CREDIT = 1000;
/** Connections for the durable variant (see activemqConnections). */
const DURABLE_CONNECTIONS = 8;
/** The native producer's transaction size for persistent messages. */
const TX_BATCH = 100;
/** Messages of the native reference run with one sync send per persistent message. */
const REFERENCE_MESSAGES = 5_000;

/** The test bed's OpenWire port (scripts/brokers/activemq.sh), when the target does not say. */
function withOpenwire(target: SmokeTarget): SmokeTarget {
  if (target.extra?.['openwire.url']) return target;
  const host = new URL(target.url).hostname;
  const port = process.env.MQOP_ACTIVEMQ_OPENWIRE_PORT || '16161';
  return { ...target, extra: { ...target.extra, 'openwire.url': `tcp://${host}:${port}` } };
}

/** In flight per sender and credit per receiver, with the byte windows shared by `links`. */
function shape(size: number, links = 1) {
  const s = Math.max(1, size) * Math.max(1, links);
  const inflight = Math.max(1, Math.min(MAX_INFLIGHT, Math.floor(WINDOW_BYTES / s)));
  const credit = Math.max(1, Math.min(MAX_CREDIT, Math.floor(CREDIT_BYTES / s)));
  return { inflight, credit };
}

/**
 * Connections (one sender / one receiver each). Durable: several, because the broker stores one
 * connection's persistent sends one after the other (a journal sync each), while sends of several
 * connections share syncs. Non-durable: one is fastest.
 */
export function activemqConnections(variant: string | undefined): number {
  return variant === 'nondurable' ? 1 : DURABLE_CONNECTIONS;
}

/** Opens an AMQP connection; resolves once the broker's Open arrived. */
function openConnection(target: SmokeTarget, onLost: (e: Error) => void): Promise<Connection> {
  const container = rhea.create_container({ id: `mqop-bench-${randomUUID()}` });
  return new Promise<Connection>((resolve, reject) => {
    let opened = false;
    const conn = container.connect({
      ...amqp10ConnectOptions(target),
      container_id: `mqop-bench-${randomUUID()}`,
    });
    const timer = setTimeout(() => fail(new Error('no AMQP open from ActiveMQ within 10 s')), 10_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      if (opened) return onLost(e);
      opened = true;
      destroy(conn);
      reject(e);
    };
    conn.on('connection_open', () => {
      clearTimeout(timer);
      opened = true;
      resolve(conn);
    });
    conn.on('connection_error', (c: EventContext) =>
      fail(amqpError(c.error ?? conn.error, 'ActiveMQ closed the connection')),
    );
    conn.on('connection_close', () => fail(new Error('connection to ActiveMQ closed by the broker')));
    conn.on('disconnected', (c: EventContext) =>
      fail(c.error instanceof Error ? c.error : new Error('connection to ActiveMQ lost')),
    );
    conn.on('protocol_error', (c: EventContext) => fail(amqpError(c.error, 'AMQP protocol error')));
    conn.on('error', (e: unknown) => fail(amqpError(e, 'AMQP error')));
  });
}

class ActivemqQueue implements BenchQueue {
  private readonly conns: Connection[];
  private readonly target: SmokeTarget;
  private readonly name: string;
  private readonly size: number;
  private readonly durable: boolean;
  failure: Error | undefined;
  private wakeAll: Array<() => void> = [];

  constructor(conns: Connection[], target: SmokeTarget, ctx: BenchRunContext) {
    this.conns = conns;
    this.target = target;
    this.name = ctx.name;
    this.size = ctx.messageBytes;
    this.durable = ctx.variant !== 'nondurable';
  }

  lost(e: Error): void {
    this.failure ??= e;
    for (const w of this.wakeAll.splice(0)) w();
  }

  /** n messages split over the connections, one sender each, all at once. */
  async enqueue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    const parts = splitEven(n, this.conns.length);
    await Promise.all(this.conns.map((c, i) => this.sendOn(c, parts[i] ?? 0, meter, signal)));
  }

  private async sendOn(conn: Connection, n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    if (n <= 0) return;
    const { inflight: maxInflight } = shape(this.size, this.conns.length);
    const sender = conn.open_sender({ target: { address: this.name }, autosettle: true });
    let inflight = 0;
    let refused = 0;
    let wake: (() => void) | undefined;
    const wakeUp = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const settled = (ok: boolean) => {
      inflight--;
      if (ok) meter.add(1);
      else refused++;
      wakeUp();
    };
    sender.on('accepted', () => settled(true));
    for (const ev of ['rejected', 'released', 'modified'] as const) sender.on(ev, () => settled(false));
    sender.on('sendable', wakeUp);
    sender.on('sender_error', () => this.lost(amqpError(sender.error, `sender on ${this.name}`)));
    const onAbort = () => wakeUp();
    signal.addEventListener('abort', onAbort);
    this.wakeAll.push(wakeUp);
    try {
      await attached(sender, `sender on ${this.name}`);
      const body = rhea.message.data_section(benchPayload(this.size));
      const msg = { durable: this.durable, body };
      for (let i = 0; i < n && !signal.aborted; i++) {
        while ((inflight >= maxInflight || !sender.sendable()) && !this.failure && !signal.aborted) {
          await new Promise<void>((resolve) => (wake = resolve));
        }
        if (this.failure) throw this.failure;
        if (refused) throw new Error(`${refused} message(s) refused by ActiveMQ`);
        if (signal.aborted) break;
        inflight++;
        sender.send(msg);
      }
      while (inflight > 0 && !this.failure && !signal.aborted) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (this.failure) throw this.failure;
      if (refused) throw new Error(`${refused} message(s) refused by ActiveMQ`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      sender.close();
    }
  }

  /** One receiver per connection, all on the queue; done when they got n between them. */
  async dequeue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    if (n <= 0) return;
    const { credit } = shape(this.size, this.conns.length);
    let got = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const receivers = this.conns.map((conn) => {
      const receiver = conn.open_receiver({
        source: { address: this.name },
        credit_window: credit,
        autoaccept: true,
      });
      receiver.on('message', () => {
        if (got >= n) return;
        got++;
        meter.add(1);
        if (got >= n) done();
      });
      receiver.on('receiver_error', () => this.lost(amqpError(receiver.error, `receiver on ${this.name}`)));
      return receiver;
    });
    const onAbort = () => done();
    signal.addEventListener('abort', onAbort, { once: true });
    this.wakeAll.push(done);
    try {
      await Promise.all(receivers.map((r) => attached(r, `receiver on ${this.name}`)));
      await finished;
      if (this.failure) throw this.failure;
    } finally {
      signal.removeEventListener('abort', onAbort);
      for (const r of receivers) r.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.conns.map(async (conn) => {
        if (conn.is_open()) {
          await bestEffort(
            new Promise<void>((resolve) => {
              conn.once('connection_close', () => resolve());
              conn.once('disconnected', () => resolve());
              conn.close();
            }),
            3000,
          );
        }
        destroy(conn);
      }),
    );
    await removeQueue(this.target, this.name);
  }
}

/** n split into k parts that differ by at most one (the first ones larger). */
export function splitEven(n: number, k: number): number[] {
  const parts = Math.max(1, k);
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

/**
 * How many of `sent` messages ActiveMQ's demo producer commits with `--transactionBatchSize tx`:
 * it commits after the message whose 0-based index is a positive multiple of tx, and the rest
 * is rolled back when it closes (so the first transaction holds tx + 1 messages).
 */
export function activemqCommitted(sent: number, tx: number): number {
  if (tx <= 0 || sent <= 0) return Math.max(0, sent);
  return Math.floor((sent - 1) / tx) * tx + (sent > tx ? 1 : 0);
}

/** Messages to ask the demo producer for so that at least n are committed (see above). */
export function activemqProducerCount(n: number, tx: number): number {
  if (tx <= 0) return n;
  let m = n;
  while (activemqCommitted(m, tx) < n) m++;
  return m;
}

/** Removes a queue over OpenWire (a few tries: the consumer's removal may still be under way). */
async function removeQueue(target: SmokeTarget, name: string): Promise<void> {
  let addr: { host: string; port: number; tls: boolean };
  try {
    addr = openwireAddress(target);
  } catch {
    return;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await openwireRemoveQueue(addr, target, name, 5000);
      return;
    } catch (e) {
      if (!/active (subscription|consumer)/i.test(String((e as Error).message))) return;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** The tool's env: broker URL and credentials (the script passes them through a private file). */
function toolEnv(target: SmokeTarget): Record<string, string> {
  const ow = openwireAddress(target);
  const o = amqp10ConnectOptions(target);
  const env: Record<string, string> = {
    MQOP_BENCH_ACTIVEMQ_URL: `${ow.tls ? 'ssl' : 'tcp'}://${ow.host.includes(':') ? `[${ow.host}]` : ow.host}:${ow.port}`,
  };
  if (o.username) {
    env.MQOP_BENCH_ACTIVEMQ_USERNAME = o.username;
    env.MQOP_BENCH_ACTIVEMQ_PASSWORD = o.password ?? '';
  }
  return env;
}

async function nativeRun(target0: SmokeTarget, ctx: BenchRunContext): Promise<NativeRun> {
  const target = withOpenwire(target0);
  const n = ctx.messages;
  const durable = ctx.variant !== 'nondurable';
  const env = toolEnv(target);
  const dest = `queue://${ctx.name}`;
  const guard = (ctx.maxSeconds + 30) * 1000;
  const common = (count: number) => ['--destination', dest, '--messageCount', String(count)];
  const produce = (tx: number, count: number) => [
    ...common(count),
    ...['--messageSize', String(ctx.messageBytes), '--persistent', String(durable)],
    ...(tx > 0 ? ['--transactionBatchSize', String(tx)] : []),
  ];
  const commands: string[] = [];
  const producer = async (args: string[], count: number, label: string): Promise<NativePhaseResult> => {
    commands.push(`activemq producer --brokerUrl <openwire> --user <user> --password *** ${args.join(' ')}`);
    const r = await runTool(ctx.repoRoot, 'activemq-perf.sh', ['producer', ...args], env, guard);
    const p = parseActivemqProducer(r.stdout);
    const out: NativePhaseResult = { requested: count, count: 0, rate: 0, partial: true, how: label };
    if (p) Object.assign(out, { count: p.messages, rate: Math.round(p.rate), partial: p.messages < count });
    else
      out.error = r.timedOut ? `stopped after ${ctx.maxSeconds}s` : `producer: ${tail(r.stdout + r.stderr)}`;
    return out;
  };
  const consumer = async (count: number): Promise<NativePhaseResult> => {
    const args = common(count);
    commands.push(`activemq consumer --brokerUrl <openwire> --user <user> --password *** ${args.join(' ')}`);
    const r = await runTool(ctx.repoRoot, 'activemq-perf.sh', ['consumer', ...args], env, guard);
    const c = parseActivemqConsumer(r.stdout);
    const how = 'Consumed: N over the time from "wait until N messages are consumed" to it (tool log, ms)';
    const out: NativePhaseResult = { requested: count, count: 0, rate: 0, partial: true, how };
    if (c) Object.assign(out, { count: c.messages, rate: Math.round(c.rate), partial: c.messages < count });
    else
      out.error = r.timedOut ? `stopped after ${ctx.maxSeconds}s` : `consumer: ${tail(r.stdout + r.stderr)}`;
    return out;
  };
  try {
    if (durable) {
      // Reference first (fewer messages: it is slow): one sync send per persistent message, the
      // tool's default; then drained.
      const m = Math.min(n, REFERENCE_MESSAGES);
      const plain = await producer(produce(0, m), m, 'producer, one sync send per persistent message');
      const drainPlain = plain.count > 0 ? await consumer(plain.count) : undefined;
      await removeQueue(target, ctx.name);
      // The tool leaves its last, partial transaction uncommitted: ask for enough messages that
      // n or a few more are committed, and count (and consume) only those.
      const sent = activemqProducerCount(n, TX_BATCH);
      const enqueue = await producer(
        produce(TX_BATCH, sent),
        sent,
        `producer: "Produced: N" / "Elapsed time in milli second" (transactions of ${TX_BATCH}; ` +
          `${sent.toLocaleString('en-US')} sent, ${activemqCommitted(sent, TX_BATCH).toLocaleString('en-US')} committed, counted)`,
      );
      if (enqueue.count > 0) {
        const committed = activemqCommitted(enqueue.count, TX_BATCH);
        enqueue.rate = Math.round((enqueue.rate * committed) / enqueue.count);
        enqueue.count = committed;
        enqueue.requested = activemqCommitted(sent, TX_BATCH);
      }
      const dequeue = await consumer(enqueue.count || n);
      const reference: Record<string, NativePhaseResult> = { 'producer, sync sends': plain };
      if (drainPlain) reference['consumer (after the sync sends)'] = drainPlain;
      return { tool: 'ActiveMQ producer/consumer (activemq-console)', commands, enqueue, dequeue, reference };
    }
    const enqueue = await producer(
      produce(0, n),
      n,
      'producer: "Produced: N" / "Elapsed time in milli second" (non-persistent, async sends)',
    );
    const dequeue = await consumer(enqueue.count || n);
    return { tool: 'ActiveMQ producer/consumer (activemq-console)', commands, enqueue, dequeue };
  } finally {
    await removeQueue(target, ctx.name);
  }
}

export const activemqBench: BenchEngine = {
  engine: 'activemq',
  notes: [
    'Durable, ours vs native: the broker accepts an unsettled durable AMQP message once it is in ' +
      'the journal, and syncs are shared only by what arrives together; 8 connections gave ' +
      'about 1.5-2× one connection and 32 were no faster, while the native producer commits ' +
      'transactions of 100 (one sync per 100 messages). AMQP 1.0 transactions, which our client ' +
      'does not use, would be the like-for-like comparison.',
  ],
  variants: [
    { id: 'durable', label: 'durable' },
    { id: 'nondurable', label: 'non-durable' },
  ],
  maxMessages: {
    messages: 100_000,
    why:
      'ActiveMQ Classic stores persistent messages at about 2,000-16,000 msg/s on this shared 2-core ' +
      'box (ours ~2,000-3,000 over AMQP; its own producer 10,000-16,000 in transactions of 100, ' +
      'plus a reference run of sync sends at ~700), so 1,000,000 per size (durable, ours and native) would take well over ' +
      'an hour; 100,000 keeps ActiveMQ (both variants) near 15 minutes',
  },
  describeOurs({ messageBytes, variant }) {
    const k = activemqConnections(variant);
    const s = shape(messageBytes, k);
    return (
      `rhea (AMQP 1.0), ${k} connection${k > 1 ? 's' : ''} with a sender each: ` +
      `${variant === 'nondurable' ? 'non-durable' : 'durable'} messages, up to ${s.inflight} unsettled in ` +
      `flight per sender (settled when the broker accepts them); then a receiver per connection with credit ` +
      `${s.credit}, auto-accept`
    );
  },
  async open(target0, ctx) {
    const target = withOpenwire(target0);
    let q: ActivemqQueue | undefined;
    const k = activemqConnections(ctx.variant);
    const opened = await Promise.allSettled(
      Array.from({ length: k }, () => openConnection(target, (e) => q?.lost(e))),
    );
    const conns = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const bad = opened.find((r) => r.status === 'rejected');
    if (bad) {
      for (const c of conns) destroy(c);
      throw bad.reason;
    }
    q = new ActivemqQueue(conns, target, ctx);
    return q;
  },
  async brokerVersion(target) {
    const conn = await openConnection(target, () => {});
    try {
      const props = (conn as unknown as { remote?: { open?: { properties?: Record<string, unknown> } } })
        .remote?.open?.properties;
      const v = props?.version ?? props?.['product-version'];
      return v === undefined ? undefined : String(v);
    } finally {
      conn.close();
      destroy(conn);
    }
  },
  native: {
    tool: 'ActiveMQ producer/consumer (activemq-console)',
    describe({ variant }) {
      return variant === 'nondurable'
        ? 'activemq producer --persistent false (OpenWire, async sends), then activemq consumer (AUTO_ACKNOWLEDGE, prefetch 1000)'
        : `activemq producer --persistent true --transactionBatchSize ${TX_BATCH} (OpenWire; one sync send per message for reference), then activemq consumer (AUTO_ACKNOWLEDGE, prefetch 1000)`;
    },
    async prepare(repoRoot, log) {
      const r = await runTool(repoRoot, 'activemq-perf.sh', ['fetch'], {}, 600_000);
      if (r.code !== 0) throw new Error(`activemq-console unavailable: ${tail(r.stderr)}`);
      log(r.stderr.trim());
    },
    run: nativeRun,
  },
};
