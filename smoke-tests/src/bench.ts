/**
 * `mqop bench`, the seed experiment: for each engine and message size, enqueue N messages through
 * our client (pipelining / batching / confirms in flight), then dequeue them all, as two separate
 * phases, each with a checkpoint every N/10 and a `maxSeconds` guard; then the same through the
 * engine's native tool (the ceiling), and the ratio ours / native. Every queue/stream/topic is the
 * run's own (`mqop-bench-<id>`) and is deleted afterwards.
 *
 * Engines plug in through {@link BENCH_ENGINES}: one {@link BenchEngine} per engine (see
 * `bench/types.ts`): `open` makes the run's queue and returns enqueue/dequeue through our client,
 * `native` runs the engine's own tool through a `scripts/bench/*.sh` helper. Next candidates:
 * ActiveMQ (rhea; native `bin/activemq producer` / `consumer`), RocketMQ (its
 * `benchmark/producer.sh` / `consumer.sh`), ZeroMQ (libzmq's `local_thr` / `remote_thr`).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { kafkaBench } from './bench/kafka.ts';
import { PhaseMeter } from './bench/meter.ts';
import { rabbitmqBench } from './bench/rabbitmq.ts';
import { redisBench } from './bench/redis.ts';
import type {
  BenchEngine,
  BenchPhase,
  BenchQueue,
  BenchReport,
  BenchRunContext,
  EngineResult,
  PhaseResult,
  SizeResult,
} from './bench/types.ts';
import { redactUrl, shortId } from './bench/util.ts';
import { describeError } from './stats.ts';
import type { SmokeTarget } from './types.ts';

export { renderMarkdown, renderSvg, resultFileNames, writeResults } from './bench/report.ts';
export type { BenchReport } from './bench/types.ts';

/** Prefix of every queue/stream/topic the benchmark creates. */
export const BENCH_PREFIX = 'mqop-bench-';

const ENGINES: readonly BenchEngine[] = [
  redisBench,
  rabbitmqBench,
  kafkaBench,
  // activemq, rocketmq, zeromq: one line each when they land
];

export const BENCH_ENGINES: ReadonlyMap<string, BenchEngine> = new Map(ENGINES.map((e) => [e.engine, e]));

export function benchEngines(): string[] {
  return [...BENCH_ENGINES.keys()];
}

/** The seed experiment's sizes and counts. */
export const SEED_SIZES = [128, 512, 1024, 10240] as const;
export const SEED_MESSAGES = 1_000_000;
export const QUICK_MESSAGES = 10_000;

export interface BenchEnginePlan {
  engine: string;
  target: SmokeTarget;
  /** N for this engine (overrides the global one). */
  messages?: number;
  /** Said in the report (e.g. why N was lowered). */
  notes?: string[];
  /** Set when the engine cannot be run (e.g. its broker did not start): recorded, not run. */
  error?: string;
}

export interface BenchSizePlan {
  bytes: number;
  /** A cap on N for this size (e.g. to bound memory at 10 KB). */
  messages?: number;
}

export interface BenchConfig {
  engines: BenchEnginePlan[];
  sizes: BenchSizePlan[];
  messages: number;
  maxSeconds: number;
  native: boolean;
  quick: boolean;
  repoRoot: string;
  runId?: string;
  /** Notes on the whole run, for the report (markdown). */
  notes?: string[];
  log?: (line: string) => void;
}

/** N for one engine and size: the engine's N (or the global one), capped by the size's. */
export function messagesFor(globalN: number, engineN?: number, sizeN?: number): number {
  const n = engineN ?? globalN;
  return sizeN !== undefined ? Math.min(n, sizeN) : n;
}

/** ours / native, rounded to 3 decimals; undefined when either is missing or zero. */
export function ratio(ours: number | undefined, native: number | undefined): number | undefined {
  if (!ours || !native || !(ours > 0) || !(native > 0)) return undefined;
  return Math.round((ours / native) * 1000) / 1000;
}

/** Runs one phase of our client under the guard; never throws. */
async function runPhase(
  q: BenchQueue,
  phase: BenchPhase,
  n: number,
  maxSeconds: number,
  log: (line: string) => void,
  secrets: Array<string | undefined>,
): Promise<PhaseResult> {
  const meter = new PhaseMeter(n, {
    onCheckpoint: (c) =>
      log(`    ${phase} ${c.count}/${n} at ${(c.elapsedMillis / 1000).toFixed(1)}s: ${c.rate} msg/s`),
  });
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), maxSeconds * 1000);
  let hard: NodeJS.Timeout | undefined;
  let error: string | undefined;
  meter.start();
  try {
    const work = phase === 'enqueue' ? q.enqueue(n, meter, ac.signal) : q.dequeue(n, meter, ac.signal);
    work.catch(() => {});
    // The guard asks the client to stop; a client stuck on a dead broker is given 30 s more.
    await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        hard = setTimeout(
          () => reject(new Error(`${phase} did not stop within ${maxSeconds + 30}s`)),
          (maxSeconds + 30) * 1000,
        );
      }),
    ]);
  } catch (e) {
    error = describeError(e, secrets);
  } finally {
    clearTimeout(guard);
    clearTimeout(hard);
  }
  if (!error && ac.signal.aborted && meter.count < n) error = `stopped by the ${maxSeconds}s guard`;
  return meter.finish(error);
}

function emptyPhase(n: number, error: string): PhaseResult {
  return { requested: n, count: 0, elapsedMillis: 0, rate: 0, partial: true, error, checkpoints: [] };
}

