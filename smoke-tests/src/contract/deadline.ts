/**
 * Time: the run's global deadline, and sleeping and best-effort waits bounded by it.
 */
import { SmokeError } from './errors.ts';

/**
 * The run's global deadline. `signal` aborts when it passes; {@link race} rejects with a
 * SmokeError('timeout') at the deadline; {@link remaining} bounds sub-steps (connect timeouts,
 * blocking reads).
 *
 * `reserveMillis` (default 0) moves the deadline that much before the end of the run's timeout,
 * keeping the rest for cleanup, so that the whole run, cleanup included, ends within the timeout.
 */
export class Deadline {
  /** Milliseconds from the start to the deadline. */
  readonly timeoutMillis: number;
  readonly startedAt: number;
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(timeoutSeconds: number, reserveMillis = 0) {
    const total = Math.max(1, Math.round(timeoutSeconds * 1000));
    this.timeoutMillis = Math.max(1, total - Math.max(0, Math.round(reserveMillis)));
    this.startedAt = performance.now();
    this.signal = this.controller.signal;
    const message =
      this.timeoutMillis === total
        ? `timed out after ${timeoutSeconds}s`
        : `timed out after ${this.timeoutMillis / 1000}s (of ${timeoutSeconds}s; the rest is kept for cleanup)`;
    this.timer = setTimeout(
      () => this.controller.abort(new SmokeError('timeout', message)),
      this.timeoutMillis,
    );
    this.timer.unref();
  }

  /** Milliseconds since the start. */
  elapsed(): number {
    return performance.now() - this.startedAt;
  }

  /** Milliseconds left (never below 0). */
  remaining(): number {
    // Timers may fire a fraction of a millisecond before performance.now() reaches the deadline.
    if (this.signal.aborted) return 0;
    return Math.max(0, this.timeoutMillis - this.elapsed());
  }

  get expired(): boolean {
    return this.signal.aborted;
  }

  /** Throws the timeout SmokeError if the deadline has passed. */
  check(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }

  /** `p`, or a rejection with the timeout SmokeError when the deadline comes first. */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.signal.aborted) {
      p.catch(() => {});
      return Promise.reject(this.signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.signal.reason);
      this.signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e) => {
          this.signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** Stops the timer (call when the run is over). */
  dispose(): void {
    clearTimeout(this.timer);
  }
}

/** Resolves after `ms`, or rejects early with the signal's reason. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Awaits `p` for at most `ms`; undefined on timeout or failure. For best-effort cleanup steps. */
export async function bestEffort<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((resolve) => {
        t = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(t);
  }
}
