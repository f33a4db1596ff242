/**
 * One reconcile of one MessageQueue, as a sequence of named steps (one file each under `steps/`):
 *
 *   read from cache ─► resolve once ─► finalizer + Secrets ─► render (memoised) ─► apply
 *   ─► patches into the user's objects ─► prune ─► status (the only status writer) ─► Events
 *   ─► smoke scheduler (runs in the background, hands its result back to the status step)
 *
 * Errors have kinds: a write the API server refuses for good (400, 403, 413, 422, from any step)
 * stalls with a long requeue backoff, transient errors back off, conflicts requeue soon. The
 * controller names no engine: engine-specific work sits behind `EngineModule` hooks.
 */
import { type OperatorSettings, type ResolvedQueue, resolve } from '../api/resolve.ts';
import { type MessageQueue, PAUSED_LABEL } from '../api/types.ts';
import type { K8sObject } from '../render/render.ts';
import { type Observation, READY, Reasons } from '../status/conditions.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { type Caches, cachedSecret } from './cache.ts';
import { ApiError, type Client, type KubeObject } from './kube-client.ts';
import { RenderMemo } from './render-memo.ts';
import { MESSAGE_QUEUE, NAMESPACE } from './resources.ts';
import type { SmokeOutcome } from './smoke-scheduler.ts';
import { applyObjects } from './steps/apply.ts';
import { EventRecorder, type EventSpec, smokeEvent, transitionEvents } from './steps/events.ts';
import {
  deleteClaims,
  dropFinalizer,
  ensureFinalizer,
  hasFinalizer,
  needsFinalizer,
} from './steps/finalizer.ts';
import { type Blocked, blockedRequeueMs, isBlocked } from './steps/ownership.ts';
import { applyPatches, removeStalePatches } from './steps/patches.ts';
import { prune } from './steps/prune.ts';
import { type Refusal, refusal, refusalDelay } from './steps/refused.ts';
import { ACCEPT_NEW_CREDENTIALS, ensureSecrets } from './steps/secrets.ts';
import { baseObservation, observePods, observeWorkloads, writeStatus } from './steps/status.ts';
import type { ReconcileOutcome } from './work-queue.ts';

type Mq = MessageQueue & KubeObject;

export interface ReconcilerOptions {
  /** Operator settings every MessageQueue resolves with. */
  operator?: OperatorSettings;
  /** Identity in Events (pod name). */
  instance?: string;
}

/** Where the reconciler hands ready MessageQueues for smoke testing. */
export interface SmokeHook {
  observe(cr: Mq, q: ResolvedQueue, ready: boolean): number | undefined;
  /** The MessageQueue is gone: drop its queued run. */
  forget?(key: string): void;
}

/** Requeue while waiting for something outside mqop (a user Secret, a sidecar target). */
const WAITING_REQUEUE_MS = 30_000;
/** Requeue of a MessageQueue with patches in the user's objects (an invitation may be withdrawn). */
const PATCH_RECHECK_MS = 60_000;

export class Reconciler {
  private readonly client: Client;
  private readonly caches: Caches;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly opts: ReconcilerOptions;
  private readonly memo = new RenderMemo();
  private readonly events: EventRecorder;
  /** Smoke results handed over by the scheduler, not yet written to status. */
  private readonly smokeResults = new Map<string, SmokeOutcome>();
  /** Refused writes per key: the generation refused and how often, for the requeue backoff. */
  private readonly refusals = new Map<string, { generation: number; attempt: number }>();
  /** Set by the operator when smoke tests are on. */
  smoke?: SmokeHook;
  /** Called with a key that needs a reconcile soon (the work queue's add). */
  enqueue: (key: string) => void = () => {};

  constructor(client: Client, caches: Caches, log: Logger, metrics: Metrics, opts: ReconcilerOptions = {}) {
    this.client = client;
    this.caches = caches;
    this.log = log;
    this.metrics = metrics;
    this.opts = opts;
    this.events = new EventRecorder(client, log, opts.instance);
  }

