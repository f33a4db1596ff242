/**
 * ActiveMQ Classic smoke test (rhea, AMQP 1.0): the run's own queue `mqop-smoke-<id>` (ActiveMQ
 * creates it on first attach), filled by a sender with many unsettled, durable deliveries in
 * flight (within the broker's link credit, settled when the broker accepts them, i.e. once
 * KahaDB has them) and emptied by a receiver with a credit window and manual accepts, both on one
 * connection. The sender never gets more than 8 MiB ahead of the receiver.
 *
 * Target: `amqp://[user:pass@]host[:port]` or `amqps://…` (5672 / 5671); username/password of
 * the target win over the URL's. SASL PLAIN when a username is given, ANONYMOUS otherwise.
 * Reconnect is off: a refused login or a lost broker ends the run at once.
 *
 * Cleanup: ActiveMQ Classic cannot delete a queue over AMQP (no management node; only temporary
 * queues go when their connection closes, and those neither carry the run's name nor touch the
 * persistent store). Destination GC (`gcInactiveDestinations`) cannot single out the smoke
 * queues either: policy wildcards match whole `.`-separated name elements, so no pattern matches
 * `mqop-smoke-*` without matching every queue. So the run closes its AMQP connection and then
 * removes its queue (with whatever a failed run left in it) the way ActiveMQ's own client does
 * (`ActiveMQConnection.destroyDestination`): a DestinationInfo(remove) over OpenWire, spoken in
 * the few commands it takes by protocols/openwire.ts. The OpenWire address is the target's
 * `openwire.url` extra (the connection Secret has it) or the AMQP host on 61616. Cleanup is best effort and bounded: a
 * broker that went away keeps the queue (and its leftovers; names are per run, so no later run
 * reads them).
 */

