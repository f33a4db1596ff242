/**
 * Step: patches into objects the user owns (ZeroMQ sidecars in Deployments). Each goes out with a
 * field manager of its own per MessageQueue and no owner reference, so taking it out again removes
 * only mqop's fields and deleting the MessageQueue never deletes the user's object. Generic: the
 * engine module describes what it patches (`EngineModule.patches`); the controller names no engine.
 */
import type { ResolvedQueue } from '../../api/resolve.ts';
import { DESIRED_HASH_ANNOTATION, withDesiredHash } from '../../apply/apply.ts';
import { engineModule } from '../../engines/index.ts';
import { PATCH_ANNOTATION } from '../../render/patch.ts';
import type { K8sObject } from '../../render/render.ts';
import { type Observation, Reasons } from '../../status/conditions.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { ApiError, type Client, type KubeObject } from '../kube-client.ts';
import { typeOf } from '../resources.ts';

/** Field manager for one MessageQueue's patches. */
export const patchManager = (q: Pick<ResolvedQueue, 'name'>) => `mqop-sidecar-${q.name}`;

/** The user's object records the hash of the patch last applied, per MessageQueue. */
const hashAnnotation = (q: ResolvedQueue) => `${DESIRED_HASH_ANNOTATION}-${q.name}`;

/** What `applyPatches` found: why the MessageQueue waits, and which patches are in place. */
export interface PatchOutcome {
  waitingFor?: Observation['waitingFor'];
  /** The patches whose target exists and invites this MessageQueue: the ones to keep. */
  invited: K8sObject[];
}

/**
 * Applies each patch whose target invites this MessageQueue and does not carry the patch's hash
 * yet. A missing target or one without the invitation is not an error of mqop's: nothing is
 * written to it and the MessageQueue waits (status says which target and what to add, requeued).
 * A target that withdrew its invitation is left out of `invited`, so `removeStalePatches` takes
 * the patch out again.
 */
export async function applyPatches(
  client: Client,
  q: ResolvedQueue,
  patches: readonly K8sObject[],
): Promise<PatchOutcome> {
  const spec = engineModule(q.engine).patches;
  const field = spec?.field ?? 'spec';
  let waitingFor: Observation['waitingFor'];
  const invited: K8sObject[] = [];
  for (const p of patches) {
    let current: KubeObject;
    try {
      current = await client.get<KubeObject>(typeOf(p), p.metadata.namespace as string, p.metadata.name);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
      waitingFor = {
        reason: Reasons.SidecarTargetMissing,
        message: `${p.kind} ${p.metadata.name} (${field}) does not exist`,
      };
      continue;
    }
    if (spec && !spec.invitation.invites(current.metadata.annotations, q)) {
      waitingFor = {
        reason: Reasons.SidecarNotInvited,
        message: `${p.kind} ${p.metadata.name} (${field}) does not invite this MessageQueue: add the annotation ${spec.invitation.annotation}: ${q.name} to it`,
      };
      continue;
    }
    invited.push(p);
    const body = patchBody(p, q);
    if (current.metadata.annotations?.[hashAnnotation(q)] === body.metadata.annotations[hashAnnotation(q)])
      continue;
    await client.apply(body as unknown as KubeObject, patchManager(q));
  }
  return { waitingFor, invited };
}

/** The object sent for a patch: the rendered partial object plus the hash it was applied with. Pure. */
export function patchBody(p: K8sObject, q: ResolvedQueue) {
  const hash = withDesiredHash(p).metadata.annotations?.[DESIRED_HASH_ANNOTATION] as string;
  return {
    ...p,
    metadata: {
      ...p.metadata,
      annotations: { ...(p.metadata.annotations ?? {}), [hashAnnotation(q)]: hash },
    },
  };
}

/**
 * Takes this MessageQueue's patch out of every object of the patched kind that carries its marker
 * but is no longer wanted (all of them when `wanted` is empty: deletion).
 */
export async function removeStalePatches(
  client: Client,
  q: ResolvedQueue,
  wanted: readonly K8sObject[],
  log: Logger,
): Promise<void> {
  const spec = engineModule(q.engine).patches;
  if (!spec) return;
  const type = typeOf(spec);
  const marker = spec.marker(q);
  const keep = new Set(wanted.map((p) => p.metadata.name));
  const objects = await client.list(type, q.namespace);
  for (const o of objects.items) {
    if (o.metadata.annotations?.[PATCH_ANNOTATION] !== marker || keep.has(o.metadata.name)) continue;
    log.info(
      { kind: spec.kind, name: o.metadata.name, namespace: q.namespace },
      'removing the patch of a MessageQueue',
    );
    try {
      // Applying an empty object with the patch's manager removes every field that manager owned.
      await client.apply(
        {
          apiVersion: spec.apiVersion,
          kind: spec.kind,
          metadata: { name: o.metadata.name, namespace: q.namespace },
        },
        patchManager(q),
      );
    } catch (e) {
      if (!(e instanceof ApiError && (e.status === 404 || e.status === 422))) throw e;
    }
  }
}
