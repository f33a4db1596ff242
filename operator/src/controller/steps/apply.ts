/**
 * Step: apply. Server-side applies every desired object whose cached copy does not already hold
 * it (a no-op reconcile writes nothing). Objects are independent for server-side apply (pods wait
 * for their ConfigMaps and Secrets), so everything that differs goes out at once, Roles first.
 *
 * Only into objects mqop created for this MessageQueue (`ownership.ts`): a cache miss is read with
 * a GET first (the cache holds only labelled objects), and when any desired name is taken by
 * someone else's object nothing is applied (a StatefulSet must not mount a user's ConfigMap).
 */
import { needsApply } from '../../apply/apply.ts';
import { ownerOf } from '../../apply/ownership.ts';
import type { K8sObject } from '../../render/render.ts';
import { type Observation, Reasons } from '../../status/conditions.ts';
import { type Caches, cachedObject } from '../cache.ts';
import type { Client, KubeObject } from '../kube-client.ts';
import { typeOf } from '../resources.ts';
import { type Blocked, observeAll, ownershipBlock } from './ownership.ts';
import { refusal } from './refused.ts';

/**
 * Applies what differs. An object the API server refuses for good (400, 403, 413, 422: see
 * `refused.ts`) comes back as `invalid` (the first one), which the status step turns into Stalled
 * and the reconciler requeues with a long backoff. Objects in the way come back as `blocked`,
 * with nothing applied. Other errors are thrown (backoff).
 */
export async function applyObjects(
  client: Client,
  caches: Caches,
  desired: readonly K8sObject[],
): Promise<{ invalid?: Observation['invalid']; blocked?: Blocked }> {
  // A kind the operator does not watch is one it was set up not to write (`--manage-roles=false`:
  // no RBAC for Roles). The API server would refuse it (403) on every retry: stall instead.
  const unwatched = desired.find((o) => !caches.owned.has(`${o.apiVersion}/${o.kind}`));
  if (unwatched)
    return {
      invalid: {
        reason: Reasons.NotPermitted,
        message: `${unwatched.kind} ${unwatched.metadata.name}: this operator does not manage ${unwatched.kind}s (it runs with --manage-roles=false, chart value rbac.rabbitmqLegacyDiscovery): choose an engine version that needs none, or ask the operator's administrator`,
      },
    };
  const observed = await observeAll(
    client,
    desired.map((o) => ({
      type: typeOf(o),
      namespace: o.metadata.namespace as string,
      name: o.metadata.name,
      cached: cachedObject(caches, o),
    })),
  );
  const blocked = desired[0] && ownershipBlock(desired, observed, ownerOf(desired[0]));
  if (blocked) return { blocked };
  // There is a short window between the GET of an absent object and its apply in which a user
  // could create it; server-side apply has no "must not exist" precondition to close it.
  const changed = desired.filter((o, i) => needsApply(o, observed[i]));
  // The API server checks a new RoleBinding against its Role (RBAC escalation prevention) and
  // refuses it while the Role is missing, unless the caller may bind anything, which mqop's own
  // RBAC (charts/mqop) does not allow.
  const roles = changed.filter((o) => o.kind === 'Role');
  const rest = changed.filter((o) => o.kind !== 'Role');
  const applyAll = (objs: K8sObject[]) => Promise.allSettled(objs.map((o) => client.apply(o as KubeObject)));
  const results = [...(await applyAll(roles)), ...(await applyAll(rest))];
  const order = [...roles, ...rest];
  let invalid: Observation['invalid'];
  for (const [i, r] of results.entries()) {
    if (r.status === 'fulfilled') continue;
    const o = order[i] as K8sObject;
    const refused = refusal(r.reason, { kind: o.kind, name: o.metadata.name });
    if (!refused) throw r.reason;
    invalid ??= refused;
  }
  return { invalid };
}
