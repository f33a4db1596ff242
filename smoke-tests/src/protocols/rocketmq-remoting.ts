/**
 * The RocketMQ *remoting* protocol, as far as the smoke test needs it for admin requests (the gRPC
 * protocol has none): frames with a JSON header, requests matched to responses by opaque, ACL 2.0
 * signatures the way RocketMQ's AclClientRPCHook makes them, and an admin client for name servers
 * and master brokers (cluster info, create/delete topic, delete subscription group, route and
 * config queries). See rocketmq.ts for why and when it is used.
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
const TOPIC_NOT_EXIST = 17;
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

/** Master broker addresses of a cluster (or of every cluster) from a cluster info body. */
export function mastersOf(clusterInfoBody: Buffer, cluster?: string): string[] {
  const info = parseRocketJson(clusterInfoBody.toString('utf8')) as {
    brokerAddrTable?: Record<
      string,
      { cluster?: string; brokerName?: string; brokerAddrs?: Record<string, string> }
    >;
    clusterAddrTable?: Record<string, string[]>;
  };
  const table = info.brokerAddrTable ?? {};
  let names: string[];
  if (cluster) {
    const inCluster = info.clusterAddrTable?.[cluster];
    if (!inCluster) {
      const known = Object.keys(info.clusterAddrTable ?? {}).join(', ') || 'none';
      throw new SmokeError(
        'protocol',
        `cluster "${cluster}" is not known to the name server (known: ${known})`,
      );
    }
    names = inCluster;
  } else {
    names = Object.keys(table);
  }
  const out: string[] = [];
  for (const n of names) {
    const master = table[n]?.brokerAddrs?.['0'];
    if (master) out.push(master);
  }
  return out;
}

/** Where the admin client sends requests: name servers (`host:port` each) and the cluster. */
export interface AdminEndpoints {
  namesrv: string[];
  /** Only this cluster's master brokers (every cluster's otherwise). */
  cluster?: string;
}

/** A small admin client: name servers (unsigned) and brokers (signed), one connection each. */
export class RocketmqAdmin {
  private readonly endpoints: AdminEndpoints;
  private readonly creds?: Credentials;
  private readonly conns = new Map<string, Promise<RemotingConnection>>();
  private closed = false;

  constructor(endpoints: AdminEndpoints, creds?: Credentials) {
    this.endpoints = endpoints;
    if (creds) this.creds = creds;
  }

  private conn(addr: string, timeoutMillis: number): Promise<RemotingConnection> {
    if (this.closed) return Promise.reject(new SmokeError('timeout', 'admin client closed'));
    let c = this.conns.get(addr);
    if (!c) {
      c = RemotingConnection.open(addr, timeoutMillis);
      c.catch(() => this.conns.delete(addr));
      this.conns.set(addr, c);
    }
    return c;
  }

  /** A name server request, tried on each name server until one answers. */
  async namesrv(
    code: number,
    fields: Record<string, string>,
    alsoOk: number[] = [],
  ): Promise<RemotingResponse> {
    let last: unknown;
    for (const addr of this.endpoints.namesrv) {
      try {
        return await (await this.conn(addr, ADMIN_TIMEOUT_MILLIS)).call(code, fields, this.creds, alsoOk);
      } catch (e) {
        if (e instanceof RemotingError) throw e;
        last = e;
      }
    }
    throw last;
  }

  /** A signed request to one broker. */
  async broker(addr: string, code: number, fields: Record<string, string>): Promise<RemotingResponse> {
    return (await this.conn(addr, ADMIN_TIMEOUT_MILLIS)).call(code, fields, this.creds);
  }

  /** The cluster's master brokers, from the first name server that answers. */
  async masters(): Promise<string[]> {
    const r = await this.namesrv(RequestCode.GET_BROKER_CLUSTER_INFO, {});
    const masters = mastersOf(r.body, this.endpoints.cluster);
    if (!masters.length) {
      throw new SmokeError(
        'protocol',
        `no master broker registered${this.endpoints.cluster ? ` in cluster "${this.endpoints.cluster}"` : ''}`,
      );
    }
    return masters;
  }

  /** Creates (or updates) a NORMAL topic on one master broker. */
  createTopic(broker: string, topic: string, queues: number): Promise<RemotingResponse> {
    return this.broker(broker, RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: String(queues),
      writeQueueNums: String(queues),
      perm: '6',
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: '0',
      order: 'false',
      attributes: '+message.type=NORMAL',
      force: 'false',
    });
  }

  deleteTopicInBroker(broker: string, topic: string): Promise<RemotingResponse> {
    return this.broker(broker, RequestCode.DELETE_TOPIC_IN_BROKER, { topic });
  }

  deleteGroup(broker: string, group: string): Promise<RemotingResponse> {
    return this.broker(broker, RequestCode.DELETE_SUBSCRIPTIONGROUP, {
      groupName: group,
      cleanOffset: 'true',
    });
  }

  /** Removes a topic's route from every name server (each one separately: they share nothing). */
  async deleteTopicInNamesrvs(topic: string): Promise<void> {
    const fields: Record<string, string> = { topic };
    if (this.endpoints.cluster) fields.clusterName = this.endpoints.cluster;
    await Promise.all(
      this.endpoints.namesrv.map(async (addr) =>
        (await this.conn(addr, ADMIN_TIMEOUT_MILLIS)).call(
          RequestCode.DELETE_TOPIC_IN_NAMESRV,
          fields,
          this.creds,
        ),
      ),
    );
  }

  /** Whether a name server has a route for the topic. */
  async topicRouteExists(topic: string): Promise<boolean> {
    const r = await this.namesrv(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }, [TOPIC_NOT_EXIST]);
    return r.code === SUCCESS;
  }

  /** Topic names a broker knows. */
  async brokerTopics(broker: string): Promise<string[]> {
    const r = await this.broker(broker, RequestCode.GET_ALL_TOPIC_CONFIG, {});
    const body = parseRocketJson(r.body.toString('utf8')) as { topicConfigTable?: Record<string, unknown> };
    return Object.keys(body.topicConfigTable ?? {});
  }

  /** Subscription group names a broker knows. */
  async brokerGroups(broker: string): Promise<string[]> {
    const r = await this.broker(broker, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, {});
    const body = parseRocketJson(r.body.toString('utf8')) as {
      subscriptionGroupTable?: Record<string, unknown>;
    };
    return Object.keys(body.subscriptionGroupTable ?? {});
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns.values()) c.then((x) => x.close()).catch(() => {});
    this.conns.clear();
  }
}
