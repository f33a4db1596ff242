/**
 * Runs each ready MessageQueue's smoke test every `intervalSeconds`, and soon when the annotation
 * `mqop.dev/run-smoke-test` gets a new value. Runs are asynchronous and bounded, so a slow or dead
 * broker never blocks reconciles, and never takes the operator down. The scheduler writes no
 * status: it hands each result to the reconciler, whose status step writes it together with the
 * SmokeTestPassed condition.
 *
 * Fairness between tenants: at most `maxConcurrent` runs in total and `maxPerNamespace` per
 * namespace; due runs wait in one queue per namespace and a free slot goes to the next namespace
 * in round-robin order, so a namespace with 500 MessageQueues delays another namespace's run by at
 * most one run per slot, not by 500. The annotation trigger is rate limited: a new value within
 * `triggerMinIntervalMs` of the last run waits for it (one Event says so), it is never dropped.
 */

import { failedResult, smokeTestFor } from '../../../smoke-tests/src/index.ts';
import type { SmokeResult, SmokeTarget } from '../../../smoke-tests/src/types.ts';
import { DEFAULT_SMOKE_INTERVAL_SECONDS, type ResolvedQueue } from '../api/resolve.ts';
import { type MessageQueue, RUN_SMOKE_TEST_ANNOTATION, type SmokeTestStatus } from '../api/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { KubeObject } from './kube-client.ts';
import type { EventSpec } from './steps/events.ts';

/** The Event that says a triggered run waits for the rate limit. Pure. */
export function deferredEvent(
  trigger: string,
  at: number,
  opts: Pick<SmokeSchedulerOptions, 'triggerMinIntervalMs'> = {},
): EventSpec {
  const s = Math.round((opts.triggerMinIntervalMs ?? DEFAULT_TRIGGER_MIN_INTERVAL_MS) / 1000);
  return {
    type: 'Normal',
    reason: 'SmokeTestDeferred',
    message: `${RUN_SMOKE_TEST_ANNOTATION}=${JSON.stringify(trigger).slice(0, 80)} deferred: at most one triggered run per ${s} s; it runs at ${new Date(at).toISOString()}`,
  };
}

