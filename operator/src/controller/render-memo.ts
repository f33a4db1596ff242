/**
 * render() is pure, so its result is remembered per MessageQueue until an input changes: most
 * reconciles are triggered by mqop's own writes echoing back through the watches and change
 * nothing, and rendering plus hashing is the reconcile's main CPU cost.
 */
import { createHash } from 'node:crypto';
import type { ResolvedQueue } from '../api/resolve.ts';
import { withDesiredHash } from '../apply/apply.ts';
import type { SecretInputs } from '../render/context.ts';
import { type K8sObject, renderResolved } from '../render/render.ts';

export interface Desired {
  /** Owned objects, each with its desired-hash annotation. */
  desired: K8sObject[];
  /** Patches into objects the user owns. */
  patches: K8sObject[];
}

export class RenderMemo {
  private readonly entries = new Map<string, Desired & { fingerprint: string }>();

  render(key: string, q: ResolvedQueue, secrets: SecretInputs): Desired {
    const cr = q.cr;
    const fingerprint = createHash('sha256')
      .update(
        JSON.stringify([
          cr.metadata.uid,
          cr.metadata.generation,
          cr.spec,
          secrets.credentials,
          secrets.internal,
        ]),
      )
      .digest('hex');
    const hit = this.entries.get(key);
    if (hit?.fingerprint === fingerprint) return hit;
    const { objects, patches } = renderResolved(q, secrets);
    const entry = { fingerprint, desired: objects.map((o) => withDesiredHash(o)), patches };
    this.entries.set(key, entry);
    return entry;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
