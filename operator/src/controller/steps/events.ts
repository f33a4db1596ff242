/**
 * Step: Events. What happened to a MessageQueue, for `kubectl describe`: Ready and Stalled
 * transitions, smoke-test results. Which Events a status change means is a pure function; the
 * recorder only writes them. Messages never contain secrets.
 */
import type { Condition, MessageQueue, SmokeTestStatus } from '../../api/types.ts';
import { READY, STALLED } from '../../status/conditions.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { ApiError, type Client, type KubeObject } from '../kube-client.ts';
import { EVENT } from '../resources.ts';

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/**
 * The Events a change of conditions means. Pure. Ready transitions; Stalled when it turns True and
 * again whenever its reason or message changes while True (a second refused write is news).
 */
export function transitionEvents(
  before: Condition[] | undefined,
  after: Condition[] | undefined,
): EventSpec[] {
  const out: EventSpec[] = [];
  const find = (l: Condition[] | undefined, type: string) => l?.find((c) => c.type === type);
  const [a, b] = [find(before, READY), find(after, READY)];
  if (b && a?.status !== b.status) {
    if (b.status === 'True') out.push({ type: 'Normal', reason: 'Ready', message: b.message });
    if (b.status === 'False' && a?.status === 'True')
      out.push({ type: 'Warning', reason: 'NotReady', message: b.message });
  }
  const [sa, sb] = [find(before, STALLED), find(after, STALLED)];
  const stalledNews =
    sb?.status === 'True' && (sa?.status !== 'True' || sa.reason !== sb.reason || sa.message !== sb.message);
  if (sb && stalledNews) out.push({ type: 'Warning', reason: sb.reason, message: sb.message });
  return out;
}

/** The Event of one smoke-test run. Pure. */
export function smokeEvent(s: SmokeTestStatus, durationMillis: number): EventSpec {
  return s.result === 'Passed'
    ? {
        type: 'Normal',
        reason: 'SmokeTestPassed',
        message: `${s.consumed}/${s.produced} messages in ${Math.round(durationMillis)} ms, p99 ${s.p99Millis} ms`,
      }
    : { type: 'Warning', reason: 'SmokeTestFailed', message: `${s.errorKind ?? 'error'}: ${s.message}` };
}

/** How many distinct Events the recorder remembers for aggregation (oldest forgotten first). */
export const EVENT_MEMORY = 1000;

interface Recorded {
  name: string;
  namespace: string;
  count: number;
}

/**
 * Writes Events on MessageQueues; a failure to record one is logged, never thrown. The same Event
 * again (same object, type, reason and message) is not a new Event: the recorder bumps `count` and
 * `lastTimestamp` of the one it wrote, so a smoke test passing every minute is one Event with a
 * growing count, not 1440 a day. What it wrote is kept in a bounded map (least recently used goes
 * first); after an operator restart, or once the API server expired the Event (404), it starts a
 * new one.
 */
export class EventRecorder {
  private readonly client: Pick<Client, 'create' | 'mergePatch'>;
  private readonly log: Logger;
  private readonly instance: string;
  private readonly max: number;
  private readonly recorded = new Map<string, Recorded>();

  constructor(
    client: Pick<Client, 'create' | 'mergePatch'>,
    log: Logger,
    instance = 'mqop',
    max = EVENT_MEMORY,
  ) {
    this.client = client;
    this.log = log;
    this.instance = instance;
    this.max = max;
  }

  async record(cr: MessageQueue & KubeObject, e: EventSpec): Promise<void> {
    const now = new Date().toISOString();
    const message = e.message.slice(0, 1024);
    const id = JSON.stringify([
      cr.metadata.namespace,
      cr.metadata.name,
      cr.metadata.uid,
      e.type,
      e.reason,
      message,
    ]);
    try {
      const seen = this.recorded.get(id);
      if (seen) {
        this.recorded.delete(id); // re-inserted below: most recently used last
        try {
          await this.client.mergePatch(EVENT, seen.namespace, seen.name, {
            count: seen.count + 1,
            lastTimestamp: now,
          });
          this.remember(id, { ...seen, count: seen.count + 1 });
          return;
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw err;
          // Expired (the API server keeps Events for an hour by default): a new one.
        }
      }
      const name = `${cr.metadata.name}.${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`;
      const namespace = cr.metadata.namespace as string;
      await this.client.create({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: cr.apiVersion,
          kind: cr.kind,
          name: cr.metadata.name,
          namespace: cr.metadata.namespace,
          uid: cr.metadata.uid,
        },
        reason: e.reason,
        message,
        type: e.type,
        source: { component: 'mqop' },
        reportingComponent: 'mqop.dev/operator',
        reportingInstance: this.instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      } as KubeObject);
      this.remember(id, { name, namespace, count: 1 });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason: e.reason }, 'could not record event');
    }
  }

  /** Distinct Events remembered now (tests). */
  size(): number {
    return this.recorded.size;
  }

  private remember(id: string, r: Recorded): void {
    this.recorded.set(id, r);
    while (this.recorded.size > this.max) {
      const oldest = this.recorded.keys().next().value as string;
      this.recorded.delete(oldest);
    }
  }
}