export interface Due {
  due: boolean;
  /** The annotation value this run answers, if it was triggered by it. */
  trigger?: string;
  /** Milliseconds until the next scheduled run (when not due now). */
  inMs: number;
  /** A new annotation value that has to wait for the trigger rate limit. */
  deferred?: string;
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

/** Default least time between the end of a run and a run triggered by the annotation. */
export const DEFAULT_TRIGGER_MIN_INTERVAL_MS = 30_000;

/**
 * Whether a smoke test is due now. A new annotation value makes it due, but not sooner than
 * `triggerMinIntervalMs` after the last run (from status, so the limit holds across restarts and
 * failovers); until then it is `deferred`. Pure given `now`.
 */
export function smokeDue(cr: MessageQueue, ready: boolean, now: number, triggerMinIntervalMs = 0): Due {
  const spec = cr.spec.smokeTest ?? {};
  const interval = (spec.intervalSeconds ?? DEFAULT_SMOKE_INTERVAL_SECONDS) * 1000;
  if (spec.enabled === false || !ready) return { due: false, inMs: interval };
  const annotation = cr.metadata.annotations?.[RUN_SMOKE_TEST_ANNOTATION];
  const last = cr.status?.smokeTest;
  const lastRun = last?.lastRunTime ? Date.parse(last.lastRunTime) : 0;
  if (annotation && annotation !== last?.trigger) {
    const allowed = lastRun + triggerMinIntervalMs;
    if (allowed <= now) return { due: true, trigger: annotation, inMs: 0 };
    const untilNext = lastRun + smokeRetryMs(last, interval) - now;
    // The interval's own run comes first anyway: the trigger waits no longer than that.
    if (untilNext <= 0) return { due: true, trigger: last?.trigger, inMs: 0 };
    return { due: false, inMs: Math.min(allowed - now, untilNext), deferred: annotation };
  }
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
  /** Runs at once, in total (default 2). */
  maxConcurrent?: number;
  /** Runs at once per namespace (default 1). */
  maxPerNamespace?: number;
  /** Least time between the last run and an annotation-triggered one (default 30 s). */
  triggerMinIntervalMs?: number;
  /** Reads a Secret of the MessageQueue's namespace from the informer cache. */
  secret: (namespace: string, name: string) => KubeObject | undefined;
  /** Receives each result; the reconciler writes it to status and records the Event. */
  onResult: (key: string, outcome: SmokeOutcome) => void;
  /** Told once per deferred trigger value, for an Event on the MessageQueue. */
  onDeferred?: (cr: MessageQueue & KubeObject, e: EventSpec) => void;
  /** Runs one smoke test (tests replace it); default: the engine's smoke client. */
  runTest?: (q: ResolvedQueue, target: () => SmokeTarget) => Promise<SmokeResult>;
  /** The clock (tests). */
  now?: () => number;
}

/** A due run waiting for a slot. */
interface Pending {
  cr: MessageQueue & KubeObject;
  q: ResolvedQueue;
  trigger?: string;
}

export class SmokeScheduler {
  /** Running keys, with their namespace. */
  private readonly running = new Map<string, string>();
  private readonly runningIn = new Map<string, number>();
  /** Due runs per namespace, oldest first (a Map keeps insertion order; an update keeps its place). */
  private readonly pending = new Map<string, Map<string, Pending>>();
  /** When each namespace with runs queued or in flight last got a slot (a sequence number): round-robin. */
  private readonly served = new Map<string, number>();
  private seq = 0;
  /** The trigger value an Event already announced as deferred, per key. */
  private readonly deferredTold = new Map<string, string>();
  /** Keys forgotten (MessageQueue deleted) while their run was in flight. */
  private readonly gone = new Set<string>();
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly opts: SmokeSchedulerOptions;
  private readonly maxConcurrent: number;
  private readonly maxPerNamespace: number;
  private readonly now: () => number;

  constructor(log: Logger, metrics: Metrics, opts: SmokeSchedulerOptions) {
    this.log = log;
    this.metrics = metrics;
    this.opts = opts;
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 2);
    this.maxPerNamespace = Math.max(1, opts.maxPerNamespace ?? 1);
    this.now = opts.now ?? Date.now;
  }

  /**
   * Called by the reconciler after each status write; queues a run when due (it starts when its
   * namespace's turn and a slot come). Returns when to look again (the reconciler requeues the key
   * then), or undefined when the run's result will requeue it or nothing is scheduled.
   */
  observe(cr: MessageQueue & KubeObject, q: ResolvedQueue, ready: boolean): number | undefined {
    const key = `${q.namespace}/${q.name}`;
    if (this.running.has(key)) return undefined; // onResult requeues it
    if (!q.smokeTest.enabled || !ready) {
      this.unqueue(key, q.namespace);
      return undefined;
    }
    const due = smokeDue(
      cr,
      ready,
      this.now(),
      this.opts.triggerMinIntervalMs ?? DEFAULT_TRIGGER_MIN_INTERVAL_MS,
    );
    if (!due.due) {
      this.unqueue(key, q.namespace);
      if (due.deferred !== undefined && this.deferredTold.get(key) !== due.deferred) {
        this.deferredTold.set(key, due.deferred);
        this.opts.onDeferred?.(cr, deferredEvent(due.deferred, this.now() + due.inMs, this.opts));
      }
      return due.inMs;
    }
    let queue = this.pending.get(q.namespace);
    if (!queue) {
      queue = new Map();
      this.pending.set(q.namespace, queue);
    }
    queue.set(key, { cr, q, trigger: due.trigger });
    this.pump();
    return undefined;
  }

  /** The MessageQueue is gone: drop its queued run; a run in flight hands over nothing. */
  forget(key: string): void {
    const namespace = key.slice(0, key.indexOf('/'));
    this.unqueue(key, namespace);
    this.deferredTold.delete(key);
    if (this.running.has(key)) this.gone.add(key);
  }

