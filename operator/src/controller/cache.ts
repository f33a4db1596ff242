/**
 * The read side of the informers, as the reconcile steps see it: a small interface instead of the
 * Informer class, so several namespaces' informers can stand behind one cache and the steps can be
 * unit-tested with a plain map.
 */
import { OWNER_LABEL } from '../api/labels.ts';
import type { MessageQueue } from '../api/types.ts';
import {
  type ClaimLike,
  type ContainerStateLike,
  type ContainerStatusLike,
  oneLine,
  type PodLike,
} from '../status/pods.ts';
import type { KubeObject } from './kube-client.ts';

/** Objects of one kind, read from memory. */
export interface Cache<T extends KubeObject = KubeObject> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): T[];
}

/** One cache over several (one informer per watched namespace). */
export function mergeCaches<T extends KubeObject>(caches: readonly Cache<T>[]): Cache<T> {
  return {
    get: (namespace, name) => {
      for (const c of caches) {
        const o = c.get(namespace, name);
        if (o) return o;
      }
      return undefined;
    },
    list: (namespace) => caches.flatMap((c) => c.list(namespace)),
  };
}

/** What the reconciler reads: MessageQueues and the kinds it owns, by `apiVersion/kind`. */
export interface Caches {
  messageQueues: Cache<MessageQueue & KubeObject>;
  owned: ReadonlyMap<string, Cache>;
  /** mqop's pods, trimmed by `slimPod`: why a MessageQueue is not ready. */
  pods?: Cache<KubeObject & PodLike>;
  /** mqop's claims, trimmed by `slimClaim`. */
  claims?: Cache<KubeObject & ClaimLike>;
}

/** A container state with only what `status/pods.ts` reads (text trimmed). */
function slimState(s: ContainerStateLike | undefined): ContainerStateLike | undefined {
  if (!s) return undefined;
  if (s.waiting) return { waiting: { reason: s.waiting.reason, message: oneLine(s.waiting.message, 512) } };
  if (s.terminated) {
    const { reason, exitCode, message } = s.terminated;
    return { terminated: { reason, exitCode, message: oneLine(message) } };
  }
  return s.running ? { running: {} } : undefined;
}

const slimContainers = (l: ContainerStatusLike[] | undefined) =>
  l?.map((c) => ({
    name: c.name,
    image: c.image,
    ready: c.ready,
    restartCount: c.restartCount,
    state: slimState(c.state),
    lastState: slimState(c.lastState),
  }));

/** The identity the informer needs: name, namespace, resourceVersion, the owner label. */
const slimMeta = (m: KubeObject['metadata']): KubeObject['metadata'] => ({
  name: m.name,
  namespace: m.namespace,
  uid: m.uid,
  resourceVersion: m.resourceVersion,
  labels: m.labels?.[OWNER_LABEL] !== undefined ? { [OWNER_LABEL]: m.labels[OWNER_LABEL] } : undefined,
});

/**
 * What the pod cache keeps of a pod: at 5,000 MessageQueues whole pods (env, probes, managed
 * fields) would be most of the operator's memory, and only these fields say why one is not ready.
 */
export function slimPod(p: KubeObject & PodLike): KubeObject & PodLike {
  const claims = p.spec?.volumes
    ?.filter((v) => v.persistentVolumeClaim?.claimName)
    .map((v) => ({ persistentVolumeClaim: { claimName: v.persistentVolumeClaim?.claimName } }));
  return {
    apiVersion: p.apiVersion,
    kind: p.kind,
    metadata: slimMeta(p.metadata),
    spec: { volumes: claims },
    status: {
      conditions: p.status?.conditions
        ?.filter((c) => c.type === 'PodScheduled')
        .map(({ type, status, reason, message }) => ({
          type,
          status,
          reason,
          message: oneLine(message, 512),
        })),
      containerStatuses: slimContainers(p.status?.containerStatuses),
      initContainerStatuses: slimContainers(p.status?.initContainerStatuses),
    },
  };
}

/** What the claim cache keeps of a PersistentVolumeClaim. */
export function slimClaim(c: KubeObject & ClaimLike): KubeObject & ClaimLike {
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    metadata: slimMeta(c.metadata),
    spec: { storageClassName: c.spec?.storageClassName },
    status: { phase: c.status?.phase },
  };
}

/** The cached copy of an object mqop renders, if its kind is watched. */
export function cachedObject(
  caches: Caches,
  o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
): KubeObject | undefined {
  return caches.owned.get(`${o.apiVersion}/${o.kind}`)?.get(o.metadata.namespace as string, o.metadata.name);
}

/** A Secret of a MessageQueue's namespace from the cache (only mqop-labelled Secrets are cached). */
export function cachedSecret(caches: Caches, namespace: string, name: string): KubeObject | undefined {
  return caches.owned.get('v1/Secret')?.get(namespace, name);
}
