/** The reconcile steps, each against the in-memory fake client (the real API server: test/integration). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClient } from '../../../test/support/fake-client.ts';
import { PASSED_SMOKE } from '../../../test/support/samples.ts';
import { resolve, sidecarImage } from '../../api/resolve.ts';
import type { MessageQueue, MessageQueueSpec, SmokeTestStatus } from '../../api/types.ts';
import { DESIRED_HASH_ANNOTATION, withDesiredHash } from '../../apply/apply.ts';
import { invitesSidecar, SIDECAR_CONTAINER, SIDECAR_INVITATION } from '../../engines/zeromq.ts';
import { PATCH_ANNOTATION } from '../../render/patch.ts';
import { renderResolved } from '../../render/render.ts';
import { computeStatus } from '../../status/conditions.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { slimClaim, slimPod } from '../cache.ts';
import { ApiError, type KubeObject } from '../kube-client.ts';
import { ownedTypes } from '../resources.ts';
import { applyObjects } from './apply.ts';
import { EventRecorder, smokeEvent, transitionEvents } from './events.ts';
import { deleteClaims, dropFinalizer, ensureFinalizer, FINALIZER, needsFinalizer } from './finalizer.ts';
import { Blocked, blockedRequeueMs } from './ownership.ts';
import { applyPatches, patchBody, patchManager, removeStalePatches } from './patches.ts';
import { prune } from './prune.ts';
import { MAX_REFUSAL_MESSAGE, refusal, refusalDelay } from './refused.ts';
import {
  ACCEPT_NEW_CREDENTIALS,
  CredentialsLost,
  CredentialsMissing,
  credentialProblem,
  dataClaims,
  ensureCredentials,
  ensureInternal,
  ensureSecrets,
} from './secrets.ts';
import { baseObservation, observePods, statusPatch, writeStatus } from './status.ts';

const log = createLogger('silent');
type Mq = MessageQueue & KubeObject;

const mq = (spec: Partial<MessageQueueSpec> & { engine: MessageQueueSpec['engine'] }, name = 'orders'): Mq =>
  ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, generation: 1 },
    spec,
  }) as Mq;

/** What mqop puts on the objects it creates for `orders` (uid-orders). */
const LABELS = { 'mqop.dev/messagequeue': 'orders', 'app.kubernetes.io/managed-by': 'mqop' };
const OWNER = [
  {
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    name: 'orders',
    uid: 'uid-orders',
    controller: true,
  },
];

const decode = (s: KubeObject | undefined, k: string) =>
  Buffer.from((s as { data?: Record<string, string> })?.data?.[k] ?? '', 'base64').toString();

describe('finalizer step', () => {
  test('needed for deleteClaim on kept storage and for ZeroMQ sidecars, not otherwise', () => {
    assert.equal(needsFinalizer(resolve(mq({ engine: 'redis' }))), false);
    assert.equal(needsFinalizer(resolve(mq({ engine: 'redis', storage: { deleteClaim: true } }))), true);
    assert.equal(
      needsFinalizer(resolve(mq({ engine: 'redis', storage: { deleteClaim: true, ephemeral: true } }))),
      false,
    );
    assert.equal(needsFinalizer(resolve(mq({ engine: 'zeromq', zeromq: { sidecarFor: ['app'] } }))), true);
    assert.equal(needsFinalizer(resolve(mq({ engine: 'zeromq' }))), false);
  });

  test('added with a compare-and-swap (a stale copy gets 409), removed the same way', async () => {
    const c = new FakeClient();
    const stored = c.seed(mq({ engine: 'kafka', storage: { deleteClaim: true } }));
    const withFin = await ensureFinalizer(c, stored, resolve(stored));
    assert.deepEqual(withFin.metadata.finalizers, [FINALIZER]);
    // The old copy is stale now: a second writer with it must not win.
    await assert.rejects(dropFinalizer(c, stored), (e: { status?: number }) => e.status === 409);
    await dropFinalizer(c, withFin);
    assert.deepEqual(c.peek<Mq>('MessageQueue', 'shop', 'orders')?.metadata.finalizers, []);
  });

  test('no write when the finalizer is not needed or already there', async () => {
    const c = new FakeClient();
    const plain = c.seed(mq({ engine: 'redis' }));
    assert.equal(await ensureFinalizer(c, plain, resolve(plain)), plain);
    assert.equal(c.writes().length, 0);
  });

  test('deleteClaims deletes only this MessageQueue’s claims', async () => {
    const c = new FakeClient();
    const pvc = (name: string, owner: string) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, namespace: 'shop', labels: { 'mqop.dev/messagequeue': owner } },
    });
    c.seed(pvc('data-orders-redis-0', 'orders'));
    c.seed(pvc('data-other-redis-0', 'other'));
    // The owner label alone does not make a claim this MessageQueue's data.
    c.seed(pvc('backups-of-orders', 'orders'));
    c.seed(pvc('data-orders-kafka-0', 'orders'));
    await deleteClaims(c, resolve(mq({ engine: 'redis' })));
    assert.equal(c.peek('PersistentVolumeClaim', 'shop', 'data-orders-redis-0'), undefined);
    assert.ok(c.peek('PersistentVolumeClaim', 'shop', 'data-other-redis-0'));
    assert.ok(c.peek('PersistentVolumeClaim', 'shop', 'backups-of-orders'));
    assert.ok(c.peek('PersistentVolumeClaim', 'shop', 'data-orders-kafka-0'));
  });
});

