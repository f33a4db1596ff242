/**
 * The read side of the informers, as the reconcile steps see it: a small interface instead of the
 * Informer class, so several namespaces' informers can stand behind one cache and the steps can be
 * unit-tested with a plain map.
 */
import type { MessageQueue } from '../api/types.ts';
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
