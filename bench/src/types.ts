/**
 * The shapes of the seed benchmark: what an engine implements to be benchmarked (our client: a queue
 * that can enqueue and dequeue; the native tool: a ceiling run in the same conditions), and what
 * a run reports. One engine = one {@link BenchEngine}; ActiveMQ, RocketMQ and ZeroMQ plug in by
 * adding one to the registry in `../bench.ts`.
 */
import type { SmokeTarget } from '../../smoke-tests/src/types.ts';

export type BenchPhase = 'enqueue' | 'dequeue';

/** Every N/10 messages of a phase: where we were and how fast the last tenth went. */
export interface Checkpoint {
  /** Messages done (confirmed / received) at this checkpoint. */
  count: number;
  /** Since the start of the phase. */
  elapsedMillis: number;
  /** Messages per second since the previous checkpoint (or the start). */
  rate: number;
}

/** One phase of one size through one client. */
export interface PhaseResult {
  /** Messages asked for. */
  requested: number;
  /** Messages done: confirmed by the broker (enqueue) or received (dequeue). */
  count: number;
  elapsedMillis: number;
  /** count / elapsed, messages per second; 0 when nothing was measured. */
  rate: number;
  /** Stopped before `requested` (the --max-seconds guard, or an error). */
  partial: boolean;
  error?: string;
  checkpoints: Checkpoint[];
}

/** One phase of the native tool. */
export interface NativePhaseResult {
  requested: number;
  count: number;
  /** Messages per second as the tool reports it (or as computed from its report; see `how`). */
  rate: number;
  partial: boolean;
  error?: string;
  /** How the rate was obtained, e.g. "redis-benchmark rps x COUNT". */
  how?: string;
  /** Extra figures the tool printed that are worth keeping (e.g. fetch-only rate). */
  extra?: Record<string, number>;
}

/** What the native tool did for one size. */
export interface NativeRun {
  tool: string;
  /** The command lines run (secrets redacted), for the record. */
  commands: string[];
  enqueue: NativePhaseResult;
  dequeue: NativePhaseResult;
  /**
   * Other figures of the same tool, for reference only (not in the ratio), e.g. redis-benchmark's
   * LPUSH / RPOP on a list next to XADD / XREADGROUP on a stream.
   */
  reference?: Record<string, NativePhaseResult>;
}

/** Context an engine gets for one size. */
export interface BenchRunContext {
  /** Name of the queue/stream/topic (`mqop-bench-<id>`); the engine creates it and deletes it. */
  name: string;
  messageBytes: number;
  /** Messages to enqueue (and then dequeue). */
  messages: number;
  /** Per-phase guard. */
  maxSeconds: number;
  /** The repository root (native tools are run from `bench/native/`). */
  repoRoot: string;
  /** Progress and diagnostics, one line each; never secrets. */
  log: (line: string) => void;
  /** The variant being run (its id), for engines that have {@link BenchEngine.variants}. */
  variant?: string;
}

/**
 * A second way to run the same engine, reported as its own row (e.g. ActiveMQ durable and
 * non-durable): `id` goes into queue names, `label` into the report.
 */
export interface BenchVariant {
  id: string;
  label: string;
}

/**
 * What an engine's queue reports progress to (the phase's {@link PhaseMeter} in meter.ts, which
 * implements it): `k` more messages confirmed or received. Declared here, not imported from
 * meter.ts, so that meter.ts → types.ts is the only direction.
 */
export interface Progress {
  add(k?: number): void;
}

/** Our client on one queue: made by {@link BenchEngine.open}, closed (queue deleted) by close(). */
export interface BenchQueue {
  /**
   * Enqueues `n` messages of the context's size, with pipelining/batching/confirms in flight,
   * calling `meter.add(k)` as the broker confirms them. Stops early (without throwing) when
   * `signal` aborts; resolves once nothing is in flight any more.
   */
  enqueue(n: number, meter: Progress, signal: AbortSignal): Promise<void>;
  /** Dequeues (and acknowledges) `n` messages, calling `meter.add(k)` as they arrive. */
  dequeue(n: number, meter: Progress, signal: AbortSignal): Promise<void>;
  /** Deletes the queue/stream/topic (and group) and closes connections. Must not throw. */
  close(): Promise<void>;
}