describe('secrets step', () => {
  test('credentials are created once, owned by the MessageQueue, and never overwritten', async () => {
    const c = new FakeClient();
    const q = resolve(mq({ engine: 'rabbitmq' }));
    const first = await ensureCredentials(c, q);
    assert.equal(first?.username, 'mqop');
    assert.equal(first?.password.length, 32);
    const s = c.peek<KubeObject>('Secret', 'shop', 'orders-credentials');
    assert.equal(s?.metadata.ownerReferences?.[0]?.uid, 'uid-orders');
    // A cache miss is not an absence: the GET finds the Secret, which is kept, never recreated.
    const second = await ensureCredentials(c, q);
    assert.deepEqual(second, first);
    assert.equal(c.writes().filter((w) => w.verb === 'create').length, 1);
    assert.equal(decode(c.peek('Secret', 'shop', 'orders-credentials'), 'password'), first?.password);
  });

  test('a missing or incomplete user Secret is CredentialsMissing, naming it', async () => {
    const c = new FakeClient();
    const q = resolve(mq({ engine: 'redis', auth: { secretName: 'mine' } }));
    await assert.rejects(
      ensureCredentials(c, q),
      (e) => e instanceof CredentialsMissing && /mine/.test(e.message),
    );
    c.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'mine', namespace: 'shop' },
      data: { username: 'dQ==' },
    });
    await assert.rejects(
      ensureCredentials(c, q),
      (e) => e instanceof CredentialsMissing && /password/.test(e.message),
    );
    assert.equal(c.writes().length, 0, 'the user Secret is never written');
  });

  test('engines without auth get no credentials; internal values are kept and completed', async () => {
    const c = new FakeClient();
    assert.equal(await ensureCredentials(c, resolve(mq({ engine: 'zeromq' }))), undefined);
    const q = resolve(mq({ engine: 'kafka' }));
    c.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'orders-kafka-internal', namespace: 'shop', labels: LABELS, ownerReferences: OWNER },
      data: { 'cluster-id': Buffer.from('keep-me').toString('base64') },
    } as KubeObject);
    const internal = await ensureInternal(c, q, (n) => c.peek('Secret', 'shop', n));
    assert.equal(internal['cluster-id'], 'keep-me');
    assert.ok(internal['cluster-password'], 'the missing key was added');
    assert.equal(decode(c.peek('Secret', 'shop', 'orders-kafka-internal'), 'cluster-id'), 'keep-me');
    const both = await ensureSecrets(c, q, (n) => c.peek('Secret', 'shop', n));
    assert.deepEqual(both.internal, internal);
  });
});

describe('apply step', () => {
  test('an operator that does not manage Roles stalls a MessageQueue that needs one, writing nothing', async () => {
    const c = new FakeClient();
    const q = resolve(mq({ engine: 'rabbitmq', version: '3.13.7', replicas: 3 }));
    const desired = renderResolved(q, { credentials: { username: 'u', password: 'p' } }).objects;
    assert.ok(
      desired.some((o) => o.kind === 'Role'),
      'RabbitMQ 3.13 renders a Role',
    );
    const all = c.caches();
    const caches = {
      ...all,
      owned: new Map(
        [...all.owned].filter(([k]) => ownedTypes(false).some((t) => `${t.apiVersion}/${t.kind}` === k)),
      ),
    };
    const { invalid } = await applyObjects(c, caches, desired);
    assert.equal(invalid?.reason, 'NotPermitted');
    assert.match(invalid?.message ?? '', /--manage-roles=false/);
    assert.equal(c.writes().length, 0);
    // 4.1 and later render none: the same operator applies them.
    const current = resolve(mq({ engine: 'rabbitmq', replicas: 3 }));
    const objs = renderResolved(current, { credentials: { username: 'u', password: 'p' } }).objects;
    assert.deepEqual(
      objs.filter((o) => ['Role', 'RoleBinding', 'ServiceAccount'].includes(o.kind)),
      [],
    );
    assert.equal((await applyObjects(c, caches, objs)).invalid, undefined);
    assert.deepEqual(
      ownedTypes(false)
        .map((t) => t.kind)
        .filter((k) => /Role|ServiceAccount/.test(k)),
      [],
    );
  });

  const desired = () => {
    // 3.x discovers peers through the Endpoints API: a Role and a RoleBinding.
    const q = resolve(mq({ engine: 'rabbitmq', replicas: 3, version: '3.13.7' }));
    const secrets = { credentials: { username: 'u', password: 'p' }, internal: { 'erlang-cookie': 'c' } };
    return renderResolved(q, secrets).objects.map((o) => withDesiredHash(o));
  };

  test('applies what the cache lacks, Roles first; nothing when the cache holds it all', async () => {
    const c = new FakeClient();
    const objs = desired();
    assert.deepEqual(await applyObjects(c, c.caches(), objs), { invalid: undefined });
    const applied = c.writes().map((w) => w.kind);
    assert.equal(applied.length, objs.length);
    assert.equal(applied[0], 'Role');
    assert.ok(applied.includes('RoleBinding'));
    c.calls.length = 0;
    await applyObjects(c, c.caches(), objs);
    assert.equal(c.writes().length, 0, 'a no-op reconcile writes nothing');
  });

  test('a refused object (422) becomes InvalidConfiguration naming it; a 500 is thrown for backoff', async () => {
    const c = new FakeClient();
    c.failWhen((x) => x.verb === 'apply' && x.kind === 'StatefulSet', 422, 'spec.template: Invalid value');
    const { invalid } = await applyObjects(c, c.caches(), desired());
    assert.equal(invalid?.reason, 'InvalidConfiguration');
    assert.match(invalid?.message ?? '', /^StatefulSet orders-rabbitmq: spec\.template: Invalid value/);
    const d = new FakeClient();
    d.failWhen((x) => x.verb === 'apply' && x.kind === 'Service', 500);
    await assert.rejects(
      applyObjects(d, d.caches(), desired()),
      (e: { status?: number }) => e.status === 500,
    );
  });
});

