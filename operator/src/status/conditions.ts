/**
 * Conditions as pure functions of what was observed. kstatus semantics: `Ready` is the normal
 * condition; `Reconciling` and `Stalled` are abnormal-true (present and True only while that is
 * the case). `lastTransitionTime` changes only when a condition's status flips.
 */
import type { Condition, MessageQueue, MessageQueueStatus, Phase, SmokeTestStatus } from '../api/types.ts';
import { canonical } from '../apply/apply.ts';
import { type PodProblem, PodReasons } from './pods.ts';

/** Condition types. */
export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';
export const SMOKE_TEST_PASSED = 'SmokeTestPassed';

/** CamelCase reasons. */
export const Reasons = {
  AllReplicasReady: 'AllReplicasReady',
  ReplicasNotReady: 'ReplicasNotReady',
  Provisioning: 'Provisioning',
  RolloutInProgress: 'RolloutInProgress',
  InvalidConfiguration: 'InvalidConfiguration',
  /** A write was forbidden (RBAC, an admission webhook or policy, a quota): Stalled. */
  Forbidden: 'Forbidden',
  // Why pods are not ready (status/pods.ts), on Ready=False and Reconciling=True.
  Unschedulable: PodReasons.Unschedulable,
  CrashLoopBackOff: PodReasons.CrashLoopBackOff,
  ImagePullBackOff: PodReasons.ImagePullBackOff,
  ErrImagePull: PodReasons.ErrImagePull,
  ClaimPending: PodReasons.ClaimPending,
  CreateContainerError: PodReasons.CreateContainerError,
  CredentialsMissing: 'CredentialsMissing',
  /** A Deployment in zeromq.sidecarFor does not exist / does not invite the MessageQueue (waiting). */
  SidecarTargetMissing: 'SidecarTargetMissing',
  SidecarNotInvited: 'SidecarNotInvited',
  /** The spec needs a kind this operator was set up not to manage (Stalled). */
  NotPermitted: 'NotPermitted',
  /** An object under a name mqop derives exists and is not this MessageQueue's (Stalled). */
  NotManaged: 'NotManaged',
  /** Objects of a deleted MessageQueue of the same name still await garbage collection (waiting). */
  PreviousInstance: 'PreviousInstanceTerminating',
  /** A generated Secret is gone while the data it belongs to is still there (Stalled). */
  CredentialsLost: 'CredentialsLost',
  /** The credentials Secret holds a username or password mqop refuses (Stalled). */
  InvalidCredentials: 'InvalidCredentials',
  Reconciled: 'Reconciled',
  Deleting: 'Deleting',
  SmokeTestPassed: 'SmokeTestPassed',
  SmokeTestFailed: 'SmokeTestFailed',
  SmokeTestPending: 'SmokeTestPending',
  SmokeTestDisabled: 'SmokeTestDisabled',
} as const;

/** What one workload (StatefulSet or Deployment) reports. */
export interface WorkloadObservation {
  name: string;
  /** Desired replicas (spec). */
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  /** status.observedGeneration === metadata.generation: the controller saw the latest spec. */
  upToDate: boolean;
}

export interface Observation {
  generation: number;
  /** Every workload mqop rendered; missing ones count as not ready. */
  workloads: WorkloadObservation[];
  /** Why pods are not ready, when a pod says (status/pods.ts `podProblem`). */
  pods?: PodProblem;
  /** Set when a write was refused for good (422, 403 ...): Stalled, requeued with a long backoff. */
  invalid?: { reason: string; message: string };
  /** Set when credentials are not there yet (user Secret missing). */
  waitingFor?: { reason: string; message: string };
  /** Last smoke-test result, if any. */
  smoke?: SmokeTestStatus;
  smokeEnabled: boolean;
  endpoint?: MessageQueueStatus['endpoint'];
  connectionSecret?: string;
  version: string;
  /** Set while mqop cleans up before a delete completes (deleteClaim, patches). */
  deleting?: boolean;
}

type Desired = Omit<Condition, 'lastTransitionTime'>;

