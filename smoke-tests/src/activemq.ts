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
 * (`ActiveMQConnection.destroyDestination`): a DestinationInfo(remove) over OpenWire, spoken here
 * in the few commands it takes. The OpenWire address is the target's `openwire.url` extra (the
 * connection Secret has it) or the AMQP host on 61616. Cleanup is best effort and bounded: a
 * broker that went away keeps the queue (and its leftovers; names are per run, so no later run
 * reads them).
 */

import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
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
// OpenWire, just enough to remove a queue: ActiveMQ's own protocol is the one way a client can
// delete a destination (what ActiveMQConnection.destroyDestination does). Loose encoding, no
// marshalling cache, size-prefixed frames, OpenWire version 12 (ActiveMQ 5.13+ and 6.x).

const OW_VERSION = 12;
const T_WIREFORMAT_INFO = 1;
const T_CONNECTION_INFO = 3;
const T_DESTINATION_INFO = 8;
const T_SHUTDOWN_INFO = 11;
const T_REMOVE_INFO = 12;
const T_RESPONSE = 30;
const T_EXCEPTION_RESPONSE = 31;
const T_ACTIVEMQ_QUEUE = 100;
const T_CONNECTION_ID = 120;
/** Largest frame accepted from the broker (BrokerInfo and friends are small). */
const OW_MAX_FRAME = 1024 * 1024;

/** Where the broker's OpenWire connector is: `extra['openwire.url']`, else the AMQP host on 61616. */
export function openwireAddress(target: SmokeTarget): { host: string; port: number; tls: boolean } {
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

/** Java's DataOutput.writeUTF: modified UTF-8 with a 2-byte length. */
function javaUtf(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x01 && c <= 0x7f) bytes.push(c);
    else if (c <= 0x7ff) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  if (bytes.length > 0xffff) throw new SmokeError('protocol', 'string too long for OpenWire');
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  Buffer.from(bytes).copy(out, 2);
  return out;
}

/** Builds one loosely encoded command body. */
class OwWriter {
  private parts: Buffer[] = [];
  byte(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }
  bool(v: boolean): this {
    return this.byte(v ? 1 : 0);
  }
  int(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v, 0);
    this.parts.push(b);
    return this;
  }
  long(v: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(v, 0);
    this.parts.push(b);
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  /** looseMarshalString: presence flag, then writeUTF. */
  str(v: string | undefined): this {
    this.bool(v !== undefined);
    if (v !== undefined) this.raw(javaUtf(v));
    return this;
  }
  /** looseMarshalNestedObject (and cached objects with the cache off): flag, type, fields. */
  nested(type: number, fields: (w: OwWriter) => void): this {
    this.bool(true).byte(type);
    fields(this);
    return this;
  }
  /** The bytes written so far. */
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
  /** A frame of a plain data structure: size, type, fields. */
  structFrame(type: number): Buffer {
    const body = this.bytes();
    const head = Buffer.allocUnsafe(5);
    head.writeInt32BE(1 + body.length, 0);
    head.writeUInt8(type, 4);
    return Buffer.concat([head, body]);
  }
  /** A command frame: size, type, commandId, responseRequired, fields. */
  frame(type: number, commandId: number, responseRequired: boolean): Buffer {
    const body = this.bytes();
    const head = Buffer.allocUnsafe(4 + 1 + 4 + 1);
    head.writeInt32BE(1 + 4 + 1 + body.length, 0);
    head.writeUInt8(type, 4);
    head.writeInt32BE(commandId, 5);
    head.writeUInt8(responseRequired ? 1 : 0, 9);
    return Buffer.concat([head, body]);
  }
}

/** The client's WireFormatInfo: loose encoding, no cache, no stack traces, no inactivity checks. */
function wireFormatInfo(): Buffer {
  const props: [string, number, (w: OwWriter) => void][] = [
    ['TightEncodingEnabled', 1, (w) => w.bool(false)],
    ['CacheEnabled', 1, (w) => w.bool(false)],
    ['SizePrefixDisabled', 1, (w) => w.bool(false)],
    ['StackTraceEnabled', 1, (w) => w.bool(false)],
    ['TcpNoDelayEnabled', 1, (w) => w.bool(true)],
    ['MaxInactivityDuration', 6, (w) => w.long(0n)],
    ['MaxInactivityDurationInitalDelay', 6, (w) => w.long(10_000n)],
    ['MaxFrameSize', 6, (w) => w.long(BigInt(OW_MAX_FRAME))],
    ['ProviderName', 9, (w) => w.raw(javaUtf('mqop-smoke'))],
  ];
  const map = new OwWriter().int(props.length);
  for (const [k, type, put] of props) {
    map.raw(javaUtf(k)).byte(type);
    put(map);
  }
  const marshalled = map.bytes();
  // Not a command: no commandId/responseRequired, just magic, version and the properties.
  return new OwWriter()
    .raw(Buffer.from('ActiveMQ', 'latin1'))
    .int(OW_VERSION)
    .bool(true)
    .int(marshalled.length)
    .raw(marshalled)
    .structFrame(T_WIREFORMAT_INFO);
}