describe('patches step', () => {
  const sidecars = (targets: string[]) => {
    const q = resolve(mq({ engine: 'zeromq', zeromq: { sidecarFor: targets } }));
    return { q, patches: renderResolved(q).patches };
  };
  /** A user's Deployment; `invites` names the MessageQueue in the opt-in annotation. */
  const userDeployment = (name: string, invites: string | null = 'orders') =>
    ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name,
        namespace: 'shop',
        ...(invites === null ? {} : { annotations: { [SIDECAR_INVITATION]: invites } }),
      },
      spec: { template: { spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
    }) as KubeObject;

  test('a missing target waits, naming the spec field; a present one gets the patch once', async () => {
    const c = new FakeClient();
    c.seed(userDeployment('pricing'));
    const { q, patches } = sidecars(['pricing', 'dashboard']);
    const { waitingFor } = await applyPatches(c, q, patches);
    assert.deepEqual(waitingFor, {
      reason: 'SidecarTargetMissing',
      message: 'Deployment dashboard (zeromq.sidecarFor) does not exist',
    });
    const applied = c.writes();
    assert.deepEqual(
      applied.map((w) => [w.name, w.fieldManager]),
      [['pricing', patchManager(q)]],
    );
    c.calls.length = 0;
    await applyPatches(c, q, patches);
    assert.equal(c.writes().length, 0, 'an unchanged patch is not re-applied');
  });

  test('stale patches are taken out with the patch manager; others’ Deployments are left alone', async () => {
    const c = new FakeClient();
    for (const n of ['pricing', 'dashboard', 'unrelated']) c.seed(userDeployment(n));
    const { q, patches } = sidecars(['pricing', 'dashboard']);
    await applyPatches(c, q, patches);
    c.calls.length = 0;
    const after = sidecars(['pricing']);
    await removeStalePatches(c, after.q, after.patches, log);
    assert.deepEqual(
      c.writes().map((w) => [w.verb, w.name, w.fieldManager, JSON.stringify((w.body as KubeObject).spec)]),
      [['apply', 'dashboard', patchManager(q), undefined]],
    );
    assert.equal(
      c.peek<KubeObject>('Deployment', 'shop', 'unrelated')?.metadata.annotations?.[PATCH_ANNOTATION],
      undefined,
    );
  });

  test('a target without the invitation gets no write and the MessageQueue says what to add', async () => {
    const c = new FakeClient();
    c.seed(userDeployment('pricing', null));
    c.seed(userDeployment('billing', 'someone-else'));
    const { q, patches } = sidecars(['pricing', 'billing']);
    const out = await applyPatches(c, q, patches);
    assert.deepEqual(c.writes(), [], 'nothing written to an uninvited Deployment');
    assert.deepEqual(out.invited, []);
    assert.equal(out.waitingFor?.reason, 'SidecarNotInvited');
    assert.match(out.waitingFor?.message ?? '', /Deployment billing \(zeromq\.sidecarFor\)/);
    assert.match(out.waitingFor?.message ?? '', /mqop\.dev\/zeromq-sidecar: orders/);
    // Nothing carries the marker, so removing stale patches writes nothing either.
    await removeStalePatches(c, q, out.invited, log);
    assert.equal(c.writes().length, 0);
  });

  test('a withdrawn invitation takes the sidecar out again', async () => {
    const c = new FakeClient();
    c.seed(userDeployment('pricing'));
    const { q, patches } = sidecars(['pricing']);
    assert.deepEqual((await applyPatches(c, q, patches)).invited.length, 1);
    const d = c.peek<KubeObject>('Deployment', 'shop', 'pricing') as KubeObject;
    delete d.metadata.annotations?.[SIDECAR_INVITATION];
    c.seed(d);
    c.calls.length = 0;
    const out = await applyPatches(c, q, patches);
    assert.equal(out.waitingFor?.reason, 'SidecarNotInvited');
    await removeStalePatches(c, q, out.invited, log);
    assert.deepEqual(
      c.writes().map((w) => [w.verb, w.name, w.fieldManager, JSON.stringify((w.body as KubeObject).spec)]),
      [['apply', 'pricing', patchManager(q), undefined]],
    );
  });

  test('the patch holds the sidecar container and mqop’s annotations, nothing else', () => {
    const { q, patches } = sidecars(['pricing']);
    const body = patchBody(patches[0] as never, q) as ReturnType<typeof patchBody> & { spec: unknown };
    assert.deepEqual(Object.keys(body).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
    assert.deepEqual(Object.keys(body.metadata).sort(), ['annotations', 'name', 'namespace']);
    assert.deepEqual(Object.keys(body.metadata.annotations).sort(), [
      `${DESIRED_HASH_ANNOTATION}-orders`,
      PATCH_ANNOTATION,
    ]);
    const spec = body.spec as { template: Record<string, unknown> & { spec: Record<string, unknown> } };
    assert.deepEqual(Object.keys(spec), ['template']);
    assert.deepEqual(Object.keys(spec.template), ['spec']);
    assert.deepEqual(Object.keys(spec.template.spec), ['containers']);
    const containers = spec.template.spec.containers as { name: string; image: string; env?: unknown }[];
    assert.deepEqual(
      containers.map((x) => x.name),
      [SIDECAR_CONTAINER],
    );
    // No env, volumes, mounts or ServiceAccount settings: only the forwarding process.
    assert.deepEqual(Object.keys(containers[0] as object).sort(), [
      'args',
      'command',
      'image',
      'livenessProbe',
      'name',
      'readinessProbe',
      'resources',
      'securityContext',
    ]);
  });

  test('the sidecar runs the operator image unless spec.image is on the allow-list', () => {
    const image = (specImage: string | undefined, allowed?: string[]) => {
      const q = resolve(
        mq({ engine: 'zeromq', ...(specImage ? { image: specImage } : {}), zeromq: { sidecarFor: ['a'] } }),
        { image: 'mqop:op', sidecarImages: allowed },
      );
      const r = renderResolved(q);
      type WithContainers = { spec: { template: { spec: { containers: { image: string }[] } } } };
      const sidecar = (
        r.patches[0] as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } }
      ).spec.template.spec.containers[0]?.image;
      const proxy = (r.objects.find((o) => o.kind === 'Deployment') as unknown as WithContainers).spec
        .template.spec.containers[0]?.image;
      return { sidecar, proxy };
    };
    assert.deepEqual(image(undefined), { sidecar: 'mqop:op', proxy: 'mqop:op' });
    // The tenant's image runs their own central proxy, never inside someone else's pod...
    assert.deepEqual(image('evil:1'), { sidecar: 'mqop:op', proxy: 'evil:1' });
    assert.deepEqual(image('evil:1', ['good:1']), { sidecar: 'mqop:op', proxy: 'evil:1' });
    // ...unless the operator allows exactly that image.
    assert.deepEqual(image('good:1', ['good:1']), { sidecar: 'good:1', proxy: 'good:1' });
    assert.equal(sidecarImage('good:1@sha256:x', 'op', ['good:1']), 'op', 'exact match only');
  });

  test('the invitation names exactly one MessageQueue', () => {
    const q = { name: 'orders' };
    assert.equal(invitesSidecar(undefined, q), false);
    assert.equal(invitesSidecar({}, q), false);
    assert.equal(invitesSidecar({ [SIDECAR_INVITATION]: 'orders' }, q), true);
    assert.equal(invitesSidecar({ [SIDECAR_INVITATION]: ' orders ' }, q), true);
    assert.equal(invitesSidecar({ [SIDECAR_INVITATION]: 'orders2' }, q), false);
    assert.equal(invitesSidecar({ [SIDECAR_INVITATION]: 'other,orders' }, q), false);
    assert.equal(invitesSidecar({ [SIDECAR_INVITATION]: '*' }, q), false);
  });

  test('engines without patches list nothing', async () => {
    const c = new FakeClient();
    await removeStalePatches(c, resolve(mq({ engine: 'redis' })), [], log);
    assert.equal(c.calls.length, 0);
  });
});

