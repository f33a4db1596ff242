/**
 * One reconcile of one MessageQueue: read from cache → ensure Secrets → render → apply what
 * differs → prune → observe → status (only when changed). Errors have kinds: an invalid spec
 * stalls with no retry loop, transient errors back off, conflicts requeue soon.
 */
import { createHash } from 'node:crypto';
import { type Condition, type MessageQueue, type MessageQueueStatus, PAUSED_LABEL } from '../api/types.ts';
import { DESIRED_HASH_ANNOTATION, needsApply, objectKey, prunable, withDesiredHash } from '../apply/apply.ts';
import { engineModule } from '../engines/index.ts';
import { renderContext } from '../render/context.ts';
import { OWNER_LABEL } from '../render/labels.ts';
import { PATCH_ANNOTATION } from '../render/patch.ts';
import { type K8sObject, render } from '../render/render.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Metrics } from '../runtime/metrics.ts';
import {
  computeStatus,
  type Observation,
  READY,
  STALLED,
  statusChanged,
  type WorkloadObservation,
} from '../status/conditions.ts';
import { CredentialsMissing, ensureCredentials, ensureInternal } from './credentials.ts';
import type { Informer } from './informer.ts';
import { ApiError, type KubeClient, type KubeObject } from './kube-client.ts';
import { DEPLOYMENT, EVENT, MESSAGE_QUEUE, NAMESPACE, PVC, typeOf } from './resources.ts';
import type { ReconcileOutcome } from './work-queue.ts';

export const FINALIZER = 'mqop.dev/cleanup';

/**
 * Whether deleting this MessageQueue needs mqop's cleanup: claims to delete (`deleteClaim`), or
 * sidecars to take out of Deployments mqop does not own. Everything else is owned by the
 * MessageQueue and garbage-collected, so no finalizer holds the delete (and an uninstalled
 * operator blocks nothing).
 */
export function needsFinalizer(cr: MessageQueue): boolean {
  const storage = cr.spec.storage;
  if (storage?.deleteClaim === true && storage.ephemeral !== true) return true;
  return cr.spec.engine === 'zeromq' && (cr.spec.zeromq?.sidecarFor?.length ?? 0) > 0;
}
/** Field manager for sidecar containers in the user's Deployments, one per MessageQueue. */
export const sidecarManager = (cr: MessageQueue) => `mqop-sidecar-${cr.metadata.name}`;

export interface ReconcilerOptions {
  operatorImage?: string;
  operatorNamespace?: string;
  imageRegistry?: string;
  /** Identity in Events (pod name). */
  instance?: string;
}

/** Where the reconciler hands ready MessageQueues for smoke testing. */
export interface SmokeHook {
  observe(cr: MessageQueue & KubeObject, ready: boolean): number | undefined;
}

export interface Caches {
  messageQueues: Informer<MessageQueue & KubeObject>;
  /** Owned kinds, by `apiVersion/kind`. */
  owned: Map<string, Informer>;
}

type Workload = KubeObject & {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
};

export class Reconciler {
  private readonly client: KubeClient;
  private readonly caches: Caches;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly opts: ReconcilerOptions;
  /** Set by the operator when smoke tests are on. */
  smoke?: SmokeHook;
  private readonly renderMemo = new Map<
    string,
    { fingerprint: string; desired: K8sObject[]; patches: K8sObject[] }
  >();

  constructor(client: KubeClient, caches: Caches, log: Logger, metrics: Metrics, opts: ReconcilerOptions) {
    this.client = client;
    this.caches = caches;
    this.log = log;
    this.metrics = metrics;
    this.opts = opts;
  }