import { randomUUID } from 'node:crypto';
import type {
  Connection,
  ConnectionOptions,
  Container,
  Delivery,
  EventContext,
  Receiver,
  Sender,
} from 'rhea';
import rhea from 'rhea';
import { bestEffort, sleep } from './contract/deadline.ts';
import { SmokeError } from './contract/errors.ts';
import { nowMillis } from './contract/payload.ts';
import { type RunContext, runSmoke } from './contract/runner.ts';
import { type OpenwireAddress, removeQueue } from './protocols/openwire.ts';
import type { SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';

/** Unsettled deliveries in flight, in bytes (and at most MAX_INFLIGHT; the link credit bounds it too). */
const WINDOW_BYTES = 8 * 1024 * 1024;
const MAX_INFLIGHT = 500;
/** Receiver credit window, in bytes (and at most MAX_CREDIT messages). */
const CREDIT_BYTES = 4 * 1024 * 1024;
const MAX_CREDIT = 1000;
/** At most this many bytes accepted but not yet consumed sit in the queue. */
const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

/** What {@link amqp10ConnectOptions} returns: rhea options for a TCP or TLS client connection. */
export type Amqp10Options = ConnectionOptions & {
  host: string;
  port: number;
  username?: string;
  password?: string;
};

/** rhea connection options for a target (no reconnect, no secrets outside the returned object). */
export function amqp10ConnectOptions(target: SmokeTarget): Amqp10Options {
  let u: URL;
  try {
    u = new URL(target.url);
  } catch {
    throw new SmokeError('protocol', 'ActiveMQ URL must look like amqp://host:port');
  }
  const protocol = u.protocol.replace(/:$/, '').toLowerCase();
  if (protocol !== 'amqp' && protocol !== 'amqps') {
    throw new SmokeError('protocol', `ActiveMQ URL scheme must be amqp or amqps, not ${protocol}`);
  }
  if (!u.hostname) throw new SmokeError('protocol', 'ActiveMQ URL has no host');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const base = {
    host,
    hostname: host,
    port: u.port ? Number(u.port) : protocol === 'amqps' ? 5671 : 5672,
    reconnect: false,
    // No local idle timeout: rhea 3 leaks one idle timer per read with it (keeping the process
    // alive for twice the timeout after the run); the run's deadline bounds a silent broker.
    // ActiveMQ maps the container id to the JMS client id, which must be unique per connection.
    container_id: `mqop-smoke-${randomUUID()}`,
  };
  const out: Amqp10Options = protocol === 'amqps' ? { ...base, transport: 'tls' } : base;
  const username = target.username || decodeURIComponent(u.username);
  const password = target.password ?? decodeURIComponent(u.password);
  if (username) {
    out.username = username;
    out.password = password ?? '';
  }
  return out;
}

function textOf(err: unknown): string {
  if (err instanceof Error) return `${err.message} ${(err as { condition?: string }).condition ?? ''}`;
  if (typeof err === 'object' && err !== null) {
    const e = err as { condition?: unknown; description?: unknown };
    return `${String(e.condition ?? '')} ${String(e.description ?? '')}`;
  }
  return String(err);
}

/** A refused SASL login or an `amqp:unauthorized-access` close. */
function isAuth(err: unknown): boolean {
  return /unauthorized-access|Failed to authenticate|SecurityException|User name \[|credentials/i.test(
    textOf(err),
  );
}

/** The broker closing for shutdown or the link being force-detached means it went away. */
function isGone(err: unknown): boolean {
  return /connection-forced|connection to ActiveMQ (lost|closed)/i.test(textOf(err));
}

/** An AMQP error object (condition + description) as an Error with a readable message. */
/** An Error for an AMQP error value (an Error, a rhea condition/description pair, anything). */
export function amqpError(e: unknown, what: string): Error {
  if (e instanceof Error) {
    const cond = (e as { condition?: string }).condition;
    return cond && !e.message.includes(cond) ? new Error(`${what}: ${e.message} (${cond})`, { cause: e }) : e;
  }
  if (typeof e === 'object' && e !== null) {
    const { condition, description } = e as { condition?: string; description?: string };
    return new Error(`${what}: ${[condition, description].filter(Boolean).join(': ') || 'error'}`);
  }
  return new Error(`${what}: ${String(e)}`);
}

/** The bytes of a received message body: data section, binary or string value. */
function bodyBytes(body: unknown): Buffer | string | undefined {
  if (Buffer.isBuffer(body) || typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'object' && body !== null && 'content' in body) {
    return bodyBytes((body as { content: unknown }).content);
  }
  return undefined;
}

interface State {
  container: Container;
  conn?: Connection;
  /** Set once cleanup began: received messages are accepted but no longer counted. */
  closing: boolean;
}

/**
 * Opens a connection and resolves once the broker's Open arrived; rejects with the first error
 * (refused login, socket error, close). `onLost` is called when it dies later.
 */
function open(
  state: State,
  target: SmokeTarget,
  timeoutMillis: number,
  onLost: (err: unknown) => void,
): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) => {
    let opened = false;
    const conn = state.container.connect(amqp10ConnectOptions(target));
    const timer = setTimeout(() => {
      fail(new SmokeError('timeout', `no AMQP open from ActiveMQ within ${Math.round(timeoutMillis)} ms`));
    }, timeoutMillis);
    const fail = (err: unknown) => {
      clearTimeout(timer);
      if (!opened) {
        opened = true; // settle once
        destroy(conn);
        reject(err);
      } else {
        onLost(err);
      }
    };
    conn.on('connection_open', () => {
      clearTimeout(timer);
      if (opened) return;
      opened = true;
      if (state.closing) {
        destroy(conn);
        reject(new SmokeError('timeout', 'connected after the deadline'));
        return;
      }
      resolve(conn);
    });
    conn.on('connection_error', (ctx: EventContext) => {
      fail(amqpError(ctx.error ?? conn.error, 'ActiveMQ closed the connection'));
    });
    conn.on('connection_close', () => {
      fail(new SmokeError('unreachable', 'connection to ActiveMQ closed by the broker'));
    });
    conn.on('disconnected', (ctx: EventContext) => {
      fail(ctx.error ?? new SmokeError('unreachable', 'connection to ActiveMQ lost'));
    });
    conn.on('protocol_error', (ctx: EventContext) => fail(ctx.error ?? new Error('AMQP protocol error')));
    conn.on('error', (err: unknown) => fail(err));
  });
}