describe('prune step', () => {
  test('deletes owned objects no longer desired; keeps generated Secrets and others’ objects', async () => {
    const c = new FakeClient();
    const q = resolve(mq({ engine: 'redis', replicas: 3 }));
    const secrets = { credentials: { username: 'u', password: 'p' } };
    for (const o of renderResolved(q, secrets).objects) c.seed(o as KubeObject);
    const label = { 'mqop.dev/messagequeue': 'orders' };
    const owner = [
      { apiVersion: 'mqop.dev/v1alpha1', kind: 'MessageQueue', name: 'orders', uid: 'uid-orders' },
    ];
    c.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'orders-credentials', namespace: 'shop', labels: label, ownerReferences: owner },
    } as KubeObject);
    const oneReplica = resolve(mq({ engine: 'redis', replicas: 1 }));
    await prune(c, c.caches(), oneReplica, renderResolved(oneReplica, secrets).objects, log);
    const deleted = c
      .writes()
      .map((w) => `${w.kind}/${w.name}`)
      .sort();
    assert.ok(deleted.includes('PodDisruptionBudget/orders-redis'), deleted.join());
    assert.ok(deleted.includes('StatefulSet/orders-redis-sentinel'), deleted.join());
    assert.ok(!deleted.includes('Secret/orders-credentials'));
    assert.ok(!deleted.some((d) => d === 'StatefulSet/orders-redis'));
  });
});

describe('status step', () => {
  test('one write carries status.smokeTest and the SmokeTestPassed condition; an unchanged status is not written', async () => {
    const c = new FakeClient();
    const cr = c.seed(mq({ engine: 'redis' }));
    const q = resolve(cr);
    const o = { ...baseObservation(cr, q, PASSED_SMOKE), workloads: [] };
    const first = await writeStatus(c, cr, o);
    assert.ok(first.written);
    const patches = c.writes();
    assert.equal(patches.length, 1);
    const body = patches[0]?.body as {
      status: { smokeTest: SmokeTestStatus; conditions: { type: string; status: string }[] };
    };
    assert.equal(body.status.smokeTest.result, 'Passed');
    assert.equal(body.status.conditions.find((x) => x.type === 'SmokeTestPassed')?.status, 'True');
    const stored = c.peek<Mq>('MessageQueue', 'shop', 'orders') as Mq;
    c.calls.length = 0;
    const again = await writeStatus(c, stored, { ...baseObservation(stored, q, undefined), workloads: [] });
    assert.equal(again.written, undefined);
    assert.equal(c.writes().length, 0);
  });

  test('keys a new smoke result lacks are sent as null (a pass drops the failure’s errorKind)', () => {
    const failed = { ...PASSED_SMOKE, result: 'Failed' as const, errorKind: 'auth' as const, message: 'no' };
    const cr = mq({ engine: 'redis' });
    const prev = computeStatus(cr, { ...baseObservation(cr, resolve(cr), failed), workloads: [] }, 't');
    const next = computeStatus(cr, { ...baseObservation(cr, resolve(cr), PASSED_SMOKE), workloads: [] }, 't');
    const patch = statusPatch(next, prev) as { status: { smokeTest: Record<string, unknown> } };
    assert.equal(patch.status.smokeTest.errorKind, null);
    assert.equal(patch.status.smokeTest.result, 'Passed');
    assert.equal((statusPatch(prev) as typeof patch).status.smokeTest.errorKind, 'auth');
  });
});

