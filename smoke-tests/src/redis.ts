/**
 * Redis smoke test (ioredis): the run's own Stream `mqop-smoke-<id>` with a consumer group,
 * XADD pipelined in batches (several batches in flight), XREADGROUP COUNT/BLOCK on a second
 * connection, XACK (and XDEL, to keep the stream small) per read, then DEL of the stream (which
 * was the run's own). The producer never gets more than 8 MiB ahead of the consumer.
 *
 * Targets: `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS), and
 * `redis+sentinel://[user:pass@]host:port[,host:port…]/<master>[/db]` (also `rediss+sentinel`),
 * where the master group may instead come from extra `sentinel.master` and more Sentinels from
 * extra `sentinel.nodes` (`h:p,h:p`). Sentinels are asked with the same password as Redis (and
 * no username) unless extra `sentinel.username` / `sentinel.password` say otherwise.
 */
import type { RedisOptions } from 'ioredis';
import { Redis } from 'ioredis';
import { bestEffort } from './contract/deadline.ts';
import { SmokeError } from './contract/errors.ts';
import { nowMillis } from './contract/payload.ts';
import { type RunContext, runSmoke } from './contract/runner.ts';
import type { SmokeOptions, SmokeResult, SmokeTarget, SmokeTest } from './types.ts';

const GROUP = 'mqop-smoke';
const CONSUMER = 'mqop-smoke-consumer';
const FIELD = 'p';
/** At most this many bytes of XADDs in flight at once (and per read). */
const WINDOW_BYTES = 1024 * 1024;
const MAX_BATCH = 100;
/** At most this many bytes produced but not yet consumed sit in the stream. */
const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

export interface ParsedRedisUrl {
  tls: boolean;
  sentinel: boolean;
  /** Redis host(s) for plain mode; Sentinel hosts for sentinel mode. */
  hosts: Array<{ host: string; port: number }>;
  master?: string;
  db: number;
  username?: string;
  password?: string;
}