  /** Keys running now and queued per namespace (tests, debugging). */
  snapshot(): { running: string[]; pending: Record<string, string[]> } {
    return {
      running: [...this.running.keys()],
      pending: Object.fromEntries([...this.pending].map(([ns, m]) => [ns, [...m.keys()]])),
    };
  }

  private unqueue(key: string, namespace: string): void {
    const queue = this.pending.get(namespace);
    if (!queue?.delete(key) || queue.size > 0) return;
    this.pending.delete(namespace);
    if (!this.runningIn.has(namespace)) this.served.delete(namespace);
  }

  /**
   * Starts queued runs while slots are free. The next slot goes to the namespace with the fewest
   * runs in flight, among those with equally many to the one served longest ago (round-robin);
   * within a namespace, to its oldest due run.
   */
  private pump(): void {
    while (this.running.size < this.maxConcurrent) {
      let pick: string | undefined;
      let best: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
      for (const ns of this.pending.keys()) {
        const inFlight = this.runningIn.get(ns) ?? 0;
        if (inFlight >= this.maxPerNamespace) continue;
        const rank: [number, number] = [inFlight, this.served.get(ns) ?? -1];
        if (rank[0] < best[0] || (rank[0] === best[0] && rank[1] < best[1])) {
          pick = ns;
          best = rank;
        }
      }
      if (pick === undefined) return;
      const queue = this.pending.get(pick) as Map<string, Pending>;
      const [key, next] = queue.entries().next().value as [string, Pending];
      this.served.set(pick, this.seq++);
      this.unqueue(key, pick);
      this.start(key, next);
    }
  }

  private start(key: string, { cr, q, trigger }: Pending): void {
    this.running.set(key, q.namespace);
    this.runningIn.set(q.namespace, (this.runningIn.get(q.namespace) ?? 0) + 1);
    const previous = cr.status?.smokeTest;
    const done = () => {
      this.running.delete(key);
      const n = (this.runningIn.get(q.namespace) ?? 1) - 1;
      if (n > 0) this.runningIn.set(q.namespace, n);
      else this.runningIn.delete(q.namespace);
      // Remembered while the namespace has runs in flight or queued: bounded by the active ones.
      if (n <= 0 && !this.pending.has(q.namespace)) this.served.delete(q.namespace);
    };
    void this.run(q, trigger)
      .then((result) => {
        done();
        if (this.gone.delete(key)) return; // deleted meanwhile: no metric, no hand-over
        this.record(q, result);
        if (trigger !== undefined && this.deferredTold.get(key) === trigger) this.deferredTold.delete(key);
        const status = smokeStatus(result, previous, new Date(this.now()).toISOString(), trigger);
        this.opts.onResult(key, { status, durationMillis: result.durationMillis });
      })
      .catch((e) => {
        // run() never throws; this only guards the hand-over.
        done();
        this.gone.delete(key);
        this.log.warn({ key, err: (e as Error).message }, 'smoke test hand-over failed');
      })
      .finally(() => this.pump());
  }

  private record(q: ResolvedQueue, result: SmokeResult): void {
    const engine = q.engine;
    this.metrics.smokeRuns.inc({ engine, result: result.ok ? 'passed' : 'failed' });
    this.metrics.setSmokeResult(
      { namespace: q.namespace, name: q.name, engine },
      result.ok,
      result.p99Millis,
    );
  }

  private async run(q: ResolvedQueue, trigger?: string): Promise<SmokeResult> {
    const engine = q.engine;
    let result: SmokeResult;
    try {
      result = this.opts.runTest
        ? await this.opts.runTest(q, () => this.target(q))
        : await smokeTestFor(engine).run(this.target(q), {
            messages: q.smokeTest.messages,
            messageBytes: q.smokeTest.messageBytes,
            timeoutSeconds: q.smokeTest.timeoutSeconds,
          });
    } catch (e) {
      // A smoke test must never take the operator down: anything thrown is a failed run.
      result = failedResult('protocol', (e as Error).message);
    }
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