describe('events step', () => {
  const cond = (type: string, status: 'True' | 'False', reason = 'R', message = 'm') => ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: 't',
  });

  test('Ready and Stalled transitions become Events; no transition, no Event', () => {
    assert.deepEqual(
      transitionEvents(undefined, [cond('Ready', 'True', 'AllReplicasReady', '1/1 pods ready')]),
      [{ type: 'Normal', reason: 'Ready', message: '1/1 pods ready' }],
    );
    assert.deepEqual(transitionEvents([cond('Ready', 'True')], [cond('Ready', 'False', 'X', 'down')]), [
      { type: 'Warning', reason: 'NotReady', message: 'down' },
    ]);
    assert.deepEqual(
      transitionEvents([cond('Stalled', 'False')], [cond('Stalled', 'True', 'InvalidConfiguration', 'bad')]),
      [{ type: 'Warning', reason: 'InvalidConfiguration', message: 'bad' }],
    );
    assert.deepEqual(transitionEvents([cond('Ready', 'True')], [cond('Ready', 'True')]), []);
  });

  test('a Stalled that stays True with a new message is news again; the same message is not', () => {
    const was = [cond('Stalled', 'True', 'InvalidConfiguration', 'Secret a: metadata.labels: bad')];
    assert.deepEqual(transitionEvents(was, was), []);
    assert.deepEqual(transitionEvents(was, [cond('Stalled', 'True', 'Forbidden', 'Secret a: denied')]), [
      { type: 'Warning', reason: 'Forbidden', message: 'Secret a: denied' },
    ]);
    assert.deepEqual(transitionEvents(was, [cond('Stalled', 'False', 'Reconciled', '')]), []);
  });

  test('smoke Events say what happened; a failed write of an Event is swallowed', async () => {
    assert.equal(
      smokeEvent({ result: 'Passed', produced: 3, consumed: 3, p99Millis: 2 }, 10.4).message,
      '3/3 messages in 10 ms, p99 2 ms',
    );
    assert.deepEqual(smokeEvent({ result: 'Failed', errorKind: 'auth', message: 'denied' }, 0), {
      type: 'Warning',
      reason: 'SmokeTestFailed',
      message: 'auth: denied',
    });
    const c = new FakeClient();
    c.failWhen((x) => x.kind === 'Event', 403);
    await new EventRecorder(c, log).record(mq({ engine: 'redis' }), {
      type: 'Normal',
      reason: 'Ready',
      message: 'x',
    });
    assert.equal(c.calls.length, 1);
  });
  test('the same Event again bumps count and lastTimestamp instead of a new Event', async () => {
    const c = new FakeClient();
    const rec = new EventRecorder(c, log);
    const cr = mq({ engine: 'redis' });
    const passed = { type: 'Normal' as const, reason: 'SmokeTestPassed', message: '3/3 messages' };
    for (let i = 0; i < 5; i++) await rec.record(cr, passed);
    await rec.record(cr, { ...passed, message: '2/3 messages' });
    await rec.record(mq({ engine: 'redis' }, 'other'), passed);
    const creates = c.writes().filter((w) => w.verb === 'create');
    assert.equal(creates.length, 3, 'one Event per object, reason and message');
    const first = creates[0]?.name as string;
    const stored = c.peek<{ count: number; firstTimestamp: string; lastTimestamp: string }>(
      'Event',
      'shop',
      first,
    );
    assert.equal(stored?.count, 5);
    assert.ok(stored && stored.lastTimestamp >= stored.firstTimestamp);
    assert.equal(c.writes().filter((w) => w.verb === 'patch').length, 4);
  });

  test('an expired Event is created anew; the memory is bounded', async () => {
    const c = new FakeClient();
    const rec = new EventRecorder(c, log, 'mqop', 3);
    const cr = mq({ engine: 'redis' });
    const e = { type: 'Normal' as const, reason: 'R', message: 'm' };
    await rec.record(cr, e);
    await c.delete(
      { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
      'shop',
      c.writes()[0]?.name as string,
    );
    c.calls.length = 0;
    await rec.record(cr, e);
    assert.deepEqual(
      c.writes().map((w) => w.verb),
      ['patch', 'create'],
    );
    for (let i = 0; i < 10; i++) await rec.record(cr, { ...e, message: `m${i}` });
    assert.equal(rec.size(), 3);
  });
});

describe('ownership: mqop writes only into what it created for this MessageQueue', () => {
  const userObject = (kind: string, name: string, extra: Record<string, unknown> = {}) =>
    ({
      apiVersion: kind === 'StatefulSet' ? 'apps/v1' : 'v1',
      kind,
      metadata: { name, namespace: 'shop', ...extra },
      ...(kind === 'Service' ? { spec: { ports: [{ port: 1 }] } } : { data: { mine: 'eQ==' } }),
    }) as KubeObject;
  const redis = () => {
    const q = resolve(mq({ engine: 'redis' }));
    const secrets = { credentials: { username: 'u', password: 'password' } };
    return { q, desired: renderResolved(q, secrets).objects.map((o) => withDesiredHash(o)) };
  };

  test("a user's Service and Secret under derived names: nothing applied, NotManaged names the first", async () => {
    const c = new FakeClient();
    const service = c.seed(userObject('Service', 'orders-redis'));
    const secret = c.seed(userObject('Secret', 'orders-connection'));
    const { desired } = redis();
    const { blocked } = await applyObjects(c, c.caches(), desired);
    assert.equal(blocked?.state, 'stalled');
    assert.equal(blocked?.reason, 'NotManaged');
    assert.match(
      blocked?.message ?? '',
      /^(Service\/orders-redis|Secret\/orders-connection) exists and is not managed by this MessageQueue \(and (Service\/orders-redis|Secret\/orders-connection)\): .*rename or delete it/,
    );
    assert.deepEqual(c.writes(), [], 'nothing is applied while a name is taken');
    assert.deepEqual(c.peek('Service', 'shop', 'orders-redis'), service);
    assert.deepEqual(c.peek('Secret', 'shop', 'orders-connection'), secret);
  });

  test('labels alone, or an owner reference alone, do not make an object mqop’s', async () => {
    for (const meta of [
      { labels: LABELS },
      { ownerReferences: OWNER },
      { labels: LABELS, ownerReferences: [{ ...OWNER[0], controller: false }] },
      { labels: { ...LABELS, 'app.kubernetes.io/managed-by': 'helm' }, ownerReferences: OWNER },
    ]) {
      const c = new FakeClient();
      c.seed(userObject('Service', 'orders-redis-headless', meta));
      const { blocked } = await applyObjects(c, c.caches(), redis().desired);
      assert.equal(blocked?.reason, 'NotManaged', JSON.stringify(meta));
      assert.deepEqual(c.writes(), []);
    }
  });

  test('objects of a deleted MessageQueue of the same name are waited out, not adopted', async () => {
    const c = new FakeClient();
    const old = [{ ...OWNER[0], uid: 'uid-of-the-deleted-orders' }];
    c.seed(userObject('Service', 'orders-redis', { labels: LABELS, ownerReferences: old }));
    const { blocked } = await applyObjects(c, c.caches(), redis().desired);
    assert.equal(blocked?.state, 'waiting');
    assert.equal(blocked?.reason, 'PreviousInstanceTerminating');
    assert.match(blocked?.message ?? '', /^Service\/orders-redis still belongs to an earlier MessageQueue/);
    assert.equal(blocked?.requeueAfterMs, 5_000);
    assert.deepEqual(c.writes(), []);
  });

  test('cache misses are read with GETs (in parallel), hits cost nothing; a lagging cache writes nothing', async () => {
    const c = new FakeClient();
    const { desired } = redis();
    await applyObjects(c, c.caches(), desired);
    c.calls.length = 0;
    await applyObjects(c, c.caches(), desired);
    assert.equal(c.calls.length, 0, 'everything cached: not one request');
    // An informer that has not seen mqop's own Service yet: one GET, and no apply of what is there.
    const full = c.caches();
    const lagging = {
      ...full,
      owned: new Map(
        [...full.owned].map(([k, cache]) => [
          k,
          {
            ...cache,
            get: (ns: string, name: string) => (k === 'v1/Service' ? undefined : cache.get(ns, name)),
          },
        ]),
      ),
    };
    const { blocked } = await applyObjects(c, lagging, desired);
    assert.equal(blocked, undefined);
    const services = desired.filter((o) => o.kind === 'Service').length;
    assert.deepEqual(
      c.calls.map((x) => x.verb),
      Array<string>(services).fill('get'),
    );
  });

  test("a user's Secret under the credentials name is neither used nor written: NotManaged", async () => {
    const c = new FakeClient();
    const q = resolve(mq({ engine: 'rabbitmq' }));
    const mine = c.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'orders-credentials', namespace: 'shop' },
      data: {
        username: Buffer.from('me').toString('base64'),
        password: Buffer.from('hunter22').toString('base64'),
      },
    } as KubeObject);
    await assert.rejects(
      ensureSecrets(c, q, (n) => c.caches().owned.get('v1/Secret')?.get('shop', n)),
      (e: Error & { reason?: string }) =>
        e.reason === 'NotManaged' &&
        e.message.startsWith('Secret/orders-credentials exists and is not managed by this MessageQueue'),
    );
    assert.deepEqual(
      c.writes().filter((w) => w.name === 'orders-credentials'),
      [],
    );
    assert.deepEqual(c.peek('Secret', 'shop', 'orders-credentials'), mine);
    // Nor is the internal Secret generated beside it: nothing is created while blocked.
    assert.equal(c.peek('Secret', 'shop', 'orders-rabbitmq-internal'), undefined);
  });

  test('a Secret a user creates between the GET and the create (409) is not adopted either', async () => {
    const c = new FakeClient();
    const q = resolve(mq({ engine: 'redis' }));
    const racing = {
      getOrUndefined: async () => undefined,
      get: c.get.bind(c),
      list: c.list.bind(c),
      create: async <T>(o: KubeObject): Promise<T> => {
        c.seed({ ...o, metadata: { name: o.metadata.name, namespace: 'shop' } });
        return c.create<T>(o);
      },
      apply: c.apply.bind(c),
      mergePatch: c.mergePatch.bind(c),
      delete: c.delete.bind(c),
    };
    await assert.rejects(
      ensureCredentials(racing, q),
      (e: Error & { reason?: string }) => e.reason === 'NotManaged',
    );
  });
});

