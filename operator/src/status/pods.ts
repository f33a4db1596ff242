/**
 * Why pods are not ready, from what the API server says about them: the scheduler's PodScheduled
 * condition, the kubelet's container states, the claims' phases. Pure: the controller hands in the
 * pods and claims of one MessageQueue (from its informer caches, trimmed to the fields below) and
 * puts the answer in the Ready and Reconciling conditions. Reasons follow Strimzi and KubeBlocks.
 */

/** The parts of a Pod read here (the informer cache keeps only these). */
export interface PodLike {
  metadata: { name: string };
  spec?: { volumes?: { persistentVolumeClaim?: { claimName?: string } }[] };
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatusLike[];
    initContainerStatuses?: ContainerStatusLike[];
  };
}

export interface ContainerStateLike {
  waiting?: { reason?: string; message?: string };
  running?: Record<string, unknown>;
  terminated?: { reason?: string; exitCode?: number; message?: string };
}

export interface ContainerStatusLike {
  name: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerStateLike;
  lastState?: ContainerStateLike;
}

/** The parts of a PersistentVolumeClaim read here. */
export interface ClaimLike {
  metadata: { name: string };
  spec?: { storageClassName?: string };
  status?: { phase?: string };
}

export interface PodProblem {
  /** CamelCase: Unschedulable, CrashLoopBackOff, ImagePullBackOff, ErrImagePull, ClaimPending. */
  reason: string;
  /** `pod <name>: <reason>: <details>`, and how many more pods have problems. */
  message: string;
}

/** Reasons this module gives (also in `Reasons`, status/conditions.ts). */
export const PodReasons = {
  Unschedulable: 'Unschedulable',
  CrashLoopBackOff: 'CrashLoopBackOff',
  ImagePullBackOff: 'ImagePullBackOff',
  ErrImagePull: 'ErrImagePull',
  ClaimPending: 'ClaimPending',
  /** The kubelet cannot create the container: a missing Secret key or ConfigMap, a bad command. */
  CreateContainerError: 'CreateContainerError',
} as const;

/** A container's own text (a termination message can be a log tail) is kept to this length. */
export const MAX_DETAIL = 256;

/** One line, at most `max` characters. */
export function oneLine(s: string | undefined, max = MAX_DETAIL): string {
  const flat = (s ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const IMAGE_PULL: Record<string, string> = {
  ImagePullBackOff: PodReasons.ImagePullBackOff,
  ErrImagePull: PodReasons.ErrImagePull,
  InvalidImageName: PodReasons.ErrImagePull,
  ErrImageNeverPull: PodReasons.ErrImagePull,
};

const times = (n: number) => `${n} ${n === 1 ? 'time' : 'times'}`;

/** What is wrong with one container, if anything. */
function containerProblem(c: ContainerStatusLike): { reason: string; detail: string } | undefined {
  const waiting = c.state?.waiting?.reason;
  if (!waiting) return undefined;
  if (waiting === 'CrashLoopBackOff') {
    const last = c.lastState?.terminated;
    let detail = `container ${c.name} restarted ${times(c.restartCount ?? 0)}`;
    if (last) {
      detail += `, last exit ${last.exitCode ?? '?'}`;
      if (last.reason) detail += ` (${last.reason})`;
      const msg = oneLine(last.message);
      if (msg) detail += `: ${msg}`;
    }
    return { reason: PodReasons.CrashLoopBackOff, detail };
  }
  const pull = IMAGE_PULL[waiting];
  if (pull) {
    const msg = oneLine(c.state?.waiting?.message);
    const image = c.image ? ` image ${c.image}` : '';
    return { reason: pull, detail: `container ${c.name}${image}${msg ? `: ${msg}` : ''}` };
  }
  if (waiting === 'CreateContainerConfigError' || waiting === 'CreateContainerError') {
    const msg = oneLine(c.state?.waiting?.message);
    return {
      reason: PodReasons.CreateContainerError,
      detail: `container ${c.name}: ${waiting}${msg ? `: ${msg}` : ''}`,
    };
  }
  return undefined;
}

/** The claims a pod mounts that are Pending, with their storage class. */
function pendingClaims(pod: PodLike, claims: ReadonlyMap<string, ClaimLike>): ClaimLike[] {
  const names = (pod.spec?.volumes ?? [])
    .map((v) => v.persistentVolumeClaim?.claimName)
    .filter((n): n is string => !!n);
  return names.map((n) => claims.get(n)).filter((c): c is ClaimLike => c?.status?.phase === 'Pending');
}

function claimDetail(c: ClaimLike): string {
  const cls = c.spec?.storageClassName;
  return `PersistentVolumeClaim ${c.metadata.name} is Pending (${cls ? `storage class ${cls}` : 'no storage class'})`;
}

/** What is wrong with one pod, if anything: containers first, then scheduling and claims. */
export function podProblemOf(
  pod: PodLike,
  claims: ReadonlyMap<string, ClaimLike>,
): { reason: string; detail: string } | undefined {
  const containers = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of containers) {
    const p = containerProblem(c);
    if (p) return p;
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'True') return undefined;
  const pending = pendingClaims(pod, claims);
  // The scheduler's verdict when it has one, unless it is about the claims themselves.
  if (
    scheduled?.status === 'False' &&
    !(pending.length && /PersistentVolumeClaim/i.test(scheduled.message ?? ''))
  ) {
    if (scheduled.reason !== 'Unschedulable') return undefined;
    return { reason: PodReasons.Unschedulable, detail: oneLine(scheduled.message, 512) || 'no node fits' };
  }
  const first = pending[0];
  return first ? { reason: PodReasons.ClaimPending, detail: claimDetail(first) } : undefined;
}

/**
 * The first problem among a MessageQueue's pods (ordered by name, `-2` before `-10`), naming the
 * pod and counting the others that have one. Undefined when no pod has a known problem (they may
 * still be starting). Pure.
 */
export function podProblem(
  pods: readonly PodLike[],
  claims: readonly ClaimLike[] = [],
): PodProblem | undefined {
  const byName = new Map(claims.map((c) => [c.metadata.name, c]));
  const sorted = [...pods].sort((a, b) =>
    a.metadata.name.localeCompare(b.metadata.name, 'en', { numeric: true }),
  );
  const found = sorted
    .map((p) => ({ pod: p.metadata.name, problem: podProblemOf(p, byName) }))
    .filter((x) => x.problem !== undefined);
  const first = found[0];
  if (!first?.problem) return undefined;
  const more = found.length - 1;
  const rest = more > 0 ? `; ${more} more ${more === 1 ? 'pod has' : 'pods have'} problems` : '';
  return {
    reason: first.problem.reason,
    message: `pod ${first.pod}: ${first.problem.reason}: ${first.problem.detail}${rest}`,
  };
}
