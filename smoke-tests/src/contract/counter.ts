/**
 * Counting one run the same way for every engine: produced, consumed, lost, duplicated, out of
 * order and latency percentiles, and the run's {@link SmokeResult}.
 */
import type { SmokeErrorKind, SmokeResult } from '../types.ts';
import { sleep } from './deadline.ts';
import { decodePayload, encodePayload, nowMillis } from './payload.ts';

/** Nearest-rank percentile (p in 0..100) of unsorted values; 0 for none. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  const i = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[i] as number;
}

/** What {@link SmokeCounter.receive} made of one message. */
export type ReceiveOutcome = 'new' | 'duplicate' | 'foreign';

/**
 * Counts one run. `produced` counts messages the broker confirmed (call {@link produced} per
 * confirmed message); `consumed` counts distinct sequence numbers received; a second copy of a
 * sequence number is `duplicated`; a new message whose sequence number is below the highest seen
 * so far is `outOfOrder`; `lost` is what was confirmed but never arrived. Messages of other runs
 * (or that are no smoke payload) are `foreign` and not counted.
 *
 * Engines with several independently ordered lanes (Kafka partitions) pass a lane to
 * {@link receive}: order is then checked per lane.
 */
export class SmokeCounter {
  readonly runId: string;
  readonly expected: number;
  producedCount = 0;
  consumedCount = 0;
  duplicated = 0;
  outOfOrder = 0;
  foreign = 0;
  private readonly seen: Uint8Array;
  private readonly latencies: Float64Array;
  private readonly highest = new Map<string | number, number>();

  constructor(runId: string, expected: number) {
    this.runId = runId;
    this.expected = expected;
    this.seen = new Uint8Array(expected);
    this.latencies = new Float64Array(expected);
  }

  /** The payload of message `seq` of this run, stamped now. */
  encode(seq: number, size: number): Buffer {
    return encodePayload(this.runId, seq, size);
  }

  /** One message confirmed by the broker (or `n` at once). */
  produced(n = 1): void {
    this.producedCount += n;
  }

  /** One message arrived at `receivedAt` ({@link nowMillis} clock). */
  receive(
    data: Buffer | Uint8Array | string,
    receivedAt = nowMillis(),
    lane: string | number = 0,
  ): ReceiveOutcome {
    const h = decodePayload(data);
    if (!h || h.runId !== this.runId || h.seq >= this.expected) {
      this.foreign++;
      return 'foreign';
    }
    if (this.seen[h.seq]) {
      this.duplicated++;
      return 'duplicate';
    }
    this.seen[h.seq] = 1;
    this.latencies[this.consumedCount] = Math.max(0, receivedAt - h.sentAt);
    this.consumedCount++;
    const top = this.highest.get(lane);
    if (top !== undefined && h.seq < top) this.outOfOrder++;
    if (top === undefined || h.seq > top) this.highest.set(lane, h.seq);
    return 'new';
  }

  /** Every expected message arrived. */
  get complete(): boolean {
    return this.consumedCount >= this.expected;
  }

  get lost(): number {
    return Math.max(0, this.producedCount - this.consumedCount);
  }

  /** Confirmed but not yet received: what sits in the broker now. */
  get backlog(): number {
    return this.producedCount - this.consumedCount;
  }

  /**
   * Waits (polling) while more than `max` messages sit in the broker, so that a long run never
   * piles up more than that on it. Rejects with the signal's reason.
   */
  async throttle(max: number, signal?: AbortSignal): Promise<void> {
    while (this.backlog > max) await sleep(2, signal);
  }

  /** Latencies (ms) of the messages received so far. */
  latencySample(): Float64Array {
    return this.latencies.subarray(0, this.consumedCount);
  }

  /**
   * The run's result. ok when no error was given and every message was confirmed and received
   * exactly once (duplicates and reordering are reported; duplicates fail the run, reordering
   * does not, since some engines do not promise order).
   */
  result(durationMillis: number, error?: { kind: SmokeErrorKind; message: string }): SmokeResult {
    const sample = this.latencySample();
    const ok =
      !error &&
      this.producedCount === this.expected &&
      this.consumedCount === this.expected &&
      this.duplicated === 0;
    const out: SmokeResult = {
      ok,
      produced: this.producedCount,
      consumed: this.consumedCount,
      lost: this.lost,
      duplicated: this.duplicated,
      outOfOrder: this.outOfOrder,
      p50Millis: round3(percentile(sample, 50)),
      p99Millis: round3(percentile(sample, 99)),
      durationMillis: Math.round(durationMillis),
    };
    if (error) {
      out.errorKind = error.kind;
      out.message = error.message;
    } else if (!ok) {
      out.errorKind = 'protocol';
      out.message =
        this.duplicated > 0
          ? `${this.duplicated} duplicated message(s)`
          : `produced ${this.producedCount}, consumed ${this.consumedCount} of ${this.expected}`;
    }
    return out;
  }
}

/**
 * The result of a run that produced and consumed nothing: every count zero, ok false. For
 * failures before (or instead of) a run, wherever a failed result is built.
 */
export function failedResult(errorKind: SmokeErrorKind, message: string): SmokeResult {
  return {
    ok: false,
    produced: 0,
    consumed: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    p50Millis: 0,
    p99Millis: 0,
    durationMillis: 0,
    errorKind,
    message,
  };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