  /** The smoke scheduler's hand-over: the next reconcile of the key writes it. */
  smokeResult(key: string, outcome: SmokeOutcome): void {
    this.smokeResults.set(key, outcome);
    this.enqueue(key);
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
      const q = resolve(cr, this.opts.operator);
      const out = cr.metadata.deletionTimestamp ? await this.finalize(cr, q) : await this.sync(key, cr, q);
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

  /** Drops what is remembered about a MessageQueue that is gone. */
  forget(key: string): void {
    this.memo.forget(key);
    this.refusals.delete(key);
    this.smokeResults.delete(key);
    this.smoke?.forget?.(key);
    const [namespace, name] = key.split('/') as [string, string];
    this.metrics.forgetMessageQueue(namespace, name);
  }

  /** Records an Event on a MessageQueue (the smoke scheduler's deferrals). */
  event(cr: Mq, e: EventSpec): Promise<void> {
    return this.events.record(cr, e);
  }

  private async sync(key: string, current: Mq, q: ResolvedQueue): Promise<ReconcileOutcome | undefined> {
    // A spec mqop refuses to run (the config policy; values that must fit a label) stalls before
    // anything is written: no Secret, no object, only status and an Event that name the fields.
    // A spec change brings the next reconcile.
    if (q.problems.length > 0) {
      const invalid = {
        reason: Reasons.InvalidConfiguration,
        message: q.problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      };
      const smoke = this.smokeResults.get(key);
      await this.status(
        key,
        current,
        { ...baseObservation(current, q, smoke?.status), workloads: [], invalid },
        smoke,
      );
      return undefined;
    }
    let cr = current;
    let desired: K8sObject[] = [];
    let invalid: Observation['invalid'];
    let waitingFor: Observation['waitingFor'];
    let patches = 0;
    try {
      // Finalizer and Secrets are independent writes: they go out together (one round trip
      // instead of two on a new MessageQueue). Objects created before the finalizer lands are
      // owned by the MessageQueue, so garbage collection covers a delete that comes in between.
      const secretCache = (n: string) => cachedSecret(this.caches, q.namespace, n);
      const [finalized, secrets] = await Promise.allSettled([
        ensureFinalizer(this.client, current, q),
        ensureSecrets(this.client, q, secretCache),
      ]);
      if (finalized.status === 'rejected') throw finalized.reason;
      cr = finalized.value;
      // Blocked: a Secret missing, lost or refused, or a derived name taken by someone else's object.
      if (secrets.status === 'rejected') {
        if (!isBlocked(secrets.reason)) throw secrets.reason;
        return this.blocked(key, cr, q, secrets.reason);
      }
      for (const name of secrets.value.regenerated) {
        const message = `generated new values for Secret ${name} over existing claims (${ACCEPT_NEW_CREDENTIALS})`;
        await this.events.record(cr, { type: 'Warning', reason: 'CredentialsRegenerated', message });
      }
      const rendered = this.memo.render(key, q, secrets.value);
      desired = rendered.desired;
      const applied = await applyObjects(this.client, this.caches, desired);
      if (applied.blocked) return this.blocked(key, cr, q, applied.blocked);
      invalid = applied.invalid;
      if (!invalid) {
        const patched = await applyPatches(this.client, q, rendered.patches);
        waitingFor = patched.waitingFor;
        patches = rendered.patches.length;
        await prune(this.client, this.caches, q, desired, this.log);
        // Patches only ever go out with the finalizer in place: without it there are none to
        // look for (and no list of the namespace's objects on each reconcile). A target that
        // withdrew its invitation is not among the invited: its patch comes out.
        if (hasFinalizer(cr)) await removeStalePatches(this.client, q, patched.invited, this.log);
        // Nothing left that garbage collection would not clean up: the finalizer goes (a spec
        // change dropped deleteClaim or the last patch target).
        if (!needsFinalizer(q) && hasFinalizer(cr)) await dropFinalizer(this.client, cr);
      }
    } catch (e) {
      // Any write the API server refuses for good (422, 403 ...) stalls, whichever step made it.
      invalid = refusal(e);
      if (!invalid) throw e;
    }

    const smoke = this.smokeResults.get(key);
    const workloads = observeWorkloads(this.caches, desired);
    const observation: Observation = {
      ...baseObservation(cr, q, smoke?.status),
      workloads,
      pods: observePods(this.caches, q, workloads),
      invalid,
      waitingFor,
    };
    if (desired.length) {
      observation.endpoint = q.endpoint;
      observation.connectionSecret = q.names.connection;
    }
    const { after, handedOverSince } = await this.status(key, cr, observation, smoke);
    if (invalid) {
      this.metrics.errors.inc({ kind: 'refused' });
      return { requeueAfterMs: this.refusedAgain(key, cr, invalid) };
    }
    this.refusals.delete(key);
    const ready = after.conditions?.find((c) => c.type === READY)?.status === 'True';
    // A result that arrived during this reconcile is written by the next one; only then is the
    // next run due (the status read here would be one result behind).
    const smokeIn = handedOverSince ? undefined : this.smoke?.observe({ ...cr, status: after }, q, ready);
    // The user's objects are not watched: a withdrawn invitation is noticed on this requeue.
    const recheck = patches ? PATCH_RECHECK_MS : undefined;
    const requeue = [waitingFor ? WAITING_REQUEUE_MS : undefined, smokeIn, recheck].filter(
      (x): x is number => x !== undefined,
    );
    return requeue.length ? { requeueAfterMs: Math.min(...requeue) } : undefined;
  }

  /** A reconcile that cannot go on: Stalled or waiting in status, then a requeue (with backoff). */
  private async blocked(key: string, cr: Mq, q: ResolvedQueue, b: Blocked): Promise<ReconcileOutcome> {
    const smoke = this.smokeResults.get(key);
    const why = { reason: b.reason, message: b.message };
    const state = b.state === 'stalled' ? { invalid: why } : { waitingFor: why };
    this.log.debug({ key, reason: b.reason }, 'blocked');
    await this.status(key, cr, { ...baseObservation(cr, q, smoke?.status), workloads: [], ...state }, smoke);
    this.refusals.delete(key);
    return { requeueAfterMs: blockedRequeueMs(b, cr.status?.conditions) };
  }

  /**
   * The requeue delay after a refused write: 30 s doubling to 10 min while the same generation is
   * refused; a new generation (the user changed the spec) starts over, and a reconcile without a
   * refusal forgets it. Logged once per attempt, never more often than the backoff allows.
   */
  private refusedAgain(key: string, cr: Mq, r: Refusal): number {
    const generation = cr.metadata.generation ?? 0;
    const prev = this.refusals.get(key);
    const attempt = prev && prev.generation === generation ? prev.attempt + 1 : 1;
    this.refusals.set(key, { generation, attempt });
    const delay = refusalDelay(attempt);
    this.log.warn(
      { key, reason: r.reason, attempt, retryInMs: delay, err: r.message },
      'write refused, stalled',
    );
    return delay;
  }

  /** The status step, then its Events: condition transitions and the smoke result it wrote. */
  private async status(key: string, cr: Mq, o: Observation, smoke: SmokeOutcome | undefined) {
    const { before, after, written } = await writeStatus(this.client, cr, o);
    const handedOverSince = this.smokeResults.get(key) !== smoke;
    if (smoke && !handedOverSince) this.smokeResults.delete(key);
    if (written)
      for (const e of transitionEvents(before?.conditions, after.conditions)) await this.events.record(cr, e);
    if (smoke) await this.events.record(cr, smokeEvent(smoke.status, smoke.durationMillis));
    return { after, handedOverSince };
  }

  /**
   * Deletion: take the patches out of the user's objects, delete claims when deleteClaim is set,
   * then drop the finalizer. A terminating namespace is never held up.
   */
  private async finalize(cr: Mq, q: ResolvedQueue): Promise<ReconcileOutcome | undefined> {
    if (!hasFinalizer(cr)) return undefined;
    const nsObj = await this.client.getOrUndefined<KubeObject & { status?: { phase?: string } }>(
      NAMESPACE,
      undefined,
      q.namespace,
    );
    const terminating =
      !nsObj || nsObj.metadata.deletionTimestamp !== undefined || nsObj.status?.phase === 'Terminating';
    let latest = cr;
    if (!terminating) {
      // Status says why the MessageQueue is still there while its cleanup runs (or retries).
      const deleting = { ...baseObservation(cr, q, undefined), workloads: [], deleting: true };
      latest = (await writeStatus(this.client, cr, deleting)).written ?? cr;
      await removeStalePatches(this.client, q, [], this.log);
      if (q.storage.deleteClaim) await deleteClaims(this.client, q);
    }
    await dropFinalizer(this.client, latest);
    return undefined;
  }
}
