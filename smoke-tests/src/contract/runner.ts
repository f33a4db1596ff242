/**
 * The one runner every engine's smoke test goes through: validate the options, name the run,
 * count with one {@link SmokeCounter}, race the engine's body against the deadline, classify and
 * redact a failure, always clean up, and build the SmokeResult. Engines do the protocol; the
 * contract files (run-options, payload, counter, errors, deadline) do the bookkeeping, so that
 * every engine counts the same way.
 */
import type { SmokeErrorKind, SmokeOptions, SmokeResult } from '../types.ts';
import { failedResult, SmokeCounter } from './counter.ts';
import { Deadline } from './deadline.ts';
import { type ClassifyOptions, classifyError, describeError, redact } from './errors.ts';
import { runName, validateOptions } from './run-options.ts';

/** Per-engine adjustments of {@link runSmoke}. */
export interface RunTuning {
  /**
   * Milliseconds at the end of the timeout kept for cleanup: the deadline comes that much earlier,
   * so that the run, cleanup included, ends within the timeout (see {@link Deadline}). Default 0:
   * cleanup runs after the deadline and bounds itself.
   */
  cleanupReserveMillis?: (timeoutMillis: number) => number;
}

/**
 * The common shape of a run: validate, name, count, race against the deadline, classify and
 * redact the failure, always call `cleanup`, and produce the SmokeResult. Engines implement `body`
 * (connect, create, produce, consume; it may set `ctx.summary`, the message of a passing run) and `cleanup`
 * (delete what the run created, close connections; it must not throw and should bound itself,
 * e.g. with {@link bestEffort}).
 */
export async function runSmoke(
  options: SmokeOptions,
  secrets: Array<string | undefined>,
  classify: ClassifyOptions,
  body: (ctx: RunContext) => Promise<void>,
  cleanup: (ctx: RunContext, failed: boolean) => Promise<void>,
  tuning: RunTuning = {},
): Promise<SmokeResult> {
  const started = performance.now();
  let ctx: RunContext;
  try {
    validateOptions(options);
    const { runId, name } = runName(options.runId);
    const reserve = tuning.cleanupReserveMillis?.(options.timeoutSeconds * 1000) ?? 0;
    const deadline = new Deadline(options.timeoutSeconds, reserve);
    ctx = { runId, name, deadline, counter: new SmokeCounter(runId, options.messages), options };
  } catch (err) {
    return {
      ...failedResult(classifyError(err, classify), describeError(err, secrets)),
      durationMillis: Math.round(performance.now() - started),
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
  const result = ctx.counter.result(duration, error);
  if (result.ok && ctx.summary) result.message = redact(ctx.summary, secrets);
  return result;
}

/** What {@link runSmoke} hands to an engine's body and cleanup. */
export interface RunContext {
  runId: string;
  /** The run's own queue/stream/topic: `mqop-smoke-<runId>`. */
  name: string;
  deadline: Deadline;
  counter: SmokeCounter;
  options: SmokeOptions;
  /** Set by the body: the result's message if the run passes (none otherwise). */
  summary?: string;
}
