/**
 * Runs each ready MessageQueue's smoke test every `intervalSeconds`, and at once when the
 * annotation `mqop.dev/run-smoke-test` gets a new value. Results go to `status.smokeTest` (a
 * merge patch of that field only), a metric and an Event. Runs are asynchronous and bounded, so a
 * slow or dead broker never blocks reconciles, and never takes the operator down.
 */

import { failedResult, smokeTestFor } from '../../../smoke-tests/src/index.ts';
import type { SmokeResult, SmokeTarget } from '../../../smoke-tests/src/types.ts';
import { type MessageQueue, RUN_SMOKE_TEST_ANNOTATION, type SmokeTestStatus } from '../api/types.ts';
import { renderContext } from '../render/context.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Metrics } from '../runtime/metrics.ts';
import type { KubeClient, KubeObject } from './kube-client.ts';
import { MESSAGE_QUEUE, SECRET } from './resources.ts';

/** Timeout when the spec sets none: a minute, but never more than half the interval. */
export function smokeTimeoutSeconds(cr: MessageQueue): number {
  const s = cr.spec.smokeTest ?? {};
  return s.timeoutSeconds ?? Math.max(1, Math.min(60, Math.floor((s.intervalSeconds ?? 300) / 2)));
}

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

/**
 * The merge patch for `status.smokeTest`: a merge patch keeps keys it does not mention, so a pass
 * says `errorKind: null` to drop the previous failure's kind.
 */
export function smokeStatusPatch(status: SmokeTestStatus): Record<string, unknown> {
  return { status: { smokeTest: { ...status, ...(status.errorKind ? {} : { errorKind: null }) } } };
}

/** Whether a smoke test is due now. Pure given `now`. */
export function smokeDue(cr: MessageQueue, ready: boolean, now: number): Due {
  const spec = cr.spec.smokeTest ?? {};
  const interval = (spec.intervalSeconds ?? 300) * 1000;
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

export class SmokeScheduler {
  private readonly running = new Set<string>();
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly maxConcurrent: number;
  private readonly onDone: (key: string) => void;
  private readonly emit: (
    cr: MessageQueue & KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    msg: string,
  ) => Promise<void>;

  constructor(
    client: KubeClient,
    log: Logger,
    metrics: Metrics,
    opts: {
      maxConcurrent?: number;
      onDone: (key: string) => void;
      event: (
        cr: MessageQueue & KubeObject,
        type: 'Normal' | 'Warning',
        reason: string,
        msg: string,
      ) => Promise<void>;
    },
  ) {
    this.client = client;
    this.log = log;
    this.metrics = metrics;
    this.maxConcurrent = opts.maxConcurrent ?? 2;
    this.onDone = opts.onDone;
    this.emit = opts.event;
  }

  /**
   * Called by the reconciler after each sync; starts a run when due. Returns when to look again
   * (the reconciler requeues the key then), or undefined when nothing is scheduled.
   */
  observe(cr: MessageQueue & KubeObject, ready: boolean): number | undefined {
    const key = `${cr.metadata.namespace}/${cr.metadata.name}`;
    if (this.running.has(key)) return undefined; // onDone requeues it
    const due = smokeDue(cr, ready, Date.now());
    if (cr.spec.smokeTest?.enabled === false || !ready) return undefined;
    if (!due.due) return due.inMs;
    if (this.running.size >= this.maxConcurrent) return 2000;
    this.running.add(key);
    void this.run(cr, due.trigger).finally(() => {
      this.running.delete(key);
      this.onDone(key);
    });
    return undefined;
  }

  private async run(cr: MessageQueue & KubeObject, trigger?: string): Promise<void> {
    const ns = cr.metadata.namespace as string;
    const engine = cr.spec.engine;
    const ctx = renderContext(cr);
    let result: SmokeResult;
    try {
      const target = await this.target(cr, ctx.names.connection);
      const spec = cr.spec.smokeTest ?? {};
      result = await smokeTestFor(engine).run(target, {
        messages: spec.messages ?? 10,
        messageBytes: spec.messageBytes ?? 1024,
        timeoutSeconds: smokeTimeoutSeconds(cr),
      });
    } catch (e) {
      // A smoke test must never take the operator down: anything thrown is a failed run.
      result = failedResult('protocol', (e as Error).message);
    }
    const labels = { namespace: ns, name: cr.metadata.name, engine };
    this.metrics.smokeRuns.inc({ engine, result: result.ok ? 'passed' : 'failed' });
    this.metrics.smokeResult.set(labels, result.ok ? 1 : 0);
    if (result.ok) this.metrics.smokeLatency.set(labels, result.p99Millis);
    const status = smokeStatus(result, cr.status?.smokeTest, new Date().toISOString(), trigger);
    try {
      await this.client.mergePatch(MESSAGE_QUEUE, ns, cr.metadata.name, smokeStatusPatch(status), 'status');
      await this.emit(
        cr,
        result.ok ? 'Normal' : 'Warning',
        result.ok ? 'SmokeTestPassed' : 'SmokeTestFailed',
        result.ok
          ? `${result.consumed}/${result.produced} messages in ${Math.round(result.durationMillis)} ms, p99 ${status.p99Millis} ms`
          : `${result.errorKind ?? 'error'}: ${status.message}`,
      );
    } catch (e) {
      this.log.warn(
        { key: `${ns}/${cr.metadata.name}`, err: (e as Error).message },
        'could not record the smoke-test result',
      );
    }
    this.log.info(
      {
        key: `${ns}/${cr.metadata.name}`,
        engine,
        ok: result.ok,
        errorKind: result.errorKind,
        p99: result.p99Millis,
      },
      'smoke test',
    );
  }

  /** The broker's address and credentials, from the connection Secret mqop rendered. */
  private async target(cr: MessageQueue, secretName: string): Promise<SmokeTarget> {
    const s = await this.client.get<Secret>(SECRET, cr.metadata.namespace as string, secretName);
    const data = Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
    const url = cr.status?.endpoint?.url ?? '';
    const extra = Object.fromEntries(Object.entries(data).filter(([k]) => !SECRET_KEYS.has(k)));
    return { url, username: data.username, password: data.password, extra };
  }
}
