/**
 * ZMTP 3.0, just enough to ask a ZeroMQ endpoint what it is: ZeroMQ sockets connect lazily and
 * retry forever without saying why, so the smoke test first talks to each end of the proxy
 * directly over TCP and reads its greeting and READY command (which libzmq sends without waiting
 * for ours). Refused/DNS/unreachable → 'unreachable'; no ZMTP 3 with the NULL mechanism → 'protocol'.
 */
import { connect as tcpConnect } from 'node:net';
import { SmokeError, UNREACHABLE_CODES } from '../contract/errors.ts';

/** A TCP endpoint of a ZeroMQ socket. */
export interface ZmtpEndpoint {
  /** As given, for messages. */
  url: string;
  host: string;
  port: number;
}

/**
 * Connects over plain TCP, sends a ZMTP 3.0 greeting (NULL mechanism) and reads the peer's
 * greeting and READY command: returns the peer's Socket-Type (e.g. `XSUB`). Throws a SmokeError:
 * 'unreachable' for network errors, 'protocol' if the peer does not speak ZMTP 3 with the NULL
 * mechanism (or says nothing within `timeoutMillis`). When `signal` aborts, the connection is
 * closed and the promise rejects with the signal's reason.
 */
export function zmtpSocketType(
  ep: ZmtpEndpoint,
  what: string,
  timeoutMillis: number,
  signal?: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const sock = tcpConnect({ host: ep.host, port: ep.port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const onAbort = () => done(signal?.reason);
    const done = (err: unknown, type?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(type as string);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      const msg = `${what} ${ep.url}: no ${sock.connecting ? 'TCP connection' : 'ZMTP greeting'} within ${Math.round(timeoutMillis)} ms`;
      done(new SmokeError(sock.connecting ? 'unreachable' : 'protocol', msg));
    }, timeoutMillis);
    const notZmtp = (why: string) =>
      new SmokeError('protocol', `${what} ${ep.url} is not a ZeroMQ proxy: ${why}`);
    sock.once('connect', () => {
      const greeting = Buffer.alloc(64);
      greeting[0] = 0xff;
      greeting[9] = 0x7f;
      greeting[10] = 3;
      greeting.write('NULL', 12, 'latin1');
      sock.write(greeting);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 10 && (buf[0] !== 0xff || buf[9] !== 0x7f)) return done(notZmtp('no ZMTP signature'));
      if (buf.length < 64 + 2) return;
      if ((buf[10] as number) < 3) return done(notZmtp(`ZMTP ${buf[10]}.x is too old`));
      const mechanism = buf.toString('latin1', 12, 32).replace(/\0+$/, '');
      if (mechanism !== 'NULL') {
        return done(new SmokeError('protocol', `${what} ${ep.url} requires ZMTP security "${mechanism}"`));
      }
      const flags = buf[64] as number;
      const long = (flags & 0x02) !== 0;
      const headerLen = long ? 9 : 2;
      if (buf.length < 64 + headerLen) return;
      const size = long ? Number(buf.readBigUInt64BE(65)) : (buf[65] as number);
      if ((flags & 0x04) === 0 || size > 4096) return done(notZmtp('no READY command'));
      if (buf.length < 64 + headerLen + size) return;
      const body = buf.subarray(64 + headerLen, 64 + headerLen + size);
      const nameLen = body[0] as number;
      if (body.toString('latin1', 1, 1 + nameLen) !== 'READY') return done(notZmtp('no READY command'));
      for (let i = 1 + nameLen; i < body.length; ) {
        const keyLen = body[i] as number;
        const key = body.toString('latin1', i + 1, i + 1 + keyLen);
        const valueLen = body.readUInt32BE(i + 1 + keyLen);
        const value = body.toString('latin1', i + 5 + keyLen, i + 5 + keyLen + valueLen);
        if (key.toLowerCase() === 'socket-type') return done(undefined, value);
        i += 5 + keyLen + valueLen;
      }
      done(notZmtp('READY without Socket-Type'));
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      const kind = UNREACHABLE_CODES.has(err.code ?? '') ? 'unreachable' : 'protocol';
      done(new SmokeError(kind, `${what} ${ep.url}: ${err.code ?? err.message}`));
    });
    sock.once('close', () => done(notZmtp('connection closed during the ZMTP greeting')));
  });
}
