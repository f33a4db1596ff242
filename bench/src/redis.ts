/**
 * Redis in the benchmark. Ours: ioredis as the smoke test uses it (a Stream with a consumer
 * group; XADD pipelined in batches with several batches in flight; XREADGROUP COUNT and XACK). Native: redis-benchmark on a stream of its own with the same commands: XADD pipelined
 * (enqueue) and XREADGROUP ... COUNT c (dequeue; each request takes c entries, so msgs/s = rps × c
 * without the XACK, an upper bound), on one connection like ours. LPUSH / RPOP on a list are run
 * too, for reference.
 */
import { Redis } from 'ioredis';
import { bestEffort } from '../../smoke-tests/src/contract/deadline.ts';
import { redisOptions } from '../../smoke-tests/src/redis.ts';
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';
import { parseRedisBenchmarkCsv, runTool, tail } from './native.ts';
import type {
  BenchEngine,
  BenchQueue,
  BenchRunContext,
  NativePhaseResult,
  NativeRun,
  Progress,
} from './types.ts';
import { benchPayload } from './util.ts';

const GROUP = 'mqop-bench';
const CONSUMER = 'mqop-bench-consumer';
const FIELD = 'p';
/**
 * XADDs per pipeline (at most MAX_BATCH, at most PIPELINE_BYTES of payload) and pipelines in
 * flight. Measured on 2 cores: few big pipelines beat many small ones (ioredis spends its time per
 * command and in GC; 1000 × 4 was ~1.5× faster than the smoke test's 100 × 80 at 128 B).
 */
const MAX_BATCH = 1000;
const PIPELINE_BYTES = 1024 * 1024;
const PIPELINES_IN_FLIGHT = 4;
/** Entries per XREADGROUP (and XACK), and reads in flight. */
const MAX_READ = 1000;
const READ_BYTES = 1024 * 1024;
const READS_IN_FLIGHT = 2;
/** redis-benchmark: one connection, this pipeline depth. */
const NATIVE_PIPELINE = 100;

function shape(size: number) {
  const batch = Math.max(1, Math.min(MAX_BATCH, Math.floor(PIPELINE_BYTES / Math.max(1, size))));
  const inFlight = PIPELINES_IN_FLIGHT;
  const readCount = Math.max(1, Math.min(MAX_READ, Math.floor(READ_BYTES / Math.max(1, size))));
  return { batch, inFlight, readCount };
}

async function connect(target: SmokeTarget): Promise<Redis> {
  const client = new Redis({ ...redisOptions(target, 10_000), connectionName: 'mqop-bench' });
  client.on('error', () => {});
  await client.connect();
  return client;
}

type StreamEntry = [id: Buffer, fields: Buffer[] | null];
type ReadReply = Array<[key: Buffer, entries: StreamEntry[]]> | null;

class RedisQueue implements BenchQueue {
  private readonly client: Redis;
  private readonly name: string;
  private readonly size: number;

  constructor(client: Redis, name: string, size: number) {
    this.client = client;
    this.name = name;
    this.size = size;
  }

  async enqueue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    const { inFlight } = shape(this.size);
    // No pipeline bigger than a tenth of the run, so that every checkpoint is seen.
    const batch = Math.max(1, Math.min(shape(this.size).batch, Math.ceil(n / 10)));
    const payload = benchPayload(this.size);
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    for (let sent = 0; sent < n && !signal.aborted && failure === undefined; ) {
      const k = Math.min(batch, n - sent);
      const p = this.client.pipeline();
      for (let i = 0; i < k; i++) p.xadd(this.name, '*', FIELD, payload);
      sent += k;
      const done: Promise<void> = p.exec().then((replies) => {
        let ok = 0;
        for (const [err] of replies ?? []) {
          if (err) throw err;
          ok++;
        }
        meter.add(ok);
      });
      const tracked = done.then(
        () => {
          inflight.delete(tracked);
        },
        (e: unknown) => {
          inflight.delete(tracked);
          failure ??= e;
        },
      );
      inflight.add(tracked);
      if (inflight.size >= inFlight) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
  }

