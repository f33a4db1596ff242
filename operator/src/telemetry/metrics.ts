/**
 * Prometheus metrics of the operator. Labels never carry secrets. Series labelled with one
 * MessageQueue (namespace, name) go when it is deleted (`forgetMessageQueue`), so a cluster that
 * churns MessageQueues does not grow the scrape forever.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Labels of the per-MessageQueue series. */
export interface QueueLabels {
  namespace: string;
  name: string;
  engine: string;
}

export class Metrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'mqop_reconcile_total',
    help: 'Reconciles by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'mqop_reconcile_duration_seconds',
    help: 'Duration of one reconcile',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'mqop_reconcile_errors_total',
    help: 'Reconcile errors by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'mqop_workqueue_depth',
    help: 'Keys waiting',
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: 'mqop_api_requests_total',
    help: 'Requests to the Kubernetes API by verb and status class',
    labelNames: ['verb', 'code'] as const,
    registers: [this.registry],
  });
  readonly apiSeconds = new Histogram({
    name: 'mqop_api_request_duration_seconds',
    help: 'Duration of requests to the Kubernetes API by verb (watches not included)',
    labelNames: ['verb'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly smokeResult = new Gauge({
    name: 'mqop_smoke_test_passed',
    help: '1 when the last smoke test of a MessageQueue passed, 0 when it failed',
    labelNames: ['namespace', 'name', 'engine'] as const,
    registers: [this.registry],
  });
  readonly smokeLatency = new Gauge({
    name: 'mqop_smoke_test_p99_milliseconds',
    help: 'p99 produce-to-consume latency of the last smoke test',
    labelNames: ['namespace', 'name', 'engine'] as const,
    registers: [this.registry],
  });
  readonly smokeRuns = new Counter({
    name: 'mqop_smoke_test_runs_total',
    help: 'Smoke test runs by engine and result',
    labelNames: ['engine', 'result'] as const,
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'mqop_leader',
    help: '1 while this replica leads',
    registers: [this.registry],
  });

  /** The label sets of per-MessageQueue series, by `namespace/name` (engine can differ per name over time). */
  private readonly perQueue = new Map<string, Map<string, QueueLabels>>();

  /** The last smoke result of a MessageQueue: passed (1/0) and, when passed, its p99 latency. */
  setSmokeResult(labels: QueueLabels, ok: boolean, p99Millis: number): void {
    const key = `${labels.namespace}/${labels.name}`;
    const sets = this.perQueue.get(key) ?? new Map<string, QueueLabels>();
    sets.set(labels.engine, { ...labels });
    this.perQueue.set(key, sets);
    this.smokeResult.set(labels, ok ? 1 : 0);
    if (ok) this.smokeLatency.set(labels, p99Millis);
  }

  /** Removes every series of a deleted MessageQueue. */
  forgetMessageQueue(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    for (const labels of this.perQueue.get(key)?.values() ?? []) {
      for (const g of [this.smokeResult, this.smokeLatency]) g.remove(labels);
    }
    this.perQueue.delete(key);
  }

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }
}
