/**
 * The keyed work queue between watch callbacks and reconcile: keys are `namespace/name`.
 * - de-duplicated: a key queued twice runs once;
 * - one reconcile in flight per key: a key added while it runs is run again afterwards;
 * - per-key exponential backoff after failures, reset by a success;
 * - bounded concurrency.
 */

export interface ReconcileOutcome {
  /** Run this key again after this many milliseconds (periodic work, short conflict retry). */
  requeueAfterMs?: number;
}

export type Handler = (key: string) => Promise<ReconcileOutcome | undefined>;

export interface WorkQueueOptions {
  concurrency: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called when a handler throws; the key is retried with backoff. */
  onError?: (key: string, err: unknown, attempt: number) => void;
}

/** Delay before the n-th retry (n ≥ 1): base · 2^(n-1), capped. Pure, for tests. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly idleWaiters: (() => void)[] = [];
  private running = 0;
  private stopped = false;
  private readonly handler: Handler;
  private readonly opts: Required<Omit<WorkQueueOptions, 'onError'>> & Pick<WorkQueueOptions, 'onError'>;

  constructor(handler: Handler, opts: WorkQueueOptions) {
    this.handler = handler;
    this.opts = { baseDelayMs: 500, maxDelayMs: 60_000, ...opts };
  }

  /** Queue a key now. */
  add(key: string): void {
    if (this.stopped) return;
    const t = this.timers.get(key);
    if (t) {
      clearTimeout(t);
      this.timers.delete(key);
    }
    if (this.inFlight.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Queue a key after a delay, unless it is queued sooner (the earlier time wins). */
  addAfter(key: string, ms: number): void {
    if (this.stopped || this.queued.has(key) || this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  /** Keys waiting (not in flight), for the queue-depth metric. */
  depth(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or running (timers may still be pending). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking work; resolves when in-flight reconciles finish. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    await this.idle();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.opts.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.queued.delete(key);
      this.inFlight.add(key);
      this.running++;
      void this.process(key);
    }
    if (this.queue.length === 0 && this.running === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async process(key: string): Promise<void> {
    let retryAfter: number | undefined;
    try {
      const outcome = await this.handler(key);
      this.failures.delete(key);
      retryAfter = outcome?.requeueAfterMs;
    } catch (err) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.opts.onError?.(key, err, attempt);
      retryAfter = backoffDelay(attempt, this.opts.baseDelayMs, this.opts.maxDelayMs);
    } finally {
      this.inFlight.delete(key);
      this.running--;
    }
    if (this.dirty.delete(key)) this.add(key);
    else if (retryAfter !== undefined) this.addAfter(key, retryAfter);
    this.pump();
  }
}
