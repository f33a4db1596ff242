/**
 * Runs each ready MessageQueue's smoke test every `intervalSeconds`, and at once when the
 * annotation `mqop.dev/run-smoke-test` gets a new value. Runs are asynchronous and bounded, so a
 * slow or dead broker never blocks reconciles, and never takes the operator down. The scheduler
 * writes no status: it hands each result to the reconciler, whose status step writes it together
 * with the SmokeTestPassed condition.
 */

import { failedResult, smokeTestFor } from '../../../smoke-tests/src/index.ts';
import type { SmokeResult, SmokeTarget } from '../../../smoke-tests/src/types.ts';
import { DEFAULT_SMOKE_INTERVAL_SECONDS, type ResolvedQueue } from '../api/resolve.ts';
import { type MessageQueue, RUN_SMOKE_TEST_ANNOTATION, type SmokeTestStatus } from '../api/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { KubeObject } from './kube-client.ts';

export interface Due {
  due: boolean;
  /** The annotation value this run answers, if it was triggered by it. */
  trigger?: string;
  /** Milliseconds until the next scheduled run (when not due now). */
  inMs: number;
}

/** First retry after a failed run; doubled per consecutive failure, never beyond the interval. */
export const SMOKE_RETRY_MS = 10_000;

/**
 * How long after the last run the next one is due: the interval after a pass, a backoff after a
 * failure (a broker that just became Ready may not be reachable through its Service yet: kube-proxy
 * lags, DNS caches), so one early failure does not stand for a whole interval.
 */
export function smokeRetryMs(last: SmokeTestStatus | undefined, intervalMs: number): number {
  const failures = last?.result === 'Failed' ? Math.max(1, last.consecutiveFailures ?? 1) : 0;
  if (failures === 0) return intervalMs;
  return Math.min(intervalMs, SMOKE_RETRY_MS * 2 ** Math.min(failures - 1, 20));
}

/** Whether a smoke test is due now. Pure given `now`. */
export function smokeDue(cr: MessageQueue, ready: boolean, now: number): Due {
  const spec = cr.spec.smokeTest ?? {};
  const interval = (spec.intervalSeconds ?? DEFAULT_SMOKE_INTERVAL_SECONDS) * 1000;
  if (spec.enabled === false || !ready) return { due: false, inMs: interval };
  const annotation = cr.metadata.annotations?.[RUN_SMOKE_TEST_ANNOTATION];
  const last = cr.status?.smokeTest;
  if (annotation && annotation !== last?.trigger) return { due: true, trigger: annotation, inMs: 0 };
  const lastRun = last?.lastRunTime ? Date.parse(last.lastRunTime) : 0;
  const next = lastRun + smokeRetryMs(last, interval);
  if (next <= now) return { due: true, trigger: last?.trigger, inMs: 0 };
  return { due: false, inMs: next - now };
}

/** The status block for a result. Pure. */
export function smokeStatus(
  result: SmokeResult,
  previous: SmokeTestStatus | undefined,
  now: string,
  trigger?: string,
): SmokeTestStatus {
  return {
    lastRunTime: now,
    result: result.ok ? 'Passed' : 'Failed',
    produced: result.produced,
    consumed: result.consumed,
    lost: result.lost,
    duplicated: result.duplicated,
    outOfOrder: result.outOfOrder,
    p50Millis: Math.round(result.p50Millis * 100) / 100,
    p99Millis: Math.round(result.p99Millis * 100) / 100,
    consecutiveFailures: result.ok ? 0 : (previous?.consecutiveFailures ?? 0) + 1,
    ...(result.errorKind ? { errorKind: result.errorKind } : {}),
    message: result.ok ? '' : (result.message ?? 'failed').slice(0, 512),
    ...(trigger ? { trigger } : {}),
  };
}

type Secret = KubeObject & { data?: Record<string, string> };
/** Connection-Secret keys that are never passed on as extras. */
const SECRET_KEYS = new Set(['password', 'uri', 'username']);

/** One finished run, as handed to the reconciler. */
export interface SmokeOutcome {
  status: SmokeTestStatus;
  durationMillis: number;
}

export interface SmokeSchedulerOptions {
  maxConcurrent?: number;
  /** Reads a Secret of the MessageQueue's namespace from the informer cache. */
  secret: (namespace: string, name: string) => KubeObject | undefined;
  /** Receives each result; the reconciler writes it to status and records the Event. */
  onResult: (key: string, outcome: SmokeOutcome) => void;
}

export class SmokeScheduler {
  private readonly running = new Set<string>();
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly opts: SmokeSchedulerOptions;

  constructor(log: Logger, metrics: Metrics, opts: SmokeSchedulerOptions) {
    this.log = log;
    this.metrics = metrics;
    this.opts = opts;
  }

  /**
   * Called by the reconciler after each status write; starts a run when due. Returns when to look
   * again (the reconciler requeues the key then), or undefined when nothing is scheduled.
   */
  observe(cr: MessageQueue & KubeObject, q: ResolvedQueue, ready: boolean): number | undefined {
    const key = `${q.namespace}/${q.name}`;
    if (this.running.has(key)) return undefined; // onResult requeues it
    if (!q.smokeTest.enabled || !ready) return undefined;
    const due = smokeDue(cr, ready, Date.now());
    if (!due.due) return due.inMs;
    if (this.running.size >= (this.opts.maxConcurrent ?? 2)) return 2000;
    this.running.add(key);
    const previous = cr.status?.smokeTest;
    void this.run(q, due.trigger)
      .then((result) => {
        const status = smokeStatus(result, previous, new Date().toISOString(), due.trigger);
        this.running.delete(key);
        this.opts.onResult(key, { status, durationMillis: result.durationMillis });
      })
      .catch((e) => {
        // run() never throws; this only guards the hand-over.
        this.running.delete(key);
        this.log.warn({ key, err: (e as Error).message }, 'smoke test hand-over failed');
      });
    return undefined;
  }

  private async run(q: ResolvedQueue, trigger?: string): Promise<SmokeResult> {
    const engine = q.engine;
    let result: SmokeResult;
    try {
      result = await smokeTestFor(engine).run(this.target(q), {
        messages: q.smokeTest.messages,
        messageBytes: q.smokeTest.messageBytes,
        timeoutSeconds: q.smokeTest.timeoutSeconds,
      });
    } catch (e) {
      // A smoke test must never take the operator down: anything thrown is a failed run.
      result = failedResult('protocol', (e as Error).message);
    }
    const labels = { namespace: q.namespace, name: q.name, engine };
    this.metrics.smokeRuns.inc({ engine, result: result.ok ? 'passed' : 'failed' });
    this.metrics.smokeResult.set(labels, result.ok ? 1 : 0);
    if (result.ok) this.metrics.smokeLatency.set(labels, result.p99Millis);
    this.log.info(
      {
        key: `${q.namespace}/${q.name}`,
        engine,
        ok: result.ok,
        errorKind: result.errorKind,
        p99: result.p99Millis,
        trigger,
      },
      'smoke test',
    );
    return result;
  }

  /** The broker's address and credentials: the resolved endpoint and the cached connection Secret. */
  private target(q: ResolvedQueue): SmokeTarget {
    const s = this.opts.secret(q.namespace, q.names.connection) as Secret | undefined;
    if (!s) throw new Error(`the connection Secret ${q.names.connection} is not there yet`);
    const data = Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
    const extra = Object.fromEntries(Object.entries(data).filter(([k]) => !SECRET_KEYS.has(k)));
    return { url: q.endpoint.url, username: data.username, password: data.password, extra };
  }
}