  /** The work-queue handler. */
  async reconcile(key: string): Promise<ReconcileOutcome | undefined> {
    const [namespace, name] = key.split('/') as [string, string];
    const cr = this.caches.messageQueues.get(namespace, name);
    if (!cr) {
      this.forget(key);
      return undefined; // deleted: owner references let the garbage collector clean up
    }
    if (cr.metadata.labels?.[PAUSED_LABEL] === 'true') return undefined;
    const end = this.metrics.reconcileSeconds.startTimer();
    try {
      const out = cr.metadata.deletionTimestamp ? await this.finalize(cr) : await this.sync(cr);
      this.metrics.reconciles.inc({ result: 'ok' });
      return out;
    } catch (e) {
      // The MessageQueue vanished mid-reconcile (its finalizer was just removed): nothing to do.
      if (
        e instanceof ApiError &&
        e.status === 404 &&
        !(await this.client.getOrUndefined(MESSAGE_QUEUE, namespace, name))
      ) {
        this.forget(key);
        return undefined;
      }
      const kind = e instanceof ApiError ? (e.status === 409 ? 'conflict' : `http_${e.status}`) : 'error';
      this.metrics.errors.inc({ kind });
      this.metrics.reconciles.inc({ result: 'error' });
      if (e instanceof ApiError && e.status === 409) {
        this.log.debug({ key }, 'conflict, requeue');
        return { requeueAfterMs: 1000 };
      }
      throw e;
    } finally {
      end();
    }
  }

  private async sync(current: MessageQueue & KubeObject): Promise<ReconcileOutcome | undefined> {
    const ns = current.metadata.namespace as string;
    // The finalizer and the Secrets are independent writes: they go out together (one round trip
    // instead of two on a new MessageQueue). Objects created before the finalizer lands are owned
    // by the MessageQueue, so garbage collection covers a delete that comes in between.
    const addFinalizer = async (): Promise<MessageQueue & KubeObject> => {
      if (!needsFinalizer(current) || current.metadata.finalizers?.includes(FINALIZER)) return current;
      // resourceVersion makes this a compare-and-swap: a concurrent change gives 409 and a requeue.
      return this.client.mergePatch<MessageQueue & KubeObject>(MESSAGE_QUEUE, ns, current.metadata.name, {
        metadata: {
          finalizers: [...(current.metadata.finalizers ?? []), FINALIZER],
          resourceVersion: current.metadata.resourceVersion,
        },
      });
    };
    const cachedSecret = (name: string) => this.caches.owned.get('v1/Secret')?.get(ns, name);
    const [finalized, secrets] = await Promise.allSettled([
      addFinalizer(),
      Promise.all([
        ensureCredentials(this.client, current, cachedSecret),
        ensureInternal(this.client, current, cachedSecret),
      ]),
    ]);
    if (finalized.status === 'rejected') throw finalized.reason;
    const cr = finalized.value;
    const ctx = renderContext(cr, { operator: this.operatorInputs() });
    const base: Omit<Observation, 'workloads'> = {
      generation: cr.metadata.generation ?? 0,
      smokeEnabled: cr.spec.smokeTest?.enabled !== false,
      smoke: cr.status?.smokeTest,
      version: ctx.version,
    };

    if (secrets.status === 'rejected') {
      if (!(secrets.reason instanceof CredentialsMissing)) throw secrets.reason;
      await this.writeStatus(cr, {
        ...base,
        workloads: [],
        waitingFor: { reason: 'CredentialsMissing', message: secrets.reason.message },
      });
      return { requeueAfterMs: 15_000 };
    }
    const [credentials, internal] = secrets.value;

    const { desired, patches } = this.rendered(cr, credentials, internal);
    // Objects are independent for server-side apply (pods wait for their ConfigMaps and Secrets),
    // so everything that differs goes out at once.
    let invalid: Observation['invalid'];
    // Roles go first: the API server checks a new RoleBinding against its Role (RBAC escalation
    // prevention) and refuses it while the Role is missing, unless the caller may bind anything,
    // which mqop's own RBAC (charts/mqop) does not allow.
    const changed = desired.filter((o) => needsApply(o, this.cached(o)));
    const roles = changed.filter((o) => o.kind === 'Role');
    const rest = changed.filter((o) => o.kind !== 'Role');
    const toApply = [...roles, ...rest];
    const apply = (objs: K8sObject[]) =>
      Promise.allSettled(objs.map((o) => this.client.apply(o as KubeObject)));
    const results = [...(await apply(roles)), ...(await apply(rest))];
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') continue;
      const e = r.reason;
      if (e instanceof ApiError && (e.status === 422 || e.status === 400)) {
        const o = toApply[i];
        invalid = { reason: 'InvalidConfiguration', message: `${o?.kind} ${o?.metadata.name}: ${e.message}` };
        continue;
      }
      throw e;
    }
    let waiting: Observation['waitingFor'];
    if (!invalid) {
      for (const p of patches) {
        try {
          await this.applyPatch(cr, p);
        } catch (e) {
          if (!(e instanceof ApiError && e.status === 404)) throw e;
          waiting = {
            reason: 'SidecarTargetMissing',
            message: `Deployment ${p.metadata.name} (zeromq.sidecarFor) does not exist`,
          };
        }
      }
      await this.prune(cr, desired);
      // Sidecars only ever go out with the finalizer in place: without it there are none to look
      // for (and no list of every Deployment in the namespace on each reconcile).
      if (cr.spec.engine === 'zeromq' && cr.metadata.finalizers?.includes(FINALIZER))
        await this.removeStaleSidecars(cr, patches);
      // Nothing left that garbage collection would not clean up: the finalizer goes (a spec
      // change dropped deleteClaim or the last sidecar target).
      if (!needsFinalizer(cr) && cr.metadata.finalizers?.includes(FINALIZER)) await this.dropFinalizer(cr);
    }