  async dequeue(n: number, meter: Progress, signal: AbortSignal): Promise<void> {
    const readCount = Math.max(1, Math.min(shape(this.size).readCount, Math.ceil(n / 10)));
    const acks: Promise<unknown>[] = [];
    let got = 0;
    let empty = false;
    // Several XREADGROUP '>' in flight on one connection: the server serves them in order, each
    // with the next undelivered entries.
    const read = async (): Promise<void> => {
      while (got < n && !signal.aborted && !empty) {
        const reply = (await this.client.callBuffer(
          'XREADGROUP',
          'GROUP',
          GROUP,
          CONSUMER,
          'COUNT',
          Math.min(readCount, n - got),
          'STREAMS',
          this.name,
          '>',
        )) as ReadReply;
        if (!reply) {
          // Everything was enqueued before this phase (no BLOCK needed): an empty read means the
          // stream is drained.
          empty = true;
          return;
        }
        const ids: Buffer[] = [];
        for (const [, entries] of reply) {
          for (const [id, fields] of entries) {
            if (fields?.[1]?.length === this.size) ids.push(id);
          }
        }
        if (ids.length) {
          acks.push(this.client.xack(this.name, GROUP, ...ids));
          got += ids.length;
          meter.add(ids.length);
        }
      }
    };
    await Promise.all(Array.from({ length: READS_IN_FLIGHT }, read));
    await Promise.all(acks);
  }

  async close(): Promise<void> {
    if (this.client.status === 'ready') {
      await bestEffort(this.client.del(this.name), 10_000);
      await bestEffort(this.client.quit(), 2000);
    }
    this.client.disconnect(false);
  }
}

/** Runs redis-benchmark with the target's host, port and credentials (from the env, not argv). */
function benchmarkArgs(target: SmokeTarget): { args: string[]; env: Record<string, string> } {
  const o = redisOptions(target);
  if (!o.host || !o.port) throw new Error('redis-benchmark needs a plain redis:// URL (no Sentinel)');
  const env: Record<string, string> = {};
  if (o.password) env.MQOP_BENCH_REDIS_PASSWORD = o.password;
  if (o.username) env.MQOP_BENCH_REDIS_USERNAME = o.username;
  return { args: ['-h', o.host, '-p', String(o.port), '--dbnum', String(o.db ?? 0)], env };
}