const URL_RE = /^(rediss?)(\+sentinel)?:\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?[^#]*)?(?:#.*)?$/i;

function parseHostPort(s: string, defaultPort: number): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(s.trim());
  if (!m) throw new SmokeError('protocol', `bad host:port "${s}" in Redis URL`);
  const port = m[3] ? Number(m[3]) : defaultPort;
  if (!(port > 0 && port < 65536)) throw new SmokeError('protocol', `bad port in "${s}"`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Parses a Redis or Redis Sentinel URL (credentials in it are URL-decoded). */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const m = URL_RE.exec(url.trim());
  if (!m) {
    throw new SmokeError(
      'protocol',
      'Redis URL must look like redis://host:port or redis+sentinel://host:port/master',
    );
  }
  const tls = m[1]?.toLowerCase() === 'rediss';
  const sentinel = Boolean(m[2]);
  const defaultPort = sentinel ? 26379 : 6379;
  const hostPart = m[4] ?? '';
  if (!hostPart) throw new SmokeError('protocol', 'Redis URL has no host');
  const hosts = hostPart
    .split(',')
    .filter(Boolean)
    .map((h) => parseHostPort(h, defaultPort));
  if (!sentinel && hosts.length !== 1)
    throw new SmokeError('protocol', 'redis:// takes one host (use redis+sentinel:// for several)');
  const segs = (m[5] ?? '').split('/').filter(Boolean).map(decodeURIComponent);
  let master: string | undefined;
  let dbSeg: string | undefined;
  if (sentinel) [master, dbSeg] = segs;
  else [dbSeg] = segs;
  const db = dbSeg === undefined ? 0 : Number(dbSeg);
  if (!Number.isInteger(db) || db < 0)
    throw new SmokeError('protocol', 'Redis URL database must be a number');
  const out: ParsedRedisUrl = { tls, sentinel, hosts, db };
  if (master) out.master = master;
  if (m[3] !== undefined) {
    const i = m[3].indexOf(':');
    const user = decodeURIComponent(i < 0 ? m[3] : m[3].slice(0, i));
    if (user) out.username = user;
    if (i >= 0) out.password = decodeURIComponent(m[3].slice(i + 1));
  }
  return out;
}

/** ioredis options for a target: no retries, no offline queue, bounded connect, RESP2. */
export function redisOptions(target: SmokeTarget, connectTimeoutMillis = 10_000): RedisOptions {
  const u = parseRedisUrl(target.url);
  const extra = target.extra ?? {};
  const username = target.username || u.username;
  const password = target.password ?? u.password;
  const common: RedisOptions = {
    lazyConnect: true,
    protocol: 2,
    db: u.db,
    connectTimeout: Math.max(1, Math.round(connectTimeoutMillis)),
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    enableAutoPipelining: false,
    connectionName: 'mqop-smoke',
  };
  if (username) common.username = username;
  if (password !== undefined && password !== '') common.password = password;
  if (!u.sentinel) {
    const h = u.hosts[0] as { host: string; port: number };
    return { ...common, host: h.host, port: h.port, ...(u.tls ? { tls: { servername: h.host } } : {}) };
  }
  const master = u.master ?? extra['sentinel.master'];
  if (!master)
    throw new SmokeError('protocol', 'redis+sentinel URL needs a master name (path or sentinel.master)');
  const sentinels = [...u.hosts];
  for (const n of (extra['sentinel.nodes'] ?? '').split(',').filter((s) => s.trim())) {
    const hp = parseHostPort(n, 26379);
    if (!sentinels.some((s) => s.host === hp.host && s.port === hp.port)) sentinels.push(hp);
  }
  // Sentinels have their own ACL users: only an explicit sentinel.username is sent to them.
  const sentinelUsername = extra['sentinel.username'];
  const sentinelPassword = extra['sentinel.password'] ?? (password || undefined);
  return {
    ...common,
    sentinels,
    name: master,
    ...(sentinelUsername ? { sentinelUsername } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
    sentinelRetryStrategy: () => null,
    sentinelCommandTimeout: Math.max(1, Math.round(connectTimeoutMillis)),
    ...(u.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
  };
}

/** ioredis error-message markers of a refused login. */
function isRedisAuth(err: unknown): boolean {
  const m = err instanceof Error ? err.message : String(err);
  return /WRONGPASS|NOAUTH|invalid password|AUTH failed|user is disabled/i.test(m);
}

/** Connects a client and fails fast (no retries): resolves once ready, rejects with the reason. */
async function connect(options: RedisOptions, signal: AbortSignal): Promise<Redis> {
  const client = new Redis(options);
  // Errors surface through command/connect rejections; keep the emitter from throwing.
  let lastError: unknown;
  client.on('error', (e) => {
    lastError = e;
  });
  const onAbort = () => client.disconnect(false);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (err) {
    client.disconnect(false);
    // "Connection is closed" hides the socket/auth error that closed it: prefer the latter.
    if (
      lastError &&
      lastError !== err &&
      /connection is closed|stream isn't writeable|reached the max retries/i.test(
        String((err as Error)?.message),
      )
    ) {
      throw lastError;
    }
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

type StreamEntry = [id: Buffer, fields: Buffer[] | null];
type ReadReply = Array<[key: Buffer, entries: StreamEntry[]]> | null;

async function body(target: SmokeTarget, ctx: RunContext, clients: Redis[]): Promise<void> {
  const { deadline, counter, name, options } = ctx;
  const connectTimeout = Math.min(10_000, deadline.remaining());
  const opts = redisOptions(target, connectTimeout);
  const producer = await connect(opts, deadline.signal);
  clients.push(producer);
  // XREADGROUP BLOCK holds its connection: the consumer has its own.
  const consumer = await connect(opts, deadline.signal);
  clients.push(consumer);
  // A broken connection mid-run must end the run now, not at the deadline.
  let broken: ((e: unknown) => void) | undefined;
  const brokenP = new Promise<never>((_, reject) => {
    broken = reject;
  });
  brokenP.catch(() => {});
  for (const c of clients) {
    c.on('end', () => broken?.(new SmokeError('unreachable', 'connection to Redis lost')));
  }

  await producer.xgroup('CREATE', name, GROUP, '0', 'MKSTREAM');

  const size = options.messageBytes;
  const batch = Math.max(1, Math.min(MAX_BATCH, Math.floor(WINDOW_BYTES / 4 / Math.max(1, size))));
  const maxInFlight = Math.max(1, Math.floor(WINDOW_BYTES / Math.max(1, size * batch)));
  const maxBacklog = Math.max(batch * maxInFlight, Math.floor(MAX_BACKLOG_BYTES / Math.max(1, size)));

  const produce = async () => {
    const inflight = new Set<Promise<void>>();
    for (let seq = 0; seq < options.messages; ) {
      deadline.check();
      const n = Math.min(batch, options.messages - seq);
      const p = producer.pipeline();
      for (let i = 0; i < n; i++) p.xadd(name, '*', FIELD, counter.encode(seq + i, size));
      seq += n;
      const done = p.exec().then((replies) => {
        for (const [err] of replies ?? []) {
          if (err) throw err;
          counter.produced();
        }
      });
      const tracked = done.finally(() => inflight.delete(tracked));
      // Awaited below; if the loop stops early (deadline), a late failure must not go unhandled.
      tracked.catch(() => {});
      inflight.add(tracked);
      if (inflight.size >= maxInFlight) await Promise.race(inflight);
      await counter.throttle(maxBacklog, deadline.signal);
    }
    await Promise.all(inflight);
  };

  const consume = async () => {
    const readCount = Math.max(1, Math.min(1000, Math.floor(WINDOW_BYTES / Math.max(1, size))));
    while (!counter.complete) {
      deadline.check();
      const block = Math.max(1, Math.min(1000, Math.floor(deadline.remaining())));
      const reply = (await consumer.callBuffer(
        'XREADGROUP',
        'GROUP',
        GROUP,
        CONSUMER,
        'COUNT',
        readCount,
        'BLOCK',
        block,
        'STREAMS',
        name,
        '>',
      )) as ReadReply;
      const at = nowMillis();
      if (!reply) continue;
      const ids: Buffer[] = [];
      for (const [, entries] of reply) {
        for (const [id, fields] of entries) {
          ids.push(id);
          const value = fields && fields[0]?.toString() === FIELD ? fields[1] : undefined;
          if (value) counter.receive(value, at);
          else counter.foreign++;
        }
      }
      // Ack and drop what was read, without waiting: the next read goes on the same connection, in
      // order. Dropping keeps the stream (server memory) small during long runs.
      if (ids.length) {
        consumer
          .multi()
          .xack(name, GROUP, ...ids)
          .xdel(name, ...ids)
          .exec()
          .catch(() => {});
      }
    }
  };
  await Promise.race([Promise.all([produce(), consume()]), brokenP]);
}

async function cleanup(target: SmokeTarget, ctx: RunContext, clients: Redis[]): Promise<void> {
  const live = clients.find((c) => c.status === 'ready');
  try {
    if (live) {
      await bestEffort(live.del(ctx.name), 3000);
    } else if (clients.length) {
      // Connections died mid-run; try once more on a fresh one, briefly.
      const c = new Redis(redisOptions(target, 2000));
      c.on('error', () => {});
      clients.push(c);
      await bestEffort(
        c.connect().then(() => c.del(ctx.name)),
        3000,
      );
    }
  } finally {
    for (const c of clients) {
      if (c.status === 'ready') await bestEffort(c.quit(), 1000);
      c.disconnect(false);
    }
  }
}

export const redisSmokeTest: SmokeTest = {
  engine: 'redis',
  run(target: SmokeTarget, options: SmokeOptions): Promise<SmokeResult> {
    const clients: Redis[] = [];
    return runSmoke(
      options,
      [target.password, target.extra?.['sentinel.password']],
      { isAuth: isRedisAuth },
      (ctx) => body(target, ctx, clients),
      (ctx) => cleanup(target, ctx, clients),
    );
  },
};
