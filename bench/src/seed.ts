/**
 * The seed benchmark (`npm run bench`): for each engine and message size, enqueue N messages through
 * our client (pipelining / batching / confirms in flight), then dequeue them all, as two separate
 * phases, each with a checkpoint every N/10 and a `maxSeconds` guard; then the same through the
 * engine's native tool (the ceiling), and the ratio ours / native. Every queue/stream/topic is the
 * run's own (`mqop-bench-<id>`) and is deleted afterwards.
 *
 * Engines plug in through {@link BENCH_ENGINES}: one {@link BenchEngine} per engine (see
 * `bench/types.ts`): `open` makes the run's queue and returns enqueue/dequeue through our client,
 * `native` runs the engine's own tool through a `bench/native/*.sh` helper. An engine may have
 * variants (each its own row, e.g. ActiveMQ durable / non-durable) and a cap on N for brokers too
 * slow for the seed's 1,000,000 in the time budget (`maxMessages`, said in the report).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { describeError } from '../../smoke-tests/src/contract/errors.ts';
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';
import { activemqBench } from './activemq.ts';
import { kafkaBench } from './kafka.ts';
import { PhaseMeter } from './meter.ts';
import { rabbitmqBench } from './rabbitmq.ts';
import { redisBench } from './redis.ts';
import { rocketmqBench } from './rocketmq.ts';
import type {
  BenchEngine,
  BenchPhase,
  BenchQueue,
  BenchReport,
  BenchRunContext,
  BenchVariant,
  EngineResult,
  PhaseResult,
  SizeResult,
} from './types.ts';
import { redactUrl, shortId } from './util.ts';
import { zeromqBench } from './zeromq.ts';

export { mergeReports, renderMarkdown, renderSvg, resultFileNames, writeResults } from './report.ts';
export type { BenchReport } from './types.ts';

/** Prefix of every queue/stream/topic the benchmark creates. */
export const BENCH_PREFIX = 'mqop-bench-';

const ENGINES: readonly BenchEngine[] = [
  redisBench,
  rabbitmqBench,
  kafkaBench,
  activemqBench,
  rocketmqBench,
  zeromqBench,
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

/** Concurrent phases: how long the dequeue may go on after the enqueue phase ended short. */
const CONCURRENT_GRACE_SECONDS = 5;

/** Runs one phase of our client under the guard (and `stop`, when given); never throws. */
async function runPhase(
  q: BenchQueue,
  phase: BenchPhase,
  n: number,
  maxSeconds: number,
  log: (line: string) => void,
  secrets: Array<string | undefined>,
  stop?: AbortSignal,
): Promise<PhaseResult> {
  const meter = new PhaseMeter(n, {
    onCheckpoint: (c) =>
      log(`    ${phase} ${c.count}/${n} at ${(c.elapsedMillis / 1000).toFixed(1)}s: ${c.rate} msg/s`),
  });
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), maxSeconds * 1000);
  const onStop = () => ac.abort();
  stop?.addEventListener('abort', onStop, { once: true });
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
    stop?.removeEventListener('abort', onStop);
  }
  if (!error && ac.signal.aborted && meter.count < n) {
    error = stop?.aborted ? String(stop.reason) : `stopped by the ${maxSeconds}s guard`;
  }
  return meter.finish(error);
}

function emptyPhase(n: number, error: string): PhaseResult {
  return { requested: n, count: 0, elapsedMillis: 0, rate: 0, partial: true, error, checkpoints: [] };
}

/** N for an engine: the plan's, else the run's capped by the engine's `maxMessages`. */
export function engineMessages(globalN: number, engine: BenchEngine, plan: BenchEnginePlan): number {
  if (plan.messages !== undefined) return plan.messages;
  return engine.maxMessages ? Math.min(globalN, engine.maxMessages.messages) : globalN;
}

