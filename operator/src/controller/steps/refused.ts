/**
 * Writes the API server refuses for good. Any write step of a reconcile (finalizer, Secrets,
 * apply, patches, prune) may get an answer that says "this request, as built, will never
 * succeed": 400 (malformed), 413 (too large), 422 (invalid, also admission policies), 403
 * (forbidden: RBAC, an admission webhook or policy, a quota). Retrying those in a tight loop only
 * loads the API server; the reconciler turns them into `Stalled=True` with a message naming the
 * object and the field, a Warning Event, and a requeue with a long backoff. Pure.
 */
import { Reasons } from '../../status/conditions.ts';
import { ApiError } from '../kube-client.ts';
import { backoffDelay } from '../work-queue.ts';

/** What a refused write means for status: a reason and a message. */
export interface Refusal {
  reason: string;
  message: string;
}

/** HTTP statuses that mean the request as built will never succeed. */
const REFUSED = new Set([400, 403, 413, 422]);

/** Status messages stay short: the API server's can run to kilobytes. */
export const MAX_REFUSAL_MESSAGE = 1024;

/** Fields whose values are never repeated (a Secret's data). */
const SECRET_FIELD = /^(data|stringData)(\[|\.|$)/;

/** One cause: `field: message`, the value dropped for a Secret's data. */
function cause(c: { field?: string; message?: string; reason?: string }): string {
  const what =
    c.field && SECRET_FIELD.test(c.field) ? (c.reason ?? 'invalid') : (c.message ?? c.reason ?? '');
  return c.field ? `${c.field}: ${what}` : what;
}

/**
 * The refusal an error means, or undefined when it is not one (transient, conflict, not an API
 * answer). `object` names what the step was writing, when the caller knows it better than the
 * API server's `details` (which name a resource, e.g. `secrets`, on a 403).
 */
export function refusal(e: unknown, object?: { kind: string; name: string }): Refusal | undefined {
  if (!(e instanceof ApiError) || !REFUSED.has(e.status)) return undefined;
  const causes = e.details.causes ?? [];
  // A namespace being deleted refuses new objects with 403; it is going away, not stuck.
  if (causes.some((c) => c.reason === 'NamespaceTerminating')) return undefined;
  const kind = object?.kind ?? e.details.kind;
  const name = object?.name ?? e.details.name;
  const who = kind && name ? `${kind} ${name}: ` : '';
  const fields = causes.filter((c) => c.field || c.message);
  const what = fields.length
    ? fields.map(cause).join('; ')
    : // Without causes the message is all there is ("secrets \"x\" is forbidden: ...").
      e.message;
  const message = `${who}${what}`;
  return {
    reason: e.status === 403 ? Reasons.Forbidden : Reasons.InvalidConfiguration,
    message: message.length > MAX_REFUSAL_MESSAGE ? `${message.slice(0, MAX_REFUSAL_MESSAGE - 1)}…` : message,
  };
}

/** Requeue after a refusal: 30 s, doubling per attempt, at most 10 min. */
export const REFUSAL_BASE_MS = 30_000;
export const REFUSAL_MAX_MS = 600_000;
export const refusalDelay = (attempt: number): number =>
  backoffDelay(attempt, REFUSAL_BASE_MS, REFUSAL_MAX_MS);
