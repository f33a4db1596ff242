/**
 * Step: Events. What happened to a MessageQueue, for `kubectl describe`: Ready and Stalled
 * transitions, smoke-test results. Which Events a status change means is a pure function; the
 * recorder only writes them. Messages never contain secrets.
 */
import type { Condition, MessageQueue, SmokeTestStatus } from '../../api/types.ts';
import { READY, STALLED } from '../../status/conditions.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { Client, KubeObject } from '../kube-client.ts';

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

/** Writes Events on MessageQueues; a failure to record one is logged, never thrown. */
export class EventRecorder {
  private readonly client: Pick<Client, 'create'>;
  private readonly log: Logger;
  private readonly instance: string;

  constructor(client: Pick<Client, 'create'>, log: Logger, instance = 'mqop') {
    this.client = client;
    this.log = log;
    this.instance = instance;
  }

  async record(cr: MessageQueue & KubeObject, e: EventSpec): Promise<void> {
    const now = new Date().toISOString();
    try {
      await this.client.create({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: {
          name: `${cr.metadata.name}.${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`,
          namespace: cr.metadata.namespace,
        },
        involvedObject: {
          apiVersion: cr.apiVersion,
          kind: cr.kind,
          name: cr.metadata.name,
          namespace: cr.metadata.namespace,
          uid: cr.metadata.uid,
        },
        reason: e.reason,
        message: e.message.slice(0, 1024),
        type: e.type,
        source: { component: 'mqop' },
        reportingComponent: 'mqop.dev/operator',
        reportingInstance: this.instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      } as KubeObject);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason: e.reason }, 'could not record event');
    }
  }
}