async function benchSize(
  engine: BenchEngine,
  plan: BenchEnginePlan,
  size: BenchSizePlan,
  cfg: BenchConfig,
  runId: string,
  log: (line: string) => void,
): Promise<SizeResult> {
  const n = messagesFor(cfg.messages, plan.messages, size.messages);
  const name = `${BENCH_PREFIX}${runId}-${engine.engine}-${size.bytes}`;
  const secrets = [plan.target.password];
  const ctx: BenchRunContext = {
    name,
    messageBytes: size.bytes,
    messages: n,
    maxSeconds: cfg.maxSeconds,
    repoRoot: cfg.repoRoot,
    log,
  };
  const load = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  log(`  ${engine.engine} ${size.bytes} B x ${n}: ours (${name}), load ${load}`);
  let enqueue: PhaseResult;
  let dequeue: PhaseResult;
  let q: BenchQueue | undefined;
  try {
    q = await engine.open(plan.target, ctx);
  } catch (e) {
    const msg = `open: ${describeError(e, secrets)}`;
    enqueue = emptyPhase(n, msg);
    dequeue = emptyPhase(0, msg);
  }
  if (q) {
    try {
      enqueue = await runPhase(q, 'enqueue', n, cfg.maxSeconds, log, secrets);
      log(
        `    enqueue: ${enqueue.count} in ${(enqueue.elapsedMillis / 1000).toFixed(2)}s = ${enqueue.rate} msg/s`,
      );
      dequeue = await runPhase(q, 'dequeue', enqueue.count, cfg.maxSeconds, log, secrets);
      log(
        `    dequeue: ${dequeue.count} in ${(dequeue.elapsedMillis / 1000).toFixed(2)}s = ${dequeue.rate} msg/s`,
      );
    } finally {
      await q.close();
    }
  }
  const result: SizeResult = {
    messageBytes: size.bytes,
    messages: n,
    name,
    loadAverage: load,
    // biome-ignore lint/style/noNonNullAssertion: both set on every path above
    ours: { enqueue: enqueue!, dequeue: dequeue!, how: engine.describeOurs({ messageBytes: size.bytes }) },
    ratio: {},
  };
  if (cfg.native && engine.native) {
    log(`  ${engine.engine} ${size.bytes} B x ${n}: native ${engine.native.tool}`);
    try {
      const nat = await engine.native.run(plan.target, { ...ctx, name: `${name}-native` });
      result.native = { ...nat, how: engine.native.describe({ messageBytes: size.bytes }) };
      log(`    native enqueue ${nat.enqueue.rate} msg/s, dequeue ${nat.dequeue.rate} msg/s`);
    } catch (e) {
      const error = describeError(e, secrets);
      log(`    native failed: ${error}`);
      result.native = {
        tool: engine.native.tool,
        how: engine.native.describe({ messageBytes: size.bytes }),
        commands: [],
        enqueue: { requested: n, count: 0, rate: 0, partial: true, error },
        dequeue: { requested: n, count: 0, rate: 0, partial: true, error },
      };
    }
    result.ratio.enqueue = ratio(result.ours.enqueue.rate, result.native.enqueue.rate);
    result.ratio.dequeue = ratio(result.ours.dequeue.rate, result.native.dequeue.rate);
  }
  return result;
}

/** Runs the benchmark; never throws for a broker's trouble (it is recorded in the report). */
export async function runBench(cfg: BenchConfig): Promise<BenchReport> {
  const log = cfg.log ?? (() => {});
  const runId = cfg.runId ?? shortId();
  const startedAt = new Date().toISOString();
  const cpu = cpus();
  const report: BenchReport = {
    schema: 'mqop-bench/1',
    startedAt,
    finishedAt: startedAt,
    host: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    options: {
      messages: cfg.messages,
      sizes: cfg.sizes.map((s) => s.bytes),
      maxSeconds: cfg.maxSeconds,
      native: cfg.native,
      quick: cfg.quick,
    },
    notes: [...(cfg.notes ?? [])],
    engines: [],
  };
  for (const plan of cfg.engines) {
    const engine = BENCH_ENGINES.get(plan.engine);
    const er: EngineResult = {
      engine: plan.engine,
      url: redactUrl(plan.target.url),
      notes: [...(plan.notes ?? [])],
      sizes: [],
    };
    report.engines.push(er);
    if (!engine) {
      er.error = `no benchmark for engine "${plan.engine}" (have: ${benchEngines().join(', ')})`;
      continue;
    }
    if (plan.error) {
      er.error = plan.error;
      log(`${plan.engine}: not run: ${plan.error}`);
      continue;
    }
    log(`${plan.engine}: ${plan.target.url.replace(/\/\/[^@/]*@/, '//')}`);
    try {
      er.brokerVersion = await engine.brokerVersion?.(plan.target);
    } catch {
      // best effort
    }
    if (cfg.native && engine.native) {
      er.nativeTool = engine.native.tool;
      try {
        await engine.native.prepare(cfg.repoRoot, log);
      } catch (e) {
        er.notes.push(`native tool unavailable: ${describeError(e, [plan.target.password])}`);
      }
    }
    for (const size of cfg.sizes) {
      er.sizes.push(await benchSize(engine, plan, size, cfg, runId, log));
      for (const [phase, r] of [
        ['enqueue', er.sizes.at(-1)?.ours.enqueue],
        ['dequeue', er.sizes.at(-1)?.ours.dequeue],
      ] as const) {
        if (r?.partial) {
          er.notes.push(
            `${size.bytes} B ${phase} (ours) partial: ${r.count} of ${r.requested}${r.error ? ` (${r.error})` : ''}`,
          );
        }
      }
    }
  }
  report.finishedAt = new Date().toISOString();
  return report;
}