/** Closes a connection politely, then drops the socket if the broker does not answer. */
async function closeConnection(conn: Connection, millis: number): Promise<void> {
  if (conn.is_open()) {
    await bestEffort(
      new Promise<void>((resolve) => {
        conn.once('connection_close', () => resolve());
        conn.once('disconnected', () => resolve());
        conn.close();
      }),
      millis,
    );
  }
  destroy(conn);
}

/** Drops a connection at once, with reconnects off. */
export function destroy(conn: Connection): void {
  const c = conn as unknown as { socket?: { destroy(): void }; options?: { reconnect?: unknown } };
  if (c.options) c.options.reconnect = false;
  c.socket?.destroy();
}

/** Resolves when a link is attached (the broker answered the attach); rejects on its error. */
export function attached(link: Sender | Receiver, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (link.is_open()) return resolve();
    link.once(link.is_sender() ? 'sender_open' : 'receiver_open', () => resolve());
    link.once(link.is_sender() ? 'sender_error' : 'receiver_error', (ctx: EventContext) =>
      reject(amqpError(link.error ?? ctx.error, what)),
    );
  });
}

async function body(target: SmokeTarget, ctx: RunContext, state: State): Promise<void> {
  const { deadline, counter, name, options } = ctx;

  let fail: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});

  const conn = await open(state, target, Math.min(10_000, deadline.remaining()), (err) => fail(err));
  state.conn = conn;

  const size = Math.max(1, options.messageBytes);
  const credit = Math.max(1, Math.min(MAX_CREDIT, Math.floor(CREDIT_BYTES / size)));

  let consumed!: () => void;
  const allConsumed = new Promise<void>((resolve) => {
    consumed = resolve;
  });
  const receiver = conn.open_receiver({
    source: { address: name },
    credit_window: credit,
    autoaccept: false,
  });
  receiver.on('message', (c: EventContext) => {
    c.delivery?.accept();
    if (state.closing) return;
    const data = bodyBytes(c.message?.body);
    if (data === undefined) {
      counter.foreign++;
      return;
    }
    counter.receive(data, nowMillis());
    if (counter.complete) consumed();
  });
  receiver.on('receiver_error', () => fail(amqpError(receiver.error, `receiver on ${name}`)));
  receiver.on('receiver_close', () => {
    if (!state.closing) fail(new SmokeError('protocol', `ActiveMQ detached the receiver on ${name}`));
  });

  const sender = conn.open_sender({ target: { address: name }, autosettle: true });
  sender.on('sender_error', () => fail(amqpError(sender.error, `sender on ${name}`)));
  sender.on('sender_close', () => {
    if (!state.closing) fail(new SmokeError('protocol', `ActiveMQ detached the sender on ${name}`));
  });
  await Promise.race([
    Promise.all([attached(receiver, `receiver on ${name}`), attached(sender, `sender on ${name}`)]),
    failed,
  ]);

  const maxInflight = Math.max(1, Math.min(MAX_INFLIGHT, Math.floor(WINDOW_BYTES / size)));
  const maxBacklog = Math.max(maxInflight, Math.floor(MAX_BACKLOG_BYTES / size));
  let inflight = 0;
  let refused = 0;
  let refusal = '';
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const settled = (ok: boolean, c?: EventContext) => {
    inflight--;
    if (ok) counter.produced();
    else {
      refused++;
      const d = c?.delivery as (Delivery & { remote_state?: { error?: unknown } }) | undefined;
      if (!refusal && d?.remote_state?.error) refusal = textOf(d.remote_state.error).trim();
    }
    wakeUp();
  };
  sender.on('accepted', (c: EventContext) => settled(true, c));
  sender.on('rejected', (c: EventContext) => settled(false, c));
  sender.on('released', (c: EventContext) => settled(false, c));
  sender.on('modified', (c: EventContext) => settled(false, c));
  sender.on('sendable', wakeUp);
  const checkRefused = () => {
    if (refused) {
      throw new SmokeError(
        'protocol',
        `${refused} message(s) refused by ActiveMQ${refusal ? `: ${refusal}` : ''}`,
      );
    }
  };

  const produce = async () => {
    for (let seq = 0; seq < options.messages; seq++) {
      deadline.check();
      checkRefused();
      while (inflight >= maxInflight || !sender.sendable()) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        deadline.check();
        checkRefused();
      }
      if (counter.backlog > maxBacklog) await counter.throttle(maxBacklog, deadline.signal);
      inflight++;
      sender.send({
        durable: true,
        body: rhea.message.data_section(counter.encode(seq, options.messageBytes)),
      });
    }
    while (inflight > 0) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      deadline.check();
    }
    checkRefused();
  };

  await Promise.race([Promise.all([produce(), allConsumed]), failed]);
}