async function nativeRun(target: SmokeTarget, ctx: BenchRunContext): Promise<NativeRun> {
  const { args: conn, env } = benchmarkArgs(target);
  const n = ctx.messages;
  const size = ctx.messageBytes;
  const { readCount } = shape(size);
  const payload = benchPayload(size);
  const stream = ctx.name;
  const list = `${ctx.name}-list`;
  const maxMillis = ctx.maxSeconds * 1000;
  const commands: string[] = [];
  const client = await connect(target);
  const common = ['-c', '1', '-P', String(NATIVE_PIPELINE), '--csv'];
  const phase = async (label: string, args: string[], requested: number, stdin?: Buffer) => {
    const all = [...conn, ...common, ...args];
    commands.push(`redis-benchmark ${all.join(' ')}${stdin ? ' < payload' : ''}`);
    const r = await runTool(ctx.repoRoot, 'redis-benchmark.sh', ['run', ...all], env, maxMillis, stdin);
    const row = parseRedisBenchmarkCsv(r.stdout)[0];
    const out: NativePhaseResult = { requested, count: 0, rate: 0, partial: true };
    if (!row) out.error = r.timedOut ? `stopped after ${ctx.maxSeconds}s` : `${label}: ${tail(r.stderr)}`;
    return { row, out };
  };
  try {
    await client.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
    // Enqueue: XADD with the payload as the last argument (-x: read from stdin).
    const enq = await phase('XADD', ['-n', String(n), '-x', 'XADD', stream, '*', FIELD], n, payload);
    const len = Number(await client.xlen(stream));
    if (enq.row) Object.assign(enq.out, { count: len, rate: Math.round(enq.row.rps), partial: len < n });
    enq.out.how = 'redis-benchmark XADD rps (one entry per request)';
    // Dequeue: XREADGROUP COUNT c; ceil(len/c) requests take every entry.
    const requests = Math.max(1, Math.ceil(len / readCount));
    const deq = await phase(
      'XREADGROUP',
      [
        '-n',
        String(requests),
        'XREADGROUP',
        'GROUP',
        GROUP,
        CONSUMER,
        'COUNT',
        String(readCount),
        'STREAMS',
        stream,
        '>',
      ],
      len,
    );
    if (deq.row) {
      // Time = requests / rps; every entry was read in that time.
      const seconds = requests / deq.row.rps;
      Object.assign(deq.out, { count: len, rate: Math.round(len / seconds), partial: false });
    }
    deq.out.how = `redis-benchmark XREADGROUP COUNT ${readCount}: entries / (requests / rps), no XACK`;
    await bestEffort(client.del(stream), 10_000);
    // Reference: a list, LPUSH then RPOP, one element per request.
    const lpush = await phase('LPUSH', ['-n', String(n), '-x', 'LPUSH', list], n, payload);
    const llen = Number(await client.llen(list));
    if (lpush.row)
      Object.assign(lpush.out, { count: llen, rate: Math.round(lpush.row.rps), partial: llen < n });
    const rpop = await phase('RPOP', ['-n', String(llen || 1), 'RPOP', list], llen);
    if (rpop.row) Object.assign(rpop.out, { count: llen, rate: Math.round(rpop.row.rps), partial: false });
    return {
      tool: 'redis-benchmark',
      commands,
      enqueue: enq.out,
      dequeue: deq.out,
      reference: { 'LPUSH (list)': lpush.out, 'RPOP (list)': rpop.out },
    };
  } finally {
    await bestEffort(client.del(stream, list), 10_000);
    await bestEffort(client.quit(), 2000);
    client.disconnect(false);
  }
}

export const redisBench: BenchEngine = {
  engine: 'redis',
  describeOurs({ messageBytes }) {
    const s = shape(messageBytes);
    return (
      `ioredis, one connection: XADD to a stream in pipelines of ${s.batch} (up to ${s.inFlight} ` +
      `pipelines in flight); XREADGROUP COUNT ${s.readCount} (${READS_IN_FLIGHT} reads in flight) + XACK`
    );
  },
  async open(target, ctx) {
    const client = await connect(target);
    try {
      await client.xgroup('CREATE', ctx.name, GROUP, '0', 'MKSTREAM');
    } catch (e) {
      client.disconnect(false);
      throw e;
    }
    return new RedisQueue(client, ctx.name, ctx.messageBytes);
  },
  async brokerVersion(target) {
    const client = await connect(target);
    try {
      const info = await client.info('server');
      return /redis_version:(\S+)/.exec(info)?.[1];
    } finally {
      client.disconnect(false);
    }
  },
  native: {
    tool: 'redis-benchmark',
    describe({ messageBytes }) {
      const { readCount } = shape(messageBytes);
      return (
        `redis-benchmark -c 1 -P ${NATIVE_PIPELINE}: XADD <stream> * p <payload> (enqueue); ` +
        `XREADGROUP ... COUNT ${readCount} (dequeue, no XACK); LPUSH/RPOP on a list for reference`
      );
    },
    async prepare(repoRoot, log) {
      const r = await runTool(repoRoot, 'redis-benchmark.sh', ['fetch'], {}, 300_000);
      if (r.code !== 0) throw new Error(`redis-benchmark unavailable: ${tail(r.stderr)}`);
      log(r.stderr.trim());
    },
    run: nativeRun,
  },
};
