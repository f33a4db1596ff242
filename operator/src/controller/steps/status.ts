/**
 * Step: status, the only writer of a MessageQueue's status. It observes the workloads in the
 * cache, computes the conditions (pure, `status/conditions.ts`), folds in the latest smoke-test
 * result the scheduler handed over, and patches status only when something changed: one write
 * carries both `status.smokeTest` and the `SmokeTestPassed` condition.
 */
import { OWNER_LABEL } from '../../api/labels.ts';
import type { ResolvedQueue } from '../../api/resolve.ts';
import type { MessageQueue, MessageQueueStatus, SmokeTestStatus } from '../../api/types.ts';
import type { K8sObject } from '../../render/render.ts';
import {
  computeStatus,
  type Observation,
  statusChanged,
  type WorkloadObservation,
} from '../../status/conditions.ts';
import { type PodProblem, podProblem } from '../../status/pods.ts';
import { type Caches, cachedObject } from '../cache.ts';
import type { Client, KubeObject } from '../kube-client.ts';
import { MESSAGE_QUEUE } from '../resources.ts';

type Workload = KubeObject & {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
};

/** What the rendered StatefulSets and Deployments report, from the cache. */
export function observeWorkloads(caches: Caches, desired: readonly K8sObject[]): WorkloadObservation[] {
  return desired
    .filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment')
    .map((o) => {
      const w = cachedObject(caches, o) as Workload | undefined;
      const replicas = (o as unknown as { spec: { replicas: number } }).spec.replicas;
      return {
        name: o.metadata.name,
        replicas,
        readyReplicas: w?.status?.readyReplicas ?? 0,
        updatedReplicas: w?.status?.updatedReplicas ?? 0,
        upToDate: w !== undefined && (w.status?.observedGeneration ?? -1) >= (w.metadata.generation ?? 0),
      };
    });
}

/**
 * Why the MessageQueue's pods are not ready, from the pod and claim caches (the pods carry the
 * owner label). Only looked at while some workload is not ready: a ready MessageQueue costs no
 * scan of its namespace's pods.
 */
export function observePods(
  caches: Caches,
  q: Pick<ResolvedQueue, 'namespace' | 'name'>,
  workloads: readonly WorkloadObservation[],
): PodProblem | undefined {
  if (!caches.pods || workloads.every((w) => w.readyReplicas >= w.replicas)) return undefined;
  const pods = caches.pods.list(q.namespace).filter((p) => p.metadata.labels?.[OWNER_LABEL] === q.name);
  if (!pods.length) return undefined;
  const claimNames = new Set(
    pods.flatMap((p) => (p.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName)),
  );
  const claims = [...claimNames]
    .filter((n): n is string => !!n)
    .map((n) => caches.claims?.get(q.namespace, n))
    .filter((c): c is NonNullable<typeof c> => c !== undefined);
  return podProblem(pods, claims);
}

/** The observation fields every outcome shares. `smoke` is the newest result: handed over or stored. */
export function baseObservation(
  cr: MessageQueue,
  q: ResolvedQueue,
  smoke: SmokeTestStatus | undefined,
): Omit<Observation, 'workloads'> {
  return {
    generation: cr.metadata.generation ?? 0,
    smokeEnabled: q.smokeTest.enabled,
    smoke: smoke ?? cr.status?.smokeTest,
    version: q.version,
  };
}

/**
 * The merge patch from one status to the next. A merge patch keeps keys it does not mention, so
 * `status.smokeTest` keys the new result lacks are sent as null (a pass drops the previous
 * failure's `errorKind`). Pure.
 */
export function statusPatch(
  next: MessageQueueStatus,
  previous?: MessageQueueStatus,
): { status: Record<string, unknown> } {
  const { smokeTest, ...rest } = next;
  if (!smokeTest) return { status: rest };
  return { status: { ...rest, ...smokeStatusPatch(smokeTest, previous?.smokeTest).status } };
}

/** The merge patch for `status.smokeTest` alone. Pure. */
export function smokeStatusPatch(
  status: SmokeTestStatus,
  previous?: SmokeTestStatus,
): { status: { smokeTest: Record<string, unknown> } } {
  const dropped = Object.keys(previous ?? {}).filter((k) => !(k in status));
  const nulls = Object.fromEntries([...new Set(['errorKind', ...dropped])].map((k) => [k, null]));
  return { status: { smokeTest: { ...nulls, ...status } } };
}

/** Writes the status when it changed; returns the status before and after. */
export async function writeStatus(
  client: Client,
  cr: MessageQueue & KubeObject,
  o: Observation,
): Promise<{
  before: MessageQueueStatus | undefined;
  after: MessageQueueStatus;
  /** The MessageQueue as the API server returned it after the write (its new resourceVersion). */
  written?: MessageQueue & KubeObject;
}> {
  const after = computeStatus(cr, o, new Date().toISOString());
  const before = cr.status;
  if (!statusChanged(before, after)) return { before, after };
  const written = await client.mergePatch<MessageQueue & KubeObject>(
    MESSAGE_QUEUE,
    cr.metadata.namespace as string,
    cr.metadata.name,
    statusPatch(after, before),
    'status',
  );
  return { before, after, written };
}