/** Reads a loose string at `o`; returns it and the next offset. */
function readStr(b: Buffer, o: number): [string | undefined, number] {
  if (b[o] === 0) return [undefined, o + 1];
  const len = b.readUInt16BE(o + 1);
  return [b.toString('utf8', o + 3, o + 3 + len), o + 3 + len];
}

/**
 * Removes a queue through the broker's OpenWire connector with the target's credentials:
 * ConnectionInfo, DestinationInfo(remove), RemoveInfo, ShutdownInfo. Rejects with the broker's
 * exception (class and message) or a socket error.
 */
export function openwireRemoveQueue(
  addr: { host: string; port: number; tls: boolean },
  target: SmokeTarget,
  queue: string,
  timeoutMillis: number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const opts = { host: addr.host, port: addr.port, servername: addr.host };
    const sock: Socket = addr.tls ? tlsConnect(opts) : netConnect(opts);
    sock.setNoDelay(true);
    const id = `ID:mqop-smoke-${randomUUID()}`;
    const creds = amqp10ConnectOptions(target);
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!err && !sock.destroyed) {
        sock.end(new OwWriter().frame(T_SHUTDOWN_INFO, 5, false));
        setTimeout(() => sock.destroy(), 500).unref();
      } else sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new SmokeError('timeout', `no OpenWire answer within ${timeoutMillis} ms`)),
      timeoutMillis,
    );
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new SmokeError('unreachable', 'OpenWire connection closed')));
    sock.write(wireFormatInfo());

    let buf: Buffer = Buffer.alloc(0);
    let step = 0;
    const onCommand = (type: number, body: Buffer) => {
      if (type === T_WIREFORMAT_INFO && step === 0) {
        const version = body.readInt32BE(8); // after the magic
        if (version < OW_VERSION) {
          finish(new SmokeError('protocol', `OpenWire version ${version} is older than ${OW_VERSION}`));
          return;
        }
        step = 1;
        sock.write(
          new OwWriter()
            .nested(T_CONNECTION_ID, (x) => x.str(id))
            .str(id) // clientId
            .str(creds.password)
            .str(creds.username)
            .bool(false) // brokerPath
            .bool(false) // brokerMasterConnector
            .bool(false) // manageable
            .bool(false) // clientMaster
            .bool(false) // faultTolerant
            .bool(false) // failoverReconnect
            .str(undefined) // clientIp
            .frame(T_CONNECTION_INFO, 1, true),
        );
        return;
      }
      if (type === T_EXCEPTION_RESPONSE) {
        // commandId, responseRequired, correlationId, then the throwable: flag, class, message.
        let o = 4 + 1 + 4;
        let cls: string | undefined;
        let msg: string | undefined;
        if (body[o++] === 1) {
          [cls, o] = readStr(body, o);
          [msg] = readStr(body, o);
        }
        finish(new Error(`ActiveMQ refused (OpenWire): ${cls ?? 'error'}: ${msg ?? ''}`.trim()));
        return;
      }
      if (type !== T_RESPONSE) return; // BrokerInfo, ConnectionControl, KeepAliveInfo…
      const correlationId = body.readInt32BE(4 + 1);
      if (correlationId === 1 && step === 1) {
        step = 2;
        sock.write(
          new OwWriter()
            .nested(T_CONNECTION_ID, (x) => x.str(id))
            .nested(T_ACTIVEMQ_QUEUE, (x) => x.str(queue))
            .byte(1) // REMOVE_OPERATION_TYPE
            .long(0n) // timeout
            .bool(false) // brokerPath
            .frame(T_DESTINATION_INFO, 2, true),
        );
      } else if (correlationId === 2 && step === 2) {
        step = 3;
        sock.write(
          new OwWriter()
            .nested(T_CONNECTION_ID, (x) => x.str(id))
            .long(0n) // lastDeliveredSequenceId
            .frame(T_REMOVE_INFO, 3, true),
        );
      } else if (correlationId === 3 && step === 3) {
        finish();
      }
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4) {
        const size = buf.readInt32BE(0);
        if (size < 1 || size > OW_MAX_FRAME) {
          finish(new SmokeError('protocol', `OpenWire frame of ${size} bytes`));
          return;
        }
        if (buf.length < 4 + size) break;
        const type = buf[4] as number;
        const body = buf.subarray(5, 4 + size);
        buf = buf.subarray(4 + size);
        try {
          onCommand(type, body);
        } catch (e) {
          finish(new SmokeError('protocol', `bad OpenWire frame: ${(e as Error).message}`));
          return;
        }
        if (done) return;
      }
    });
  });
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
