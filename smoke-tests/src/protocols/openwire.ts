/**
 * OpenWire, just enough to remove a queue: ActiveMQ's own protocol is the one way a client can
 * delete a destination (what ActiveMQConnection.destroyDestination does). Loose encoding, no
 * marshalling cache, size-prefixed frames, OpenWire version 12 (ActiveMQ 5.13+ and 6.x).
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { SmokeError } from '../contract/errors.ts';

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

/** Where an OpenWire connector listens. */
export interface OpenwireAddress {
  host: string;
  port: number;
  tls: boolean;
}

/**
 * Removes a queue through the broker's OpenWire connector with the given credentials:
 * ConnectionInfo, DestinationInfo(remove), RemoveInfo, ShutdownInfo. Rejects with the broker's
 * exception (class and message) or a socket error.
 */
export function removeQueue(
  addr: OpenwireAddress,
  creds: { username?: string; password?: string },
  queue: string,
  timeoutMillis: number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const opts = { host: addr.host, port: addr.port, servername: addr.host };
    const sock: Socket = addr.tls ? tlsConnect(opts) : netConnect(opts);
    sock.setNoDelay(true);
    const id = `ID:mqop-smoke-${randomUUID()}`;
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