describe('lost credentials: no new values over existing data', () => {
  const claim = (name: string, owner = 'orders', deleting = false) =>
    ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name,
        namespace: 'shop',
        labels: { 'mqop.dev/messagequeue': owner },
        ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
      },
    }) as KubeObject;
  const cacheOf = (c: FakeClient) => (n: string) => c.caches().owned.get('v1/Secret')?.get('shop', n);
  const annotated = (spec: Parameters<typeof mq>[0]) => {
    const cr = mq(spec);
    cr.metadata.annotations = { [ACCEPT_NEW_CREDENTIALS]: 'true' };
    return resolve(cr);
  };

  test('first creation: no claims, so both Secrets are generated (GETs and the claim list in parallel)', async () => {
    const c = new FakeClient();
    const q = resolve(mq({ engine: 'kafka' }));
    const out = await ensureSecrets(c, q, cacheOf(c));
    assert.ok(out.credentials?.password);
    assert.ok(out.internal?.['cluster-id']);
    assert.deepEqual(out.regenerated, []);
    assert.deepEqual(c.calls.map((x) => `${x.verb} ${x.kind}`).sort(), [
      'create Secret',
      'create Secret',
      'get Secret',
      'get Secret',
      'list PersistentVolumeClaim',
    ]);
    c.calls.length = 0;
    await ensureSecrets(c, q, cacheOf(c));
    assert.equal(c.calls.length, 0, 'both cached: not one request');
  });

  test('claims without their Secrets: CredentialsLost naming both Secrets, their keys and the claims; nothing created', async () => {
    const c = new FakeClient();
    c.seed(claim('data-orders-rabbitmq-0'));
    c.seed(claim('data-orders-rabbitmq-1'));
    const q = resolve(mq({ engine: 'rabbitmq', replicas: 3 }));
    await assert.rejects(ensureSecrets(c, q, cacheOf(c)), (e) => {
      assert.ok(e instanceof CredentialsLost);
      assert.equal(e.state, 'stalled');
      assert.equal(e.reason, 'CredentialsLost');
      assert.deepEqual(e.claims, ['data-orders-rabbitmq-0', 'data-orders-rabbitmq-1']);
      assert.match(
        e.message,
        /^Secrets orders-credentials \(keys username, password\) and orders-rabbitmq-internal \(keys erlang-cookie\) are gone/,
      );
      assert.match(e.message, /claims data-orders-rabbitmq-0, data-orders-rabbitmq-1/);
      assert.match(e.message, /\(a\) recreating the Secrets with the old values from a backup/);
      assert.match(e.message, /\(b\) deleting the claims to start empty/);
      assert.match(e.message, /\(c\) annotating the MessageQueue mqop\.dev\/accept-new-credentials="true"/);
      return true;
    });
    assert.deepEqual(c.writes(), []);
  });

  test('Kafka keeps its internal values in its data: the opt-in does not regenerate them', async () => {
    const c = new FakeClient();
    c.seed(claim('data-orders-kafka-0'));
    const q = annotated({ engine: 'kafka' });
    await assert.rejects(
      ensureSecrets(c, q, cacheOf(c)),
      (e) =>
        e instanceof CredentialsLost &&
        /cannot help: kafka keeps the values of orders-kafka-internal in its data/.test(e.message),
    );
    assert.deepEqual(c.writes(), [], 'not even the credentials Secret, which alone could be regenerated');
  });

  test('the opt-in regenerates what the engine can take (RabbitMQ: credentials and cookie), and says so', async () => {
    const c = new FakeClient();
    c.seed(claim('data-orders-rabbitmq-0'));
    const out = await ensureSecrets(c, annotated({ engine: 'rabbitmq' }), cacheOf(c));
    assert.deepEqual(out.regenerated, ['orders-credentials', 'orders-rabbitmq-internal']);
    assert.ok(out.internal?.['erlang-cookie']);
  });

  test("only this StatefulSet's live data claims count", async () => {
    const c = new FakeClient();
    c.seed(claim('data-orders-redis-0', 'orders', true)); // being deleted: recovery (b) under way
    c.seed(claim('data-orders-kafka-0')); // a deleted kafka MessageQueue of the same name
    c.seed(claim('data-other-redis-0', 'other'));
    c.seed(claim('scratch-orders-redis-0')); // another claim template
    const q = resolve(mq({ engine: 'redis' }));
    assert.deepEqual(await dataClaims(c, q), []);
    assert.ok((await ensureSecrets(c, q, cacheOf(c))).credentials);
    c.seed(claim('data-orders-redis-sentinel-0'));
    assert.deepEqual(await dataClaims(c, q), ['data-orders-redis-sentinel-0']);
  });

  test('ephemeral storage has no claims to look for', async () => {
    const c = new FakeClient();
    await ensureSecrets(c, resolve(mq({ engine: 'rabbitmq', storage: { ephemeral: true } })), cacheOf(c));
    assert.equal(c.calls.filter((x) => x.verb === 'list').length, 0);
  });
});

