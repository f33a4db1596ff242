/**
 * Whose an object is. mqop writes into (applies, patches a Secret of, prunes) only objects it
 * created for this MessageQueue: a controller owner reference with the MessageQueue's uid AND
 * mqop's labels (`app.kubernetes.io/managed-by: mqop`, `mqop.dev/messagequeue: <name>`). An
 * object that merely carries a derived name belongs to someone else, and mqop stalls instead of
 * taking it over (which would also hand it to the garbage collector with the MessageQueue). Pure.
 */
import { MANAGED_BY, OWNER_LABEL } from '../api/labels.ts';
import { KIND } from '../api/types.ts';

/** The MessageQueue an object should belong to. */
export interface Owner {
  uid: string;
  name: string;
}

/**
 * - `ours`: created by mqop for this MessageQueue;
 * - `previous`: created by mqop for an earlier MessageQueue of the same name (deleted and
 *   recreated, so it has another uid), waiting for the garbage collector: never adopted;
 * - `foreign`: anything else (the user's, another tool's, or orphaned with `--cascade=orphan`).
 */
export type Ownership = 'ours' | 'previous' | 'foreign';

interface Meta {
  kind: string;
  metadata: {
    name: string;
    labels?: Record<string, string>;
    ownerReferences?: readonly { uid: string; kind?: string; name?: string; controller?: boolean }[];
  };
}

export function ownershipOf(o: Meta, owner: Owner): Ownership {
  const labels = o.metadata.labels ?? {};
  const labelled =
    labels[OWNER_LABEL] === owner.name && labels['app.kubernetes.io/managed-by'] === MANAGED_BY;
  const controller = o.metadata.ownerReferences?.find((r) => r.controller === true);
  if (!labelled || !controller) return 'foreign';
  if (controller.uid === owner.uid) return 'ours';
  if (controller.kind === KIND && controller.name === owner.name) return 'previous';
  return 'foreign';
}

/** The owner a rendered object names in its controller owner reference, if it has one. */
export function ownerOf(desired: { metadata: { ownerReferences?: readonly unknown[] } }): Owner | undefined {
  const refs = desired.metadata.ownerReferences as Meta['metadata']['ownerReferences'];
  const r = refs?.find((x) => x.controller === true);
  return r?.name ? { uid: r.uid, name: r.name } : undefined;
}

/** `Kind/name`, as messages name objects. */
export const ref = (o: Meta): string => `${o.kind}/${o.metadata.name}`;

const andMore = (refs: readonly string[]) => (refs.length > 1 ? ` (and ${refs.slice(1).join(', ')})` : '');

/** The Stalled message for objects in the way (the first one named in full). */
export function notManagedMessage(refs: readonly string[]): string {
  return (
    `${refs[0]} exists and is not managed by this MessageQueue${andMore(refs)}: mqop does not take ` +
    'over objects it did not create; rename or delete it, or give the MessageQueue another name'
  );
}

/** The waiting message for objects of an earlier MessageQueue of the same name. */
export function previousInstanceMessage(refs: readonly string[]): string {
  return (
    `${refs[0]} still belongs to an earlier MessageQueue of this name${andMore(refs)}, which was ` +
    'deleted; waiting for the garbage collector to remove it (mqop does not adopt it)'
  );
}
