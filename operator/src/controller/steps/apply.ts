/**
 * Step: apply. Server-side applies every desired object whose cached copy does not already hold
 * it (a no-op reconcile writes nothing). Objects are independent for server-side apply (pods wait
 * for their ConfigMaps and Secrets), so everything that differs goes out at once, Roles first.
 */
import { needsApply } from '../../apply/apply.ts';
import type { K8sObject } from '../../render/render.ts';
import type { Observation } from '../../status/conditions.ts';
import { type Caches, cachedObject } from '../cache.ts';
import type { Client, KubeObject } from '../kube-client.ts';
import { refusal } from './refused.ts';

/**
 * Applies what differs. An object the API server refuses for good (400, 403, 413, 422: see
 * `refused.ts`) comes back as `invalid` (the first one), which the status step turns into Stalled
 * and the reconciler requeues with a long backoff. Other errors are thrown (backoff).
 */
export async function applyObjects(
  client: Client,
  caches: Caches,
  desired: readonly K8sObject[],
): Promise<{ invalid?: Observation['invalid'] }> {
  const changed = desired.filter((o) => needsApply(o, cachedObject(caches, o)));
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