async function cleanup(target: SmokeTarget, ctx: RunContext, state: State): Promise<void> {
  state.closing = true;
  // Consumers first: ActiveMQ refuses to remove a queue that still has one.
  if (state.conn) await closeConnection(state.conn, 2000);
  if (!state.conn) return; // never connected: nothing was created
  let ow: { host: string; port: number; tls: boolean };
  try {
    ow = openwireAddress(target);
  } catch {
    return;
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await openwireRemoveQueue(ow, target, ctx.name, 3000);
      return;
    } catch (err) {
      // The consumer's removal may still be on its way through the broker: try again shortly.
      if (!/active (subscription|consumer)/i.test(String((err as Error).message))) return;
      await sleep(200);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// OpenWire (protocols/openwire.ts): ActiveMQ's own protocol is the one way a client can delete a
// destination.

/** Where the broker's OpenWire connector is: `extra['openwire.url']`, else the AMQP host on 61616. */
export function openwireAddress(target: SmokeTarget): OpenwireAddress {
  const raw = target.extra?.['openwire.url'];
  if (raw) {
    // failover:(tcp://a:61616)?… and tcp://a:61616?… both name the first broker.
    const m = /(tcp|ssl|nio|nio\+ssl):\/\/(\[[^\]]+\]|[^:/?,)]+):(\d+)/i.exec(raw);
    if (!m) throw new SmokeError('protocol', 'openwire.url must look like tcp://host:port');
    return {
      host: (m[2] as string).replace(/^\[(.*)\]$/, '$1'),
      port: Number(m[3]),
      tls: /ssl/i.test(m[1] as string),
    };
  }
  const host = new URL(target.url).hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: 61616, tls: false };
}

/**
 * Removes a queue through the broker's OpenWire connector (see protocols/openwire.ts) with the
 * target's credentials (those of {@link amqp10ConnectOptions}).
 */
export function openwireRemoveQueue(
  addr: OpenwireAddress,
  target: SmokeTarget,
  queue: string,
  timeoutMillis: number,
): Promise<void> {
  return removeQueue(addr, amqp10ConnectOptions(target), queue, timeoutMillis);
}

export const activemqSmoke: SmokeTest = {
  engine: 'activemq',
  run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
    const state: State = {
      container: rhea.create_container({ id: `mqop-smoke-${process.pid}` }),
      closing: false,
    };
    // Unhandled link/connection errors reach the container: never let them throw.
    state.container.on('error', () => {});
    return runSmoke(
      options,
      [target.password],
      { isAuth, isUnreachable: isGone },
      (ctx) => body(target, ctx, state),
      (ctx) => cleanup(target, ctx, state),
    );
  },
};
