/**
 * Step: apply. Server-side applies every desired object whose cached copy does not already hold
 * it (a no-op reconcile writes nothing). Objects are independent for server-side apply (pods wait
 * for their ConfigMaps and Secrets), so everything that differs goes out at once, Roles first.
 */
import { needsApply } from '../../apply/apply.ts';
import type { K8sObject } from '../../render/render.ts';
import type { Observation } from '../../status/conditions.ts';
import { type Caches, cachedObject } from '../cache.ts';
import { ApiError, type Client, type KubeObject } from '../kube-client.ts';

/**
 * Applies what differs. A spec the API server refuses (400, 422) is not retried: it comes back as
 * `invalid`, which the status step turns into Stalled. Other errors are thrown (backoff).
 */
export async function applyObjects(
  client: Client,
  caches: Caches,
  desired: readonly K8sObject[],
): Promise<{ invalid?: Observation['invalid'] }> {
  // A kind the operator does not watch is one it was set up not to write (`--manage-roles=false`:
  // no RBAC for Roles). The API server would refuse it (403) on every retry: stall instead.
  const unwatched = desired.find((o) => !caches.owned.has(`${o.apiVersion}/${o.kind}`));
  if (unwatched)
    return {
      invalid: {
        reason: 'NotPermitted',
        message: `${unwatched.kind} ${unwatched.metadata.name}: this operator does not manage ${unwatched.kind}s (it runs with --manage-roles=false, chart value rbac.rabbitmqLegacyDiscovery): choose an engine version that needs none, or ask the operator's administrator`,
      },
    };
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
    const e = r.reason;
    if (e instanceof ApiError && (e.status === 422 || e.status === 400)) {
      const o = order[i];
      invalid = { reason: 'InvalidConfiguration', message: `${o?.kind} ${o?.metadata.name}: ${e.message}` };
      continue;
    }
    throw e;
  }
  return { invalid };
}
