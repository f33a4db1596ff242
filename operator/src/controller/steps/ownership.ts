/**
 * Ownership before every write: mqop applies only to objects it created for this MessageQueue
 * (`apply/ownership.ts`). The informer cache holds only objects with the owner label, so a cache
 * miss does not mean "absent": a miss is read with a GET (all misses in parallel) before anything
 * is applied; a hit is checked for the owner uid. A no-op reconcile finds everything in the cache
 * and makes no request.
 *
 * A reconcile that cannot go on raises or returns a `Blocked`: `stalled` (Stalled=True, a Warning
 * Event, requeued with backoff because the user may fix it without touching the MessageQueue) or
 * `waiting` (Reconciling=True, requeued).
 */

import type { Condition } from '../../api/types.ts';
import {
  notManagedMessage,
  type Owner,
  ownershipOf,
  previousInstanceMessage,
  ref,
} from '../../apply/ownership.ts';
import { Reasons, STALLED } from '../../status/conditions.ts';
import type { Client, KubeObject } from '../kube-client.ts';

export class Blocked extends Error {
  readonly state: 'stalled' | 'waiting';
  readonly reason: string;
  /** Fixed requeue; when unset, stalled states back off (`blockedRequeueMs`). */
  readonly requeueAfterMs?: number;
  constructor(state: 'stalled' | 'waiting', reason: string, message: string, requeueAfterMs?: number) {
    super(message);
    this.name = 'Blocked';
    this.state = state;
    this.reason = reason;
    this.requeueAfterMs = requeueAfterMs;
  }
}

/** Whether an error is a `Blocked` (what the reconciler turns into status instead of a retry). */
export const isBlocked = (e: unknown): e is Blocked => e instanceof Blocked;

/** Requeue while objects of an earlier MessageQueue wait for the garbage collector. */
export const PREVIOUS_INSTANCE_REQUEUE_MS = 5_000;
const STALLED_MIN_MS = 5_000;
const STALLED_MAX_MS = 300_000;

/**
 * Backoff for a stall the user fixes outside the MessageQueue (an object in the way, a lost or bad
 * Secret): the time since the stall began, between 5 s and 5 min, so checks thin out (5, 5, 10,
 * 20, 40 s ...) without state kept in the operator: the condition's lastTransitionTime is the
 * memory, and it survives a restart. Pure given `now`.
 */
export function blockedRequeueMs(
  b: Blocked,
  conditions: readonly Condition[] | undefined,
  now = Date.now(),
): number {
  if (b.requeueAfterMs !== undefined) return b.requeueAfterMs;
  const stalled = conditions?.find((c) => c.type === STALLED);
  if (b.state !== 'stalled' || stalled?.status !== 'True' || stalled.reason !== b.reason)
    return STALLED_MIN_MS;
  const since = now - Date.parse(stalled.lastTransitionTime);
  return Math.min(STALLED_MAX_MS, Math.max(STALLED_MIN_MS, Number.isFinite(since) ? since : 0));
}

/**
 * What blocks writing `objects` as this owner's, or undefined: foreign objects stall
 * (`NotManaged`), objects of an earlier MessageQueue of the same name wait. `observed[i]` is what
 * exists under `objects[i]`'s name (undefined: absent). Pure.
 */
export function ownershipBlock(
  objects: readonly { kind: string; metadata: { name: string } }[],
  observed: readonly (KubeObject | undefined)[],
  owner: Owner | undefined,
): Blocked | undefined {
  if (!owner) return undefined;
  const foreign: string[] = [];
  const previous: string[] = [];
  for (const [i, o] of objects.entries()) {
    const seen = observed[i];
    if (!seen) continue;
    const who = ownershipOf({ ...seen, kind: o.kind }, owner);
    if (who === 'foreign') foreign.push(ref(o));
    if (who === 'previous') previous.push(ref(o));
  }
  if (foreign.length) return new Blocked('stalled', Reasons.NotManaged, notManagedMessage(foreign));
  if (previous.length)
    return new Blocked(
      'waiting',
      Reasons.PreviousInstance,
      previousInstanceMessage(previous),
      PREVIOUS_INSTANCE_REQUEUE_MS,
    );
  return undefined;
}

/** Reads every cache miss with a GET, all in parallel; hits cost nothing. */
export function observeAll(
  client: Pick<Client, 'getOrUndefined'>,
  objects: readonly {
    type: Parameters<Client['getOrUndefined']>[0];
    namespace: string;
    name: string;
    cached?: KubeObject;
  }[],
): Promise<(KubeObject | undefined)[]> {
  return Promise.all(
    objects.map((o) =>
      o.cached ? Promise.resolve(o.cached) : client.getOrUndefined(o.type, o.namespace, o.name),
    ),
  );
}