    const ep = engineModule(cr.spec.engine).endpoint(ctx);
    const observation: Observation = {
      ...base,
      workloads: this.observeWorkloads(desired),
      invalid,
      waitingFor: waiting,
      endpoint: ep,
      connectionSecret: ctx.names.connection,
    };
    const status = await this.writeStatus(cr, observation);
    const ready = status.conditions?.find((c) => c.type === READY)?.status === 'True';
    const smokeIn = this.smoke?.observe(
      { ...cr, status: { ...status, smokeTest: cr.status?.smokeTest } },
      ready,
    );
    const requeue = [waiting ? 30_000 : undefined, smokeIn].filter((x): x is number => x !== undefined);
    return requeue.length ? { requeueAfterMs: Math.min(...requeue) } : undefined;
  }

  /**
   * render() is pure, so its result is remembered per MessageQueue until an input changes: most
   * reconciles are triggered by our own writes echoing back through the watches and change nothing.
   */
  private rendered(
    cr: MessageQueue & KubeObject,
    credentials: { username: string; password: string } | undefined,
    internal: Record<string, string>,
  ): { desired: K8sObject[]; patches: K8sObject[] } {
    const key = `${cr.metadata.namespace}/${cr.metadata.name}`;
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([cr.metadata.uid, cr.metadata.generation, cr.spec, credentials, internal]))
      .digest('hex');
    const hit = this.renderMemo.get(key);
    if (hit?.fingerprint === fingerprint) return hit;
    const { objects, patches } = render(cr, { credentials, internal, operator: this.operatorInputs() });
    const entry = { fingerprint, desired: objects.map((o) => withDesiredHash(o)), patches };
    this.renderMemo.set(key, entry);
    return entry;
  }

  /** Drops remembered renders of MessageQueues that are gone. */
  forget(key: string): void {
    this.renderMemo.delete(key);
  }

  private operatorInputs() {
    return {
      image: this.opts.operatorImage,
      namespace: this.opts.operatorNamespace,
      imageRegistry: this.opts.imageRegistry,
    };
  }

  private cached(o: K8sObject): KubeObject | undefined {
    return this.caches.owned
      .get(`${o.apiVersion}/${o.kind}`)
      ?.get(o.metadata.namespace as string, o.metadata.name);
  }

  /** Sidecar containers go into the user's Deployment with their own field manager. */
  private async applyPatch(cr: MessageQueue, p: K8sObject): Promise<void> {
    const current = await this.client.get<
      KubeObject & { spec?: { template?: { spec?: { containers?: { name: string }[] } } } }
    >(DEPLOYMENT, p.metadata.namespace as string, p.metadata.name);
    const want = withDesiredHash(p);
    const hash = want.metadata.annotations?.[DESIRED_HASH_ANNOTATION];
    if (current.metadata.annotations?.[`${DESIRED_HASH_ANNOTATION}-${cr.metadata.name}`] === hash) return;
    const body = {
      ...p,
      metadata: {
        ...p.metadata,
        annotations: {
          ...(p.metadata.annotations ?? {}),
          [`${DESIRED_HASH_ANNOTATION}-${cr.metadata.name}`]: hash,
        },
      },
    };
    await this.client.apply(body as KubeObject, sidecarManager(cr));
  }

  /** Takes the sidecar out of Deployments that were dropped from `zeromq.sidecarFor`. */
  private async removeStaleSidecars(cr: MessageQueue, patches: K8sObject[]): Promise<void> {
    const ns = cr.metadata.namespace as string;
    const marker =
      patches[0]?.metadata.annotations?.[PATCH_ANNOTATION] ?? `zeromq-sidecar/${cr.metadata.name}`;
    const wanted = new Set(patches.map((p) => p.metadata.name));
    const deployments = await this.client.list(DEPLOYMENT, ns);
    for (const d of deployments.items) {
      if (d.metadata.annotations?.[PATCH_ANNOTATION] !== marker || wanted.has(d.metadata.name)) continue;
      this.log.info({ deployment: d.metadata.name, namespace: ns }, 'removing the ZeroMQ sidecar');
      await this.removeSidecar(cr, d.metadata.name);
    }
  }

  /** Applying an empty object with the sidecar's manager removes every field that manager owned. */
  private async removeSidecar(cr: MessageQueue, target: string): Promise<void> {
    try {
      await this.client.apply(
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: target, namespace: cr.metadata.namespace },
        },
        sidecarManager(cr),
      );
    } catch (e) {
      if (!(e instanceof ApiError && (e.status === 404 || e.status === 422))) throw e;
    }
  }

  /** Deletes owned objects no longer desired (e.g. the PDB after scaling to one replica). */
  private async prune(cr: MessageQueue, desired: K8sObject[]): Promise<void> {
    const ns = cr.metadata.namespace as string;
    const names = renderContext(cr).names;
    const keep = new Set([`Secret/${names.credentials}`, `Secret/${names.internal}`]);
    const owned: KubeObject[] = [];
    for (const inf of this.caches.owned.values()) {
      owned.push(...inf.list(ns).filter((o) => o.metadata.labels?.[OWNER_LABEL] === cr.metadata.name));
    }
    for (const o of prunable(owned, desired, cr.metadata.uid as string, keep)) {
      this.log.info(
        { kind: o.kind, name: o.metadata.name, namespace: ns },
        'pruning object no longer desired',
      );
      await this.client.delete(typeOf(o), ns, o.metadata.name);
    }
    void objectKey;
  }

  private observeWorkloads(desired: K8sObject[]): WorkloadObservation[] {
    return desired
      .filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment')
      .map((o) => {
        const w = this.cached(o) as Workload | undefined;
        const replicas = (o as unknown as { spec: { replicas: number } }).spec.replicas;
        return {
          name: o.metadata.name,
          replicas,
          readyReplicas: w?.status?.readyReplicas ?? 0,
          updatedReplicas: w?.status?.updatedReplicas ?? 0,
          upToDate: w !== undefined && (w.status?.observedGeneration ?? -1) >= (w.metadata.generation ?? 0),
        };
      });
  }

  /** Patches status when it changed (never `smokeTest`, which the smoke scheduler owns). */
  private async writeStatus(cr: MessageQueue & KubeObject, o: Observation): Promise<MessageQueueStatus> {
    const next = computeStatus(cr, o, new Date().toISOString());
    const { smokeTest: _ignored, ...mine } = next;
    const { smokeTest: _old, ...prev } = cr.status ?? {};
    if (!statusChanged(prev, mine)) return mine;
    await this.client.mergePatch(
      MESSAGE_QUEUE,
      cr.metadata.namespace as string,
      cr.metadata.name,
      { status: mine },
      'status',
    );
    await this.emitTransitions(cr, prev.conditions, mine.conditions);
    return mine;
  }

  private async emitTransitions(
    cr: MessageQueue & KubeObject,
    before: Condition[] | undefined,
    after: Condition[] | undefined,
  ): Promise<void> {
    for (const type of [READY, STALLED]) {
      const a = before?.find((c) => c.type === type);
      const b = after?.find((c) => c.type === type);
      if (!b || a?.status === b.status) continue;
      if (type === READY && b.status === 'True') await this.event(cr, 'Normal', 'Ready', b.message);
      if (type === READY && b.status === 'False' && a?.status === 'True')
        await this.event(cr, 'Warning', 'NotReady', b.message);
      if (type === STALLED && b.status === 'True') await this.event(cr, 'Warning', b.reason, b.message);
    }
  }

  /** Records an Event on the MessageQueue. Messages never contain secrets. */
  async event(
    cr: MessageQueue & KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const now = new Date().toISOString();
    try {
      await this.client.create({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: {
          name: `${cr.metadata.name}.${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`,
          namespace: cr.metadata.namespace,
        },
        involvedObject: {
          apiVersion: cr.apiVersion,
          kind: cr.kind,
          name: cr.metadata.name,
          namespace: cr.metadata.namespace,
          uid: cr.metadata.uid,
        },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: 'mqop' },
        reportingComponent: 'mqop.dev/operator',
        reportingInstance: this.opts.instance ?? 'mqop',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      } as KubeObject);
    } catch (e) {
      this.log.warn({ err: (e as Error).message, reason }, 'could not record event');
    }
    void EVENT;
  }

  /**
   * Deletion: remove sidecars from the user's Deployments, delete claims when deleteClaim is set,
   * then drop the finalizer. A terminating namespace is never held up.
   */
  private async finalize(cr: MessageQueue & KubeObject): Promise<ReconcileOutcome | undefined> {
    const ns = cr.metadata.namespace as string;
    if (!cr.metadata.finalizers?.includes(FINALIZER)) return undefined;
    const nsObj = await this.client.getOrUndefined<KubeObject & { status?: { phase?: string } }>(
      NAMESPACE,
      undefined,
      ns,
    );
    const terminating =
      !nsObj || nsObj.metadata.deletionTimestamp !== undefined || nsObj.status?.phase === 'Terminating';
    if (!terminating) {
      if (cr.spec.engine === 'zeromq') await this.removeStaleSidecars(cr, []);
      if (cr.spec.storage?.deleteClaim) {
        const claims = await this.client.list(PVC, ns, `${OWNER_LABEL}=${cr.metadata.name}`);
        for (const c of claims.items) await this.client.delete(PVC, ns, c.metadata.name);
      }
    }
    await this.dropFinalizer(cr);
    return undefined;
  }

  private async dropFinalizer(cr: MessageQueue & KubeObject): Promise<void> {
    const finalizers = (cr.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    // resourceVersion: a compare-and-swap, as when it was added.
    await this.client.mergePatch(MESSAGE_QUEUE, cr.metadata.namespace as string, cr.metadata.name, {
      metadata: { finalizers, resourceVersion: cr.metadata.resourceVersion },
    });
  }
}