/** One engine of the benchmark. */
export interface BenchEngine {
  engine: string;
  /** How our client is used, one line for the report (e.g. "ioredis: XADD pipelined ..."). */
  describeOurs(ctx: { messageBytes: number; variant?: string }): string;
  /** Creates the queue/stream/topic `ctx.name` and connects. */
  open(target: SmokeTarget, ctx: BenchRunContext): Promise<BenchQueue>;
  /** The broker's version, when the engine can tell (best effort). */
  brokerVersion?(target: SmokeTarget): Promise<string | undefined>;
  /** The native tool, if this engine has one. */
  native?: NativeBench;
  /** Each variant is benchmarked as its own row (ours and native); default: one unnamed run. */
  variants?: BenchVariant[];
  /**
   * N for this engine when none is given for it: min(the run's N, this), for brokers too slow
   * for the seed's 1,000,000 within the time budget; `why` goes into the report's notes.
   */
  maxMessages?: { messages: number; why: string };
  /** Said in the report's section for this engine (e.g. why there is no native tool). */
  notes?: string[];
  /**
   * Enqueue and dequeue run at the same time (each with its own meter, started together), for
   * engines that store nothing (ZeroMQ): N messages cannot wait in the broker for a later phase.
   */
  concurrentPhases?: boolean;
}

export interface NativeBench {
  tool: string;
  /** How the tool is run, one line for the report. */
  describe(ctx: { messageBytes: number; variant?: string }): string;
  /** Fetches/installs the tool (idempotent); throws when it cannot. */
  prepare(repoRoot: string, log: (line: string) => void): Promise<void>;
  /**
   * Enqueues then dequeues `ctx.messages` on its own queue `ctx.name` (created and deleted here),
   * each phase bounded by `ctx.maxSeconds`.
   */
  run(target: SmokeTarget, ctx: BenchRunContext): Promise<NativeRun>;
}

/** One size of one engine. */
export interface SizeResult {
  messageBytes: number;
  messages: number;
  /** Our client's queue name. */
  name: string;
  ours: { enqueue: PhaseResult; dequeue: PhaseResult; how: string };
  native?: NativeRun & { how: string };
  /** ours / native, per phase; undefined when either side has no rate. */
  ratio: { enqueue?: number; dequeue?: number };
  /** The host's 1-minute load average when this size started (others may share the CPUs). */
  loadAverage?: number;
}

export interface EngineResult {
  engine: string;
  /** The variant's label (e.g. "non-durable"), when the engine has variants. */
  variant?: string;
  /** Redacted. */
  url: string;
  brokerVersion?: string;
  nativeTool?: string;
  /** Why N was lowered, which phases were partial, what was skipped... */
  notes: string[];
  sizes: SizeResult[];
  error?: string;
  /**
   * Set on an engine taken from an earlier run's JSON (`npm run bench -- --merge`): when that run
   * started, its file, and the host's load average then.
   */
  run?: { startedAt: string; file: string; loadAverageAtStart?: number[] };
}

export interface BenchReport {
  schema: 'mqop-bench/1';
  startedAt: string;
  finishedAt: string;
  host: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    loadAverageAtStart: number[];
  };
  options: {
    messages: number;
    sizes: number[];
    maxSeconds: number;
    native: boolean;
    quick: boolean;
  };
  /** Notes on the whole run (why N was lowered, what else ran on the host...), markdown. */
  notes: string[];
  engines: EngineResult[];
  /** The earlier runs whose engines were merged in for display (seed.md / seed.svg only). */
  merged?: Array<{
    file: string;
    startedAt: string;
    finishedAt: string;
    engines: string[];
    messages: number;
  }>;
}