describe('credential values', () => {
  test('printable ASCII passwords of 8 to 128 characters pass, quotes and backslashes included', () => {
    for (const ok of ['password', 'p"a\\s$w\'o`r d', '!#%&()*+,-./:;<=>?@[]^_{|}~', 'x'.repeat(128)])
      assert.equal(credentialProblem('password', ok), undefined, ok);
  });

  test('refused passwords say why without the value', () => {
    const cases: [string, RegExp][] = [
      ['password\n', /ends with a line break/],
      ['pass\nword', /control character/],
      ['pass\tword', /control character/],
      ['pass\x7fword', /control character/],
      ['pässwörd1', /outside printable ASCII/],
      ['short', /8 to 128 characters long \(it has 5\)/],
      ['x'.repeat(129), /8 to 128/],
      [' password', /starts or ends with a space/],
    ];
    for (const [bad, why] of cases) {
      const problem = credentialProblem('password', bad) ?? '';
      assert.match(problem, why, JSON.stringify(bad));
      assert.ok(!problem.includes(bad.trim()), 'the value is not in the message');
    }
  });

  test('Kafka passwords: no comma (kafka-storage --add-scram splits on commas)', () => {
    assert.equal(credentialProblem('password', 'a,b-long-enough'), undefined);
    assert.match(credentialProblem('password', 'a,b-long-enough', 'kafka') ?? '', /comma/);
  });

  test('usernames: letters, digits, dot, dash, underscore, 1 to 64, not starting with a symbol', () => {
    for (const ok of ['mqop', 'default', 'a', 'app.user_1-x', 'x'.repeat(64)])
      assert.equal(credentialProblem('username', ok), undefined, ok);
    for (const bad of ['', '-x', '.x', 'a b', 'a:b', 'a@b', 'a"b', 'x'.repeat(65), 'me\n'])
      assert.ok(credentialProblem('username', bad), JSON.stringify(bad));
  });

  test('a user Secret with a control character stalls with InvalidCredentials naming the Secret and the key', async () => {
    const c = new FakeClient();
    const q = resolve(mq({ engine: 'redis', auth: { secretName: 'mine' } }));
    c.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'mine', namespace: 'shop' },
      data: {
        username: Buffer.from('app').toString('base64'),
        password: Buffer.from('s3cret\x07pw').toString('base64'),
      },
    } as KubeObject);
    await assert.rejects(
      ensureSecrets(c, q, () => undefined),
      (e: Error & { state?: string; reason?: string }) => {
        assert.equal(e.state, 'stalled');
        assert.equal(e.reason, 'InvalidCredentials');
        assert.equal(
          e.message,
          'Secret mine (spec.auth.secretName): key password contains a line break or another control character; see docs/credentials.md',
        );
        return true;
      },
    );
    assert.deepEqual(c.writes(), []);
  });
});

describe('blocked requeue', () => {
  const stalled = (reason: string, since: string) => [
    { type: 'Stalled', status: 'True' as const, reason, message: '', lastTransitionTime: since },
  ];
  test('a stall backs off with its age, 5 s to 5 min; waiting states keep their own delay', () => {
    const b = new Blocked('stalled', 'NotManaged', 'x');
    const now = Date.parse('2026-01-01T00:10:00Z');
    assert.equal(blockedRequeueMs(b, undefined, now), 5_000);
    assert.equal(blockedRequeueMs(b, stalled('NotManaged', '2026-01-01T00:09:58Z'), now), 5_000);
    assert.equal(blockedRequeueMs(b, stalled('NotManaged', '2026-01-01T00:09:40Z'), now), 20_000);
    assert.equal(blockedRequeueMs(b, stalled('NotManaged', '2026-01-01T00:00:00Z'), now), 300_000);
    assert.equal(blockedRequeueMs(b, stalled('CredentialsLost', '2026-01-01T00:00:00Z'), now), 5_000);
    assert.equal(blockedRequeueMs(new Blocked('waiting', 'X', 'x', 15_000), undefined, now), 15_000);
  });
});

