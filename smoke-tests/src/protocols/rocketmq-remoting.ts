/**
 * The RocketMQ *remoting* protocol, as far as the smoke test needs it for admin requests (the gRPC
 * protocol has none): frames with a JSON header, requests matched to responses by opaque, ACL 2.0
 * signatures the way RocketMQ's AclClientRPCHook makes them. The admin client on top of it is
 * rocketmq-admin.ts; rocketmq.ts says why and when they are used.
 */
import { createHmac } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { SmokeError } from '../contract/errors.ts';

/** One admin request's timeout. */
export const ADMIN_TIMEOUT_MILLIS = 5_000;

/** Request codes (org.apache.rocketmq.remoting.protocol.RequestCode). */
export const RequestCode = {
  UPDATE_AND_CREATE_TOPIC: 17,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  GET_ALL_SUBSCRIPTIONGROUP_CONFIG: 201,
  GET_ALL_TOPIC_CONFIG: 21,
  DELETE_SUBSCRIPTIONGROUP: 207,
  DELETE_TOPIC_IN_BROKER: 215,
  DELETE_TOPIC_IN_NAMESRV: 216,
} as const;

/** Response codes used here (ResponseCode). */
export const SUCCESS = 0;
export const NO_PERMISSION = 16;
export const TOPIC_NOT_EXIST = 17;
/** MQVersion.Version.V5_3_3.ordinal(). */
const REMOTING_VERSION = 479;
const MAX_FRAME = 64 * 1024 * 1024;

/** A remoting response with a code other than SUCCESS. */
export class RemotingError extends Error {
  readonly responseCode: number;
  constructor(responseCode: number, remark: string) {
    super(`RocketMQ ${remark || 'error'} (response code ${responseCode})`);
    this.name = 'RemotingError';
    this.responseCode = responseCode;
  }
}

export interface RemotingResponse {
  code: number;
  remark?: string;
  extFields?: Record<string, string>;
  body: Buffer;
}

export interface Credentials {
  accessKey: string;
  secretKey: string;
}

/**
 * Adds `AccessKey` and `Signature` to ext fields the way AclClientRPCHook does: HMAC-SHA1 with the
 * secret key over the values of all ext fields sorted by key (AccessKey included), then the body.
 */
export function signExtFields(
  fields: Record<string, string>,
  body: Buffer | undefined,
  creds: Credentials,
): Record<string, string> {
  const out: Record<string, string> = { ...fields, AccessKey: creds.accessKey };
  const keys = Object.keys(out).sort();
  const hmac = createHmac('sha1', creds.secretKey);
  hmac.update(Buffer.from(keys.map((k) => out[k]).join(''), 'utf8'));
  if (body?.length) hmac.update(body);
  out.Signature = hmac.digest('base64');
  return out;
}

/** Encodes one remoting request frame (JSON header). */
export function encodeRequest(
  code: number,
  opaque: number,
  extFields: Record<string, string>,
  body?: Buffer,
): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      code,
      language: 'NODE_JS',
      version: REMOTING_VERSION,
      opaque,
      flag: 0,
      extFields,
      serializeTypeCurrentRPC: 'JSON',
    }),
    'utf8',
  );
  const bodyLen = body?.length ?? 0;
  const frame = Buffer.allocUnsafe(8 + header.length + bodyLen);
  frame.writeUInt32BE(4 + header.length + bodyLen, 0);
  // Serialize type JSON (0) in the high byte, header length in the low three.
  frame.writeUInt32BE(header.length & 0xffffff, 4);
  header.copy(frame, 8);
  if (body) body.copy(frame, 8 + header.length);
  return frame;
}

/**
 * RocketMQ's JSON (fastjson) writes maps with integer keys unquoted (`{0:"10.0.0.1:10911"}`):
 * quote them so JSON.parse accepts the text.
 */
export function parseRocketJson(text: string): unknown {
  let out = '';
  let inString = false;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    if (c !== '{' && c !== ',') continue;
    const m = /^\s*(-?\d+)\s*:/.exec(text.slice(i + 1, i + 32));
    if (!m) continue;
    out += `${text.slice(from, i + 1)}"${m[1]}":`;
    i += m[0].length;
    from = i + 1;
  }
  return JSON.parse(out + text.slice(from));
}

/** One remoting connection: requests matched to responses by opaque, each with a timeout. */
export class RemotingConnection {
  readonly addr: string;
  private readonly socket: Socket;
  private nextOpaque = 1;
  private buf: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<
    number,
    { resolve: (r: RemotingResponse) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }
  >();
  private closedError?: Error;

  private constructor(addr: string, socket: Socket) {
    this.addr = addr;
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new SmokeError('unreachable', `connection to ${addr} closed`)));
  }

  /** Connects to `host:port` within `timeoutMillis`. */
  static open(addr: string, timeoutMillis: number): Promise<RemotingConnection> {
    const i = addr.lastIndexOf(':');
    const host = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const port = Number(addr.slice(i + 1));
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SmokeError('unreachable', `connecting to ${addr} timed out`));
      }, timeoutMillis);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RemotingConnection(addr, socket));
      });
    });
  }

  /** Sends a request (signed when credentials are given) and waits for its response. */
  request(
    code: number,
    fields: Record<string, string>,
    creds?: Credentials,
    timeoutMillis = ADMIN_TIMEOUT_MILLIS,
  ): Promise<RemotingResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    const opaque = this.nextOpaque++;
    const ext = creds ? signExtFields(fields, undefined, creds) : fields;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(opaque);
        reject(new SmokeError('timeout', `request ${code} to ${this.addr} timed out`));
      }, timeoutMillis);
      this.pending.set(opaque, { resolve, reject, timer });
      this.socket.write(encodeRequest(code, opaque, ext));
    });
  }

  /** Like {@link request}, but a response code other than SUCCESS (or `alsoOk`) rejects. */
  async call(
    code: number,
    fields: Record<string, string>,
    creds?: Credentials,
    alsoOk: number[] = [],
  ): Promise<RemotingResponse> {
    const r = await this.request(code, fields, creds);
    if (r.code !== SUCCESS && !alsoOk.includes(r.code)) throw new RemotingError(r.code, r.remark ?? '');
    return r;
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(e: Error): void {
    this.closedError ??= e;
    for (const [opaque, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(opaque);
      p.reject(e);
    }
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len < 4 || len > MAX_FRAME) {
        this.fail(new SmokeError('protocol', `bad remoting frame from ${this.addr}`));
        this.socket.destroy();
        return;
      }
      if (this.buf.length < 4 + len) return;
      const frame = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      const headerLen = frame.readUInt32BE(0) & 0xffffff;
      let header: {
        code: number;
        opaque: number;
        flag?: number;
        remark?: string;
        extFields?: Record<string, string>;
      };
      try {
        header = JSON.parse(frame.toString('utf8', 4, 4 + headerLen));
      } catch {
        this.fail(new SmokeError('protocol', `unreadable remoting header from ${this.addr}`));
        this.socket.destroy();
        return;
      }
      // Only responses (flag bit 0) are of interest; the server sends no requests to us.
      if (!((header.flag ?? 0) & 1)) continue;
      const p = this.pending.get(header.opaque);
      if (!p) continue;
      this.pending.delete(header.opaque);
      clearTimeout(p.timer);
      const r: RemotingResponse = { code: header.code, body: Buffer.from(frame.subarray(4 + headerLen)) };
      if (header.remark != null) r.remark = header.remark;
      if (header.extFields) r.extFields = header.extFields;
      p.resolve(r);
    }
  }
}
