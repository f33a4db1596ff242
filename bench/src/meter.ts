/**
 * Counting one phase of the benchmark: messages done, a checkpoint every tenth of the requested
 * count (elapsed, rate since the previous checkpoint), and the phase's result. Pure apart from
 * the clock, which tests inject.
 */
import type { Checkpoint, PhaseResult, Progress } from './types.ts';

/** Messages per second for `count` messages in `millis`; 0 when nothing can be said. */
export function ratePerSecond(count: number, millis: number): number {
  if (!(millis > 0) || !(count > 0)) return 0;
  return count / (millis / 1000);
}

/** The counts at which checkpoints fall: every tenth of `requested` (fewer for tiny runs). */
export function checkpointMarks(requested: number, parts = 10): number[] {
  const marks: number[] = [];
  for (let i = 1; i <= parts; i++) {
    const m = Math.round((i * requested) / parts);
    if (m > 0 && m !== marks[marks.length - 1]) marks.push(m);
  }
  return marks;
}

export class PhaseMeter implements Progress {
  readonly requested: number;
  count = 0;
  private readonly clock: () => number;
  private readonly marks: number[];
  private next = 0;
  private started = 0;
  private lastCount = 0;
  private lastAt = 0;
  private readonly checkpoints: Checkpoint[] = [];
  private readonly onCheckpoint: ((c: Checkpoint) => void) | undefined;

  constructor(
    requested: number,
    opts: { clock?: () => number; onCheckpoint?: (c: Checkpoint) => void } = {},
  ) {
    this.requested = requested;
    this.clock = opts.clock ?? (() => performance.now());
    this.marks = checkpointMarks(requested);
    this.onCheckpoint = opts.onCheckpoint;
  }

  /** Starts the phase's clock. */
  start(): void {
    this.started = this.clock();
    this.lastAt = this.started;
    this.lastCount = 0;
  }

  /** `k` more messages done now. */
  add(k = 1): void {
    this.count += k;
    if (this.next < this.marks.length && this.count >= (this.marks[this.next] as number)) {
      while (this.next < this.marks.length && this.count >= (this.marks[this.next] as number)) this.next++;
      this.checkpoint(this.clock());
    }
  }

  private checkpoint(now: number): void {
    const c: Checkpoint = {
      count: this.count,
      elapsedMillis: round1(now - this.started),
      rate: Math.round(ratePerSecond(this.count - this.lastCount, now - this.lastAt)),
    };
    this.lastCount = this.count;
    this.lastAt = now;
    this.checkpoints.push(c);
    this.onCheckpoint?.(c);
  }

  /** Milliseconds since start(). */
  elapsed(): number {
    return this.clock() - this.started;
  }

  /** Ends the phase; a last checkpoint marks where a partial phase stopped. */
  finish(error?: string): PhaseResult {
    const now = this.clock();
    if (this.count > this.lastCount) this.checkpoint(now);
    const elapsedMillis = now - this.started;
    const out: PhaseResult = {
      requested: this.requested,
      count: this.count,
      elapsedMillis: round1(elapsedMillis),
      rate: Math.round(ratePerSecond(this.count, elapsedMillis)),
      partial: this.count < this.requested,
      checkpoints: this.checkpoints.slice(),
    };
    if (error) out.error = error;
    return out;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
