/**
 * RabbitMQ smoke test (amqplib, AMQP 0-9-1): the run's own durable quorum queue
 * `mqop-smoke-<id>`, published to with publisher confirms (many in flight, bounded by bytes),
 * consumed on a second channel with manual, cumulative acks and a prefetch, then deleted. The
 * publisher never gets more than 32 MiB ahead of the consumer.
 *
 * Target: `amqp://[user:pass@]host[:port][/vhost]` or `amqps://…`; username/password of the
 * target win over the URL's. The queue also carries `x-expires`, so that a run whose cleanup
 * could not reach the broker still leaves nothing behind for long.
 */
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { connect } from 'amqplib';
import { bestEffort } from './contract/deadline.ts';
import { SmokeError } from './contract/errors.ts';
import { nowMillis } from './contract/payload.ts';
import { type RunContext, runSmoke } from './contract/runner.ts';
import type { SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';

/** Unconfirmed publishes in flight, in bytes (and at most MAX_INFLIGHT messages). */
const WINDOW_BYTES = 8 * 1024 * 1024;
const MAX_INFLIGHT = 500;
/** Consumer prefetch, in bytes (and at most MAX_PREFETCH messages). */
const PREFETCH_BYTES = 4 * 1024 * 1024;
const MAX_PREFETCH = 1000;
/** At most this many bytes confirmed but not yet consumed sit in the queue. */
const MAX_BACKLOG_BYTES = 32 * 1024 * 1024;
/** A queue left behind by a run that could not clean up expires after this long unused. */
const QUEUE_EXPIRES_MILLIS = 15 * 60 * 1000;

/** amqplib connect options for a target. */
export function amqpConnectOptions(target: SmokeTarget): Options.Connect {
  let u: URL;
  try {
    u = new URL(target.url);
  } catch {
    throw new SmokeError('protocol', 'RabbitMQ URL must look like amqp://host:port[/vhost]');
  }
  const protocol = u.protocol.replace(/:$/, '').toLowerCase();
  if (protocol !== 'amqp' && protocol !== 'amqps') {
    throw new SmokeError('protocol', `RabbitMQ URL scheme must be amqp or amqps, not ${protocol}`);
  }
  if (!u.hostname) throw new SmokeError('protocol', 'RabbitMQ URL has no host');
  const path = u.pathname.replace(/^\//, '');
  const out: Options.Connect = {
    protocol,
    hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : protocol === 'amqps' ? 5671 : 5672,
    vhost: path ? decodeURIComponent(path) : (target.extra?.vhost ?? '/'),
    heartbeat: 10,
    locale: 'en_US',
  };
  const username = target.username || decodeURIComponent(u.username);
  const password = target.password ?? decodeURIComponent(u.password);
  if (username) out.username = username;
  if (password) out.password = password;
  return out;
}

function isAmqpAuth(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /ACCESS[-_]REFUSED|403/.test(m);
}

/** The broker closing the connection for shutdown, or the socket dropping, means it went away. */
function isAmqpGone(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /CONNECTION[-_]FORCED|Socket closed abruptly|Unexpected close/i.test(m);
}

interface State {
  conn?: ChannelModel;
  /** Set once cleanup began: a connection that opens after that is closed at once. */
  closing: boolean;
  /** The run's connection closed (broker gone or connection error). */
  dead: boolean;
}

async function open(target: SmokeTarget, timeoutMillis: number, state: State): Promise<ChannelModel> {
  const conn = await connect(amqpConnectOptions(target), {
    timeout: Math.max(1, Math.round(timeoutMillis)),
    noDelay: true,
    clientProperties: { connection_name: 'mqop-smoke' },
  });
  conn.on('error', () => {});
  if (state.closing) {
    await bestEffort(conn.close(), 1000);
    throw new SmokeError('timeout', 'connected after the deadline');
  }
  return conn;
}

async function body(target: SmokeTarget, ctx: RunContext, state: State): Promise<void> {
  const { deadline, counter, name, options } = ctx;
  const conn = await open(target, Math.min(10_000, deadline.remaining()), state);
  state.conn = conn;

  let fail: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  conn.on('close', (err?: Error) => {
    state.dead = true;
    fail(err ?? new SmokeError('unreachable', 'connection to RabbitMQ closed'));
  });

  const pub: ConfirmChannel = await conn.createConfirmChannel();
  pub.on('error', (e: Error) => fail(e));
  await pub.assertQueue(name, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-expires': QUEUE_EXPIRES_MILLIS },
  });

  const size = Math.max(1, options.messageBytes);
  const sub = await conn.createChannel();
  sub.on('error', (e: Error) => fail(e));
  const prefetch = Math.max(1, Math.min(MAX_PREFETCH, Math.floor(PREFETCH_BYTES / size)));
  await sub.prefetch(prefetch);
  const ackEvery = Math.max(1, Math.floor(prefetch / 4));

  let consumed!: () => void;
  const allConsumed = new Promise<void>((resolve) => {
    consumed = resolve;
  });
  let unacked = 0;
  await sub.consume(
    name,
    (msg: ConsumeMessage | null) => {
      if (msg === null) {
        fail(new SmokeError('protocol', `consumer of ${name} cancelled by the broker`));
        return;
      }
      counter.receive(msg.content, nowMillis());
      unacked++;
      if (unacked >= ackEvery || counter.complete) {
        sub.ack(msg, true);
        unacked = 0;
      }
      if (counter.complete) consumed();
    },
    { noAck: false, exclusive: true },
  );

  const maxInflight = Math.max(1, Math.min(MAX_INFLIGHT, Math.floor(WINDOW_BYTES / size)));
  const maxBacklog = Math.max(maxInflight, Math.floor(MAX_BACKLOG_BYTES / size));
  let inflight = 0;
  let wake: (() => void) | undefined;
  let nacked = 0;
  const onConfirm = (err: unknown) => {
    inflight--;
    if (err) nacked++;
    else counter.produced();
    const w = wake;
    wake = undefined;
    w?.();
  };
  const produce = async () => {
    for (let seq = 0; seq < options.messages; seq++) {
      deadline.check();
      if (nacked) throw new SmokeError('protocol', `${nacked} publish(es) nacked by the broker`);
      const payload = counter.encode(seq, options.messageBytes);
      inflight++;
      const ok = pub.sendToQueue(name, payload, { persistent: true }, onConfirm);
      if (!ok) await new Promise<void>((resolve) => pub.once('drain', resolve));
      while (inflight >= maxInflight) await new Promise<void>((resolve) => (wake = resolve));
      await counter.throttle(maxBacklog, deadline.signal);
    }
    await pub.waitForConfirms();
    if (nacked) throw new SmokeError('protocol', `${nacked} publish(es) nacked by the broker`);
  };

  await Promise.race([Promise.all([produce(), allConsumed]), failed]);
}

async function cleanup(target: SmokeTarget, ctx: RunContext, state: State): Promise<void> {
  state.closing = true;
  let conn = state.conn;
  try {
    if (!conn) return; // never connected: nothing was created
    if (state.dead) {
      // The connection died mid-run; try once more, briefly.
      conn = await bestEffort(
        open(target, 2000, state).catch(() => undefined),
        2500,
      );
      if (!conn) return;
      state.conn = conn;
      state.dead = false;
    }
    const c = conn;
    await bestEffort(
      (async () => {
        const ch = await c.createChannel();
        ch.on('error', () => {});
        await ch.deleteQueue(ctx.name);
        await ch.close();
      })(),
      3000,
    );
  } finally {
    if (state.conn) await bestEffort(state.conn.close(), 2000);
  }
}

export const rabbitmqSmokeTest: SmokeTest = {
  engine: 'rabbitmq',
  run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
    const state: State = { closing: false, dead: false };
    return runSmoke(
      options,
      [target.password],
      { isAuth: isAmqpAuth, isUnreachable: isAmqpGone },
      (ctx) => body(target, ctx, state),
      (ctx) => cleanup(target, ctx, state),
    );
  },
};
