/**
 * Step: the finalizer. mqop holds a MessageQueue's deletion only when it has cleanup that garbage
 * collection cannot do: claims to delete (`deleteClaim`), or patches in objects the user owns
 * (ZeroMQ sidecars). Everything else is owned by the MessageQueue, so an uninstalled operator
 * blocks nothing.
 */
import { OWNER_LABEL } from '../../api/labels.ts';
import type { ResolvedQueue } from '../../api/resolve.ts';
import type { MessageQueue } from '../../api/types.ts';
import { engineModule } from '../../engines/index.ts';
import { DATA_VOLUME } from '../../render/workload.ts';
import type { Client, KubeObject } from '../kube-client.ts';
import { MESSAGE_QUEUE, PVC } from '../resources.ts';

export const FINALIZER = 'mqop.dev/cleanup';

type Mq = MessageQueue & KubeObject;

/** Whether deleting this MessageQueue needs mqop's cleanup. Pure. */
export function needsFinalizer(q: ResolvedQueue): boolean {
  if (q.storage.deleteClaim && !q.storage.ephemeral) return true;
  return engineModule(q.engine).patches?.wanted(q) ?? false;
}

export const hasFinalizer = (cr: Mq): boolean => cr.metadata.finalizers?.includes(FINALIZER) ?? false;

/**
 * Adds the finalizer when needed; returns the MessageQueue as it now is. resourceVersion makes the
 * patch a compare-and-swap: a concurrent change gives 409 and a requeue.
 */
export async function ensureFinalizer(client: Client, cr: Mq, q: ResolvedQueue): Promise<Mq> {
  if (!needsFinalizer(q) || hasFinalizer(cr)) return cr;
  return client.mergePatch<Mq>(MESSAGE_QUEUE, q.namespace, q.name, {
    metadata: {
      finalizers: [...(cr.metadata.finalizers ?? []), FINALIZER],
      resourceVersion: cr.metadata.resourceVersion,
    },
  });
}

/** Removes the finalizer (compare-and-swap, as when it was added). */
export async function dropFinalizer(client: Client, cr: Mq): Promise<void> {
  const finalizers = (cr.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
  await client.mergePatch(MESSAGE_QUEUE, cr.metadata.namespace as string, cr.metadata.name, {
    metadata: { finalizers, resourceVersion: cr.metadata.resourceVersion },
  });
}

/**
 * Whether a claim is one of this MessageQueue's data claims: `data-<statefulset>-<ordinal>` of
 * its StatefulSets (the `data` claim template of `render/workload.ts`). Claims carry the owner
 * label but no owner reference, so the name is what tells them from a user's claim with that
 * label, or from the claims of another engine under the same MessageQueue name. Pure.
 */
export function isDataClaim(q: ResolvedQueue, claim: string): boolean {
  return [q.names.workload, q.names.companion].some((sts) => {
    const prefix = `${DATA_VOLUME}-${sts}-`;
    return claim.startsWith(prefix) && /^\d+$/.test(claim.slice(prefix.length));
  });
}

/** Deletes the MessageQueue's data claims (`storage.deleteClaim`), found by the owner label. */
export async function deleteClaims(client: Client, q: ResolvedQueue): Promise<void> {
  const claims = await client.list(PVC, q.namespace, `${OWNER_LABEL}=${q.name}`);
  for (const c of claims.items)
    if (isDataClaim(q, c.metadata.name)) await client.delete(PVC, q.namespace, c.metadata.name);
}