async function benchSize(
  engine: BenchEngine,
  variant: BenchVariant | undefined,
  plan: BenchEnginePlan,
  size: BenchSizePlan,
  cfg: BenchConfig,
  runId: string,
  log: (line: string) => void,
): Promise<SizeResult> {
  const n = messagesFor(cfg.messages, engineMessages(cfg.messages, engine, plan), size.messages);
  const label = variant ? `${engine.engine}-${variant.id}` : engine.engine;
  const name = `${BENCH_PREFIX}${runId}-${label}-${size.bytes}`;
  const secrets = [plan.target.password];
  const ctx: BenchRunContext = {
    name,
    messageBytes: size.bytes,
    messages: n,
    maxSeconds: cfg.maxSeconds,
    repoRoot: cfg.repoRoot,
    log,
  };
  if (variant) ctx.variant = variant.id;
  const describeCtx = variant
    ? { messageBytes: size.bytes, variant: variant.id }
    : { messageBytes: size.bytes };
  const load = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  log(`  ${label} ${size.bytes} B x ${n}: ours (${name}), load ${load}`);
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
      if (engine.concurrentPhases) {
        // The consumer first, so that it is there when the first message arrives.
        const stopDequeue = new AbortController();
        const deq = runPhase(q, 'dequeue', n, cfg.maxSeconds, log, secrets, stopDequeue.signal);
        enqueue = await runPhase(q, 'enqueue', n, cfg.maxSeconds, log, secrets);
        // A sender that stopped short: what it sent may still arrive, for a few seconds.
        const grace = enqueue.partial
          ? setTimeout(
              () =>
                stopDequeue.abort(`stopped ${CONCURRENT_GRACE_SECONDS}s after the enqueue phase ended short`),
              CONCURRENT_GRACE_SECONDS * 1000,
            )
          : undefined;
        dequeue = await deq;
        clearTimeout(grace);
      } else {
        enqueue = await runPhase(q, 'enqueue', n, cfg.maxSeconds, log, secrets);
        dequeue = await runPhase(q, 'dequeue', enqueue.count, cfg.maxSeconds, log, secrets);
      }
      log(
        `    enqueue: ${enqueue.count} in ${(enqueue.elapsedMillis / 1000).toFixed(2)}s = ${enqueue.rate} msg/s`,
      );
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
    ours: { enqueue: enqueue!, dequeue: dequeue!, how: engine.describeOurs(describeCtx) },
    ratio: {},
  };
  if (cfg.native && engine.native) {
    log(`  ${label} ${size.bytes} B x ${n}: native ${engine.native.tool}`);
    try {
      const nat = await engine.native.run(plan.target, { ...ctx, name: `${name}-native` });
      result.native = { ...nat, how: engine.native.describe(describeCtx) };
      log(`    native enqueue ${nat.enqueue.rate} msg/s, dequeue ${nat.dequeue.rate} msg/s`);
    } catch (e) {
      const error = describeError(e, secrets);
      log(`    native failed: ${error}`);
      result.native = {
        tool: engine.native.tool,
        how: engine.native.describe(describeCtx),
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
    const variants: Array<BenchVariant | undefined> = engine?.variants?.length
      ? engine.variants
      : [undefined];
    const results: EngineResult[] = variants.map((v) => {
      const er: EngineResult = {
        engine: plan.engine,
        url: redactUrl(plan.target.url),
        notes: [...(plan.notes ?? [])],
        sizes: [],
      };
      if (v) er.variant = v.label;
      report.engines.push(er);
      return er;
    });
    if (!engine) {
      for (const er of results) {
        er.error = `no benchmark for engine "${plan.engine}" (have: ${benchEngines().join(', ')})`;
      }
      continue;
    }
    if (plan.error) {
      for (const er of results) er.error = plan.error;
      log(`${plan.engine}: not run: ${plan.error}`);
      continue;
    }
    log(`${plan.engine}: ${plan.target.url.replace(/\/\/[^@/]*@/, '//')}`);
    let brokerVersion: string | undefined;
    try {
      brokerVersion = await engine.brokerVersion?.(plan.target);
    } catch {
      // best effort
    }
    const n = engineMessages(cfg.messages, engine, plan);
    const capNote =
      plan.messages === undefined && n < cfg.messages && engine.maxMessages
        ? `N = ${n.toLocaleString('en-US')} per size for ${plan.engine} (its cap; the run's N is ${cfg.messages.toLocaleString('en-US')}): ${engine.maxMessages.why}`
        : undefined;
    let nativeNote: string | undefined;
    if (cfg.native && engine.native) {
      try {
        await engine.native.prepare(cfg.repoRoot, log);
      } catch (e) {
        nativeNote = `native tool unavailable: ${describeError(e, [plan.target.password])}`;
      }
    }
    for (const [i, variant] of variants.entries()) {
      const er = results[i] as EngineResult;
      if (brokerVersion) er.brokerVersion = brokerVersion;
      if (cfg.native && engine.native) er.nativeTool = engine.native.tool;
      if (capNote) er.notes.push(capNote);
      er.notes.push(...(engine.notes ?? []));
      if (nativeNote) er.notes.push(nativeNote);
      for (const size of cfg.sizes) {
        er.sizes.push(await benchSize(engine, variant, plan, size, cfg, runId, log));
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
  }
  report.finishedAt = new Date().toISOString();
  return report;
}