describe('refused writes', () => {
  // The Status the API server sends for a label value it refuses (kube-apiserver 1.34).
  const invalidLabel = new ApiError(
    422,
    'Invalid',
    "Secret \"orders-credentials\" is invalid: metadata.labels: Invalid value: \"7.4.6+deb12\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'",
    {
      kind: 'Secret',
      name: 'orders-credentials',
      causes: [
        {
          reason: 'FieldValueInvalid',
          message:
            "Invalid value: \"7.4.6+deb12\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'",
          field: 'metadata.labels',
        },
      ],
    },
  );

  test('400, 413 and 422 are InvalidConfiguration naming the object and the field; 403 is Forbidden', () => {
    assert.deepEqual(refusal(invalidLabel), {
      reason: 'InvalidConfiguration',
      message:
        "Secret orders-credentials: metadata.labels: Invalid value: \"7.4.6+deb12\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'",
    });
    const denied = new ApiError(
      403,
      'Forbidden',
      'secrets "orders-credentials" is forbidden: exceeded quota: small, requested: count/secrets=1, used: count/secrets=10, limited: count/secrets=10',
      { kind: 'secrets', name: 'orders-credentials' },
    );
    assert.deepEqual(refusal(denied, { kind: 'Secret', name: 'orders-credentials' }), {
      reason: 'Forbidden',
      message: `Secret orders-credentials: ${denied.message}`,
    });
    assert.equal(refusal(new ApiError(400, 'BadRequest', 'bad'))?.reason, 'InvalidConfiguration');
    assert.equal(refusal(new ApiError(413, 'RequestEntityTooLarge', 'big'))?.reason, 'InvalidConfiguration');
  });

  test('transient answers, conflicts, a terminating namespace and non-API errors are not refusals', () => {
    for (const status of [404, 409, 429, 500, 503])
      assert.equal(refusal(new ApiError(status, 'X', 'x')), undefined, String(status));
    assert.equal(refusal(new Error('socket hang up')), undefined);
    const terminating = new ApiError(
      403,
      'Forbidden',
      'unable to create new content in namespace shop because it is being terminated',
      {
        causes: [
          {
            reason: 'NamespaceTerminating',
            message: 'namespace shop is being terminated',
            field: 'metadata.namespace',
          },
        ],
      },
    );
    assert.equal(refusal(terminating), undefined);
  });

  test('a Secret’s data values are never repeated; long messages are cut', () => {
    const data = new ApiError(
      422,
      'Invalid',
      'Secret "x" is invalid: data[pass word]: Invalid value: "hunter2"',
      {
        kind: 'Secret',
        name: 'x',
        causes: [
          { reason: 'FieldValueInvalid', message: 'Invalid value: "hunter2"', field: 'data[pass word]' },
        ],
      },
    );
    assert.equal(refusal(data)?.message, 'Secret x: data[pass word]: FieldValueInvalid');
    const long = refusal(new ApiError(422, 'Invalid', 'y'.repeat(10_000)));
    assert.equal(long?.message.length, MAX_REFUSAL_MESSAGE);
  });

  test('the requeue backs off from 30 s to 10 min', () => {
    assert.deepEqual(
      [1, 2, 3, 5, 6, 20].map(refusalDelay),
      [30_000, 60_000, 120_000, 480_000, 600_000, 600_000],
    );
  });

  test('a refused Secret create from the secrets step is a refusal naming the Secret and field', async () => {
    const c = new FakeClient();
    c.failWhen(
      (x) => x.verb === 'create' && x.kind === 'Secret',
      422,
      invalidLabel.message,
      invalidLabel.details,
    );
    const q = resolve(mq({ engine: 'redis' }));
    const err = await ensureSecrets(c, q, () => undefined).catch((e: unknown) => e);
    assert.match(refusal(err)?.message ?? '', /^Secret orders-credentials: metadata\.labels: Invalid value/);
  });
});

describe('pod observation', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'orders-redis-0',
      namespace: 'shop',
      resourceVersion: '7',
      labels: { 'mqop.dev/messagequeue': 'orders', 'app.kubernetes.io/name': 'redis' },
      annotations: { big: 'x'.repeat(1000) },
      managedFields: [{ manager: 'kube-controller-manager' }],
    },
    spec: {
      containers: [{ name: 'redis', image: 'redis:7.4.6', env: [{ name: 'A', value: 'b' }] }],
      volumes: [
        { name: 'data', persistentVolumeClaim: { claimName: 'data-orders-redis-0' } },
        { name: 'config', configMap: { name: 'orders-redis' } },
      ],
    },
    status: {
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/1 nodes are available: 1 Insufficient cpu.',
        },
        { type: 'Ready', status: 'False' },
      ],
    },
  } as unknown as KubeObject;

  test('the cache keeps only what says why (identity, owner label, PodScheduled, containers, claim names)', () => {
    const slim = slimPod(pod as never);
    assert.deepEqual(slim, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'orders-redis-0',
        namespace: 'shop',
        uid: undefined,
        resourceVersion: '7',
        labels: { 'mqop.dev/messagequeue': 'orders' },
      },
      spec: { volumes: [{ persistentVolumeClaim: { claimName: 'data-orders-redis-0' } }] },
      status: {
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available: 1 Insufficient cpu.',
          },
        ],
        containerStatuses: undefined,
        initContainerStatuses: undefined,
      },
    });
    assert.ok(JSON.stringify(slim).length < JSON.stringify(pod).length / 3);
    const claim = slimClaim({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'data-orders-redis-0',
        namespace: 'shop',
        labels: { 'mqop.dev/messagequeue': 'orders' },
      },
      spec: { storageClassName: 'fast', resources: { requests: { storage: '1Gi' } } },
      status: { phase: 'Pending' },
    } as never);
    assert.deepEqual([claim.spec, claim.status], [{ storageClassName: 'fast' }, { phase: 'Pending' }]);
  });

  test('observePods reads this MessageQueue’s pods only, and only while something is not ready', () => {
    const c = new FakeClient();
    c.seed(slimPod(pod as never));
    const other = structuredClone(pod);
    other.metadata = {
      ...other.metadata,
      name: 'other-redis-0',
      labels: { 'mqop.dev/messagequeue': 'other' },
    };
    c.seed(slimPod(other as never));
    const q = { namespace: 'shop', name: 'orders' };
    const notReady = [
      { name: 'orders-redis', replicas: 1, readyReplicas: 0, updatedReplicas: 1, upToDate: true },
    ];
    assert.deepEqual(observePods(c.caches(), q, notReady), {
      reason: 'Unschedulable',
      message: 'pod orders-redis-0: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.',
    });
    assert.equal(
      observePods(c.caches(), q, [{ ...notReady[0], readyReplicas: 1 }] as typeof notReady),
      undefined,
    );
    assert.equal(observePods(c.caches(), { namespace: 'shop', name: 'absent' }, notReady), undefined);
  });
});
