/**
 * Shared pieces of every engine's smoke test: the run's name, the message payload (run id,
 * sequence number, send time, padding), the counters (produced, consumed, lost, duplicated,
 * out of order, latency percentiles), the run's deadline, and error classification and
 * redaction. Engine files do the protocol; this file does the bookkeeping, so that every engine
 * counts the same way.
 */
import { randomBytes } from 'node:crypto';
import type { SmokeErrorKind, SmokeOptions, SmokeResult } from './types.ts';

/** Prefix of every queue/stream/topic a smoke run creates; nothing else is ever touched. */
export const SMOKE_PREFIX = 'mqop-smoke-';

/** A random run id: 12 lowercase hex characters (valid in every engine's queue/topic names). */
export function newRunId(): string {
  return randomBytes(6).toString('hex');
}

/** The run id to use and the name of the run's own queue/stream/topic. */
export function runName(runId?: string): { runId: string; name: string } {
  const id = runId ?? newRunId();
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) {
    throw new SmokeError('protocol', 'runId must be 1-100 characters of A-Z a-z 0-9 . _ -');
  }
  return { runId: id, name: `${SMOKE_PREFIX}${id}` };
}

/** Checks options; throws a SmokeError('protocol') naming the bad one. */
export function validateOptions(o: SmokeOptions): void {
  if (!Number.isInteger(o.messages) || o.messages < 1) {
    throw new SmokeError('protocol', 'messages must be an integer >= 1');
  }
  if (!Number.isInteger(o.messageBytes) || o.messageBytes < 0) {
    throw new SmokeError('protocol', 'messageBytes must be an integer >= 0');
  }
  if (!(o.timeoutSeconds > 0)) throw new SmokeError('protocol', 'timeoutSeconds must be > 0');
}

// ---------------------------------------------------------------------------------------------
// Payload

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across processes). */
export function nowMillis(): number {
  return performance.timeOrigin + performance.now();
}

const MAGIC = 'mqop1';
const PAD = 0x2e; // '.'

/** What a payload says about itself. */
export interface PayloadHeader {
  runId: string;
  seq: number;
  /** Send time, {@link nowMillis} clock. */
  sentAt: number;
}

/**
 * A message of `size` bytes: ASCII header `mqop1 <runId> <seq> <sentAt>\n` padded with dots. All
 * printable ASCII, so it travels as a string or as bytes alike. When `size` is smaller than the
 * header, the message is the header alone (about 40 bytes).
 */
export function encodePayload(runId: string, seq: number, size: number, sentAt = nowMillis()): Buffer {
  const header = `${MAGIC} ${runId} ${seq} ${sentAt.toFixed(3)}\n`;
  const len = Math.max(size, header.length);
  const buf = Buffer.allocUnsafe(len);
  buf.write(header, 0, 'latin1');
  buf.fill(PAD, header.length);
  return buf;
}

/** Reads a payload's header; undefined for anything that is not a smoke payload. */
export function decodePayload(data: Buffer | Uint8Array | string): PayloadHeader | undefined {
  let head: string;
  if (typeof data === 'string') {
    head = data.slice(0, 160);
  } else {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    head = b.toString('latin1', 0, Math.min(b.length, 160));
  }
  const nl = head.indexOf('\n');
  if (nl < 0) return undefined;
  const parts = head.slice(0, nl).split(' ');
  if (parts.length !== 4 || parts[0] !== MAGIC) return undefined;
  const seq = Number(parts[2]);
  const sentAt = Number(parts[3]);
  if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isFinite(sentAt)) return undefined;
  return { runId: parts[1] as string, seq, sentAt };
}

// ---------------------------------------------------------------------------------------------
// Counting

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

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Errors and the deadline

/** An error that already knows its kind; engines throw it for conditions they recognise. */
export class SmokeError extends Error {
  readonly kind: SmokeErrorKind;
  constructor(kind: SmokeErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SmokeError';
    this.kind = kind;
  }
}

/** Socket error codes that mean "could not reach the broker". */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOENT', // unix socket path
]);

/** Words brokers use when credentials are wrong. Engines may add their own. */
export const AUTH_PATTERN =
  /WRONGPASS|NOAUTH|invalid username|invalid password|ACCESS[-_ ]REFUSED|authentication (failed|failure|error)|SASL|not authori[sz]ed|unauthori[sz]ed|bad credentials|login failed|access denied|permission denied|NOPERM/i;

/** Walks an error, its `cause` chain and AggregateError members. */
function* errorChain(err: unknown, depth = 0): Generator<unknown> {
  if (err === undefined || err === null || depth > 8) return;
  yield err;
  if (err instanceof AggregateError) for (const e of err.errors) yield* errorChain(e, depth + 1);
  if (typeof err === 'object' && 'cause' in err)
    yield* errorChain((err as { cause: unknown }).cause, depth + 1);
}

function codeOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

export interface ClassifyOptions {
  /** Extra engine-specific test for an auth failure. */
  isAuth?: (err: unknown) => boolean;
  /** Extra engine-specific test for an unreachable broker. */
  isUnreachable?: (err: unknown) => boolean;
}

/**
 * The kind of a failure: a {@link SmokeError} keeps its own; otherwise auth words or the engine's
 * `isAuth` → 'auth'; socket codes of {@link UNREACHABLE_CODES} or `isUnreachable` →
 * 'unreachable'; anything else → 'protocol'.
 */
export function classifyError(err: unknown, opts: ClassifyOptions = {}): SmokeErrorKind {
  const chain = [...errorChain(err)];
  for (const e of chain) if (e instanceof SmokeError) return e.kind;
  for (const e of chain) if (opts.isAuth?.(e) || AUTH_PATTERN.test(messageOf(e))) return 'auth';
  for (const e of chain) {
    const code = codeOf(e);
    if ((code && UNREACHABLE_CODES.has(code)) || opts.isUnreachable?.(e)) return 'unreachable';
  }
  return 'protocol';
}

/**
 * Removes secrets from a message: every given secret of 4 characters or more (and its URL-encoded
 * form) becomes `***`, and so does the password part of any `scheme://user:password@` in the text.
 */
export function redact(text: string, secrets: Array<string | undefined> = []): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
  for (const s of secrets) {
    // Very short secrets would blank out ordinary digits and words; URLs are covered above.
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('***');
  }
  return out;
}

/** A one-line, secret-free description of an error (with its cause's message when it adds one). */
export function describeError(err: unknown, secrets: Array<string | undefined> = []): string {
  const chain = [...errorChain(err)];
  const parts: string[] = [];
  for (const e of chain) {
    const code = codeOf(e);
    let m = messageOf(e).trim();
    if (!m && code) m = code;
    else if (code && !m.includes(code)) m = `${m} (${code})`;
    if (m && !parts.some((p) => p.includes(m))) parts.push(m);
  }
  return redact(parts.join(': ') || 'unknown error', secrets)
    .replace(/\s+/g, ' ')
    .slice(0, 1000);
}

/**
 * The run's global deadline. `signal` aborts when it passes; {@link race} rejects with a
 * SmokeError('timeout') at the deadline; {@link remaining} bounds sub-steps (connect timeouts,
 * blocking reads).
 */
export class Deadline {
  readonly timeoutMillis: number;
  readonly startedAt: number;
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(timeoutSeconds: number) {
    this.timeoutMillis = Math.max(1, Math.round(timeoutSeconds * 1000));
    this.startedAt = performance.now();
    this.signal = this.controller.signal;
    this.timer = setTimeout(
      () => this.controller.abort(new SmokeError('timeout', `timed out after ${timeoutSeconds}s`)),
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

/**
 * The common shape of a run: validate, name, count, race against the deadline, classify and
 * redact the failure, always call `cleanup`, and produce the SmokeResult. Engines implement `body`
 * (connect, create, produce, consume) and `cleanup` (delete what the run created, close
 * connections; it must not throw and should bound itself, e.g. with {@link bestEffort}).
 */
export async function runSmoke(
  options: SmokeOptions,
  secrets: Array<string | undefined>,
  classify: ClassifyOptions,
  body: (ctx: RunContext) => Promise<void>,
  cleanup: (ctx: RunContext, failed: boolean) => Promise<void>,
): Promise<SmokeResult> {
  const started = performance.now();
  let ctx: RunContext;
  try {
    validateOptions(options);
    const { runId, name } = runName(options.runId);
    const deadline = new Deadline(options.timeoutSeconds);
    ctx = { runId, name, deadline, counter: new SmokeCounter(runId, options.messages), options };
  } catch (err) {
    return {
      ...new SmokeCounter('', 0).result(performance.now() - started),
      ok: false,
      errorKind: classifyError(err, classify),
      message: describeError(err, secrets),
    };
  }
  let error: { kind: SmokeErrorKind; message: string } | undefined;
  try {
    await ctx.deadline.race(body(ctx));
  } catch (err) {
    const e = ctx.deadline.expired ? ctx.deadline.signal.reason : err;
    error = { kind: classifyError(e, classify), message: describeError(e, secrets) };
  }
  const duration = performance.now() - started;
  try {
    await cleanup(ctx, error !== undefined);
  } catch {
    // cleanup is best effort by contract
  }
  ctx.deadline.dispose();
  return ctx.counter.result(duration, error);
}

/** What {@link runSmoke} hands to an engine's body and cleanup. */
export interface RunContext {
  runId: string;
  /** The run's own queue/stream/topic: `mqop-smoke-<runId>`. */
  name: string;
  deadline: Deadline;
  counter: SmokeCounter;
  options: SmokeOptions;
}