/** The four conditions for an observation. Pure. */
export function desiredConditions(o: Observation): Desired[] {
  const g = o.generation;
  const ready = o.workloads.reduce((n, w) => n + Math.min(w.readyReplicas, w.replicas), 0);
  const want = o.workloads.reduce((n, w) => n + w.replicas, 0);
  const rolled = o.workloads.every((w) => w.upToDate && w.updatedReplicas >= w.replicas);
  const allReady = o.workloads.length > 0 && ready >= want && rolled;
  const c = (type: string, status: Desired['status'], reason: string, message: string): Desired => ({
    type,
    status,
    reason,
    message,
    observedGeneration: g,
  });

  if (o.deleting) {
    return [
      c(READY, 'False', Reasons.Deleting, 'the MessageQueue is being deleted'),
      c(RECONCILING, 'True', Reasons.Deleting, 'removing what mqop created'),
      c(STALLED, 'False', Reasons.Deleting, ''),
      c(SMOKE_TEST_PASSED, 'Unknown', Reasons.Deleting, ''),
    ];
  }

  let readyC: Desired;
  let reconciling: Desired;
  let stalled: Desired;
  if (o.invalid) {
    readyC = c(READY, 'False', o.invalid.reason, o.invalid.message);
    reconciling = c(RECONCILING, 'False', o.invalid.reason, '');
    stalled = c(STALLED, 'True', o.invalid.reason, o.invalid.message);
  } else if (o.waitingFor) {
    readyC = c(READY, 'False', o.waitingFor.reason, o.waitingFor.message);
    reconciling = c(RECONCILING, 'True', o.waitingFor.reason, o.waitingFor.message);
    stalled = c(STALLED, 'False', Reasons.Reconciled, '');
  } else if (allReady) {
    readyC = c(READY, 'True', Reasons.AllReplicasReady, `${ready}/${want} pods ready`);
    reconciling = c(RECONCILING, 'False', Reasons.Reconciled, '');
    stalled = c(STALLED, 'False', Reasons.Reconciled, '');
  } else if (o.pods) {
    // A pod says why: that beats "not ready" and "rollout in progress" (a bad rollout crashes).
    const msg = `${ready}/${want} pods ready; ${o.pods.message}`;
    readyC = c(READY, 'False', o.pods.reason, msg);
    reconciling = c(RECONCILING, 'True', o.pods.reason, msg);
    stalled = c(STALLED, 'False', Reasons.Reconciled, '');
  } else {
    const reason = rolled ? Reasons.ReplicasNotReady : Reasons.RolloutInProgress;
    const msg = `${ready}/${want} pods ready${rolled ? '' : ', rollout in progress'}`;
    readyC = c(READY, 'False', reason, msg);
    reconciling = c(RECONCILING, 'True', reason, msg);
    stalled = c(STALLED, 'False', Reasons.Reconciled, '');
  }

  let smoke: Desired;
  if (!o.smokeEnabled)
    smoke = c(SMOKE_TEST_PASSED, 'Unknown', Reasons.SmokeTestDisabled, 'smoke tests are disabled');
  else if (!o.smoke?.result)
    smoke = c(SMOKE_TEST_PASSED, 'Unknown', Reasons.SmokeTestPending, 'no smoke test has run yet');
  else if (o.smoke.result === 'Passed') {
    smoke = c(
      SMOKE_TEST_PASSED,
      'True',
      Reasons.SmokeTestPassed,
      `${o.smoke.consumed}/${o.smoke.produced} messages, p99 ${o.smoke.p99Millis} ms`,
    );
  } else
    smoke = c(SMOKE_TEST_PASSED, 'False', Reasons.SmokeTestFailed, o.smoke.message ?? 'smoke test failed');
  return [readyC, reconciling, stalled, smoke];
}

/** Phase for humans, derived from the conditions. */
export function phaseOf(conds: Desired[], o: Observation): Phase {
  const get = (t: string) => conds.find((x) => x.type === t);
  if (o.deleting) return 'Deleting';
  if (get(STALLED)?.status === 'True') return 'Failed';
  if (get(READY)?.status === 'True') return get(SMOKE_TEST_PASSED)?.status === 'False' ? 'Degraded' : 'Ready';
  const anyReady = o.workloads.some((w) => w.readyReplicas > 0);
  if (anyReady) return 'Degraded';
  return o.workloads.length ? 'Provisioning' : 'Pending';
}

/**
 * Merges desired conditions into the previous ones: `lastTransitionTime` is kept unless the
 * status flipped. Pure given `now`.
 */
export function mergeConditions(
  previous: Condition[] | undefined,
  desired: Desired[],
  now: string,
): Condition[] {
  return desired.map((d) => {
    const prev = previous?.find((p) => p.type === d.type);
    const lastTransitionTime = prev && prev.status === d.status ? prev.lastTransitionTime : now;
    return { ...d, lastTransitionTime };
  });
}

/** The whole status for an observation. Pure given `now`. */
export function computeStatus(cr: MessageQueue, o: Observation, now: string): MessageQueueStatus {
  const desired = desiredConditions(o);
  const status: MessageQueueStatus = {
    observedGeneration: o.generation,
    phase: phaseOf(desired, o),
    conditions: mergeConditions(cr.status?.conditions, desired, now),
    version: o.version,
    replicas: o.workloads[0]?.replicas ?? cr.spec.replicas ?? 1,
    readyReplicas: o.workloads[0]?.readyReplicas ?? 0,
  };
  if (o.endpoint) status.endpoint = o.endpoint;
  if (o.connectionSecret) status.connectionSecret = o.connectionSecret;
  if (o.smoke) status.smokeTest = o.smoke;
  return status;
}

/** Whether two statuses differ in anything but key order. */
export function statusChanged(a: MessageQueueStatus | undefined, b: MessageQueueStatus): boolean {
  return canonical(a ?? {}) !== canonical(b);
}
