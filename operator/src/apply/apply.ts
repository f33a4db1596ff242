/**
 * Deciding what to write. A server-side apply of unchanged content is still a write request, so
 * mqop applies an object only when the cached copy does not already hold what it wants: the
 * desired object carries a hash of itself, and the observed object must contain every desired
 * field. Edits by others (drift) fail the containment check; spec changes change the hash.
 */
import { createHash } from 'node:crypto';
import { type Owner, ownershipOf } from './ownership.ts';

/** Annotation with the hash of the desired object mqop last applied. */
export const DESIRED_HASH_ANNOTATION = 'mqop.dev/desired-hash';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** JSON with object keys sorted: equal for equal content, whatever the key order. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
}

/** The desired object with its own hash as an annotation. Pure. */
export function withDesiredHash<T extends Obj>(obj: T): T {
  const hash = createHash('sha256').update(canonical(obj)).digest('hex').slice(0, 20);
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      annotations: { ...(obj.metadata.annotations ?? {}), [DESIRED_HASH_ANNOTATION]: hash },
    },
  };
}

const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

/** Whether `observed` holds every field of `desired` with the same value (extra fields allowed). */
export function contains(observed: unknown, desired: unknown): boolean {
  if (isEmpty(desired)) return true;
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed) || observed.length !== desired.length) return false;
    return desired.every((d, i) => contains(observed[i], d));
  }
  if (desired !== null && typeof desired === 'object') {
    if (observed === null || typeof observed !== 'object' || Array.isArray(observed)) return false;
    return Object.entries(desired).every(([k, v]) => contains((observed as Record<string, unknown>)[k], v));
  }
  return observed === desired;
}

/** Whether an object must be (re)applied. */
export function needsApply(desired: Obj, observed: Obj | undefined): boolean {
  if (!observed) return true;
  const want = desired.metadata.annotations?.[DESIRED_HASH_ANNOTATION];
  if (!want || observed.metadata.annotations?.[DESIRED_HASH_ANNOTATION] !== want) return true;
  return !contains(observed, desired);
}

/** `apiVersion/kind/namespace/name`, the identity of an object. */
export function objectKey(o: Obj): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * Owned objects to delete: those mqop created for this MessageQueue (controller owner reference
 * with its uid and mqop's labels, `ownership.ts`) that are no longer desired and not in the keep
 * list (Secrets the controller creates once). Objects of others are never pruned, whatever their
 * labels or owner references say. Pure.
 */
export function prunable<T extends Obj & Parameters<typeof ownershipOf>[0]>(
  owned: T[],
  desired: Obj[],
  owner: Owner,
  keep: ReadonlySet<string>,
): T[] {
  const want = new Set(desired.map(objectKey));
  return owned.filter(
    (o) =>
      ownershipOf(o, owner) === 'ours' &&
      !want.has(objectKey(o)) &&
      !keep.has(`${o.kind}/${o.metadata.name}`),
  );
}
