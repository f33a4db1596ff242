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
import type { KubeObject } from '../kube-client.ts';
import { ownedTypes } from '../resources.ts';
import { applyObjects } from './apply.ts';
import { EventRecorder, smokeEvent, transitionEvents } from './events.ts';
import { deleteClaims, dropFinalizer, ensureFinalizer, FINALIZER, needsFinalizer } from './finalizer.ts';
import { applyPatches, patchBody, patchManager, removeStalePatches } from './patches.ts';
import { prune } from './prune.ts';
import { CredentialsMissing, ensureCredentials, ensureInternal, ensureSecrets } from './secrets.ts';
import { baseObservation, statusPatch, writeStatus } from './status.ts';

const log = createLogger('silent');
type Mq = MessageQueue & KubeObject;

const mq = (spec: Partial<MessageQueueSpec> & { engine: MessageQueueSpec['engine'] }, name = 'orders'): Mq =>
  ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, generation: 1 },
    spec,
  }) as Mq;

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
    await deleteClaims(c, resolve(mq({ engine: 'redis' })));
    assert.equal(c.peek('PersistentVolumeClaim', 'shop', 'data-orders-redis-0'), undefined);
    assert.ok(c.peek('PersistentVolumeClaim', 'shop', 'data-other-redis-0'));
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
    // A cache miss goes to create; the 409 reads the existing Secret and keeps it.
    const second = await ensureCredentials(c, q);
    assert.deepEqual(second, first);
    assert.equal(c.writes().filter((w) => w.verb === 'create').length, 2);
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
      metadata: { name: 'orders-kafka-internal', namespace: 'shop' },
      data: { 'cluster-id': Buffer.from('keep-me').toString('base64') },
    });
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
