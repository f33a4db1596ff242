/**
 * Multi-tenant safety on a real control plane (garbage collection is real): mqop never takes
 * over a user's object under a name it derives, never generates credentials over data that still
 * needs the old ones, and refuses credentials it cannot pass on safely.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OWNER_LABEL } from '../../src/api/labels.ts';
import type { Condition, MessageQueue } from '../../src/api/types.ts';
import type { KubeObject } from '../../src/controller/kube-client.ts';
import { MESSAGE_QUEUE, OWNED_TYPES, PVC, SECRET } from '../../src/controller/resources.ts';
import { type Cluster, type OperatorProcess, startCluster, startOperator, waitFor } from './cluster.ts';

let c: Cluster;
let op: OperatorProcess;
const NS = 'it-own';
const SERVICE = OWNED_TYPES.find((t) => t.kind === 'Service') as (typeof OWNED_TYPES)[number];
const CONFIG_MAP = OWNED_TYPES.find((t) => t.kind === 'ConfigMap') as (typeof OWNED_TYPES)[number];

type Mq = MessageQueue & KubeObject;
type Secret = KubeObject & { data?: Record<string, string> };

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

const mq = (name: string, spec: Record<string, unknown>) =>
  ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name, namespace: NS },
    spec,
  }) as KubeObject;

const getMq = (name: string) => c.client.getOrUndefined<Mq>(MESSAGE_QUEUE, NS, name);
const condition = async (name: string, type: string): Promise<Condition | undefined> =>
  (await getMq(name))?.status?.conditions?.find((x) => x.type === type);

/** Waits for `Stalled=True` with this reason; returns the condition. */
const stalledWith = (name: string, reason: string) =>
  waitFor(
    async () => {
      const s = await condition(name, 'Stalled');
      return s?.status === 'True' && s.reason === reason ? s : undefined;
    },
    45_000,
    async () =>
      `${name}: Stalled ${reason}; conditions: ${JSON.stringify((await getMq(name))?.status?.conditions)}`,
  );

const notStalled = (name: string) =>
  waitFor(
    async () => (await condition(name, 'Stalled'))?.status === 'False',
    45_000,
    async () =>
      `${name}: Stalled=False; conditions: ${JSON.stringify((await getMq(name))?.status?.conditions)}`,
  );

async function warningEvents(name: string): Promise<{ reason: string; message: string }[]> {
  const r = await c.kubectl(['-n', NS, 'get', 'events', '-o', 'json']);
  const items = JSON.parse(r.stdout).items as {
    type: string;
    reason: string;
    message: string;
    involvedObject: { kind: string; name: string };
  }[];
  return items.filter(
    (e) => e.type === 'Warning' && e.involvedObject.kind === 'MessageQueue' && e.involvedObject.name === name,
  );
}

const withoutVolatile = (o: KubeObject | undefined) => {
  if (!o) return o;
  const { managedFields: _m, resourceVersion: _r, ...metadata } = o.metadata;
  return { ...o, metadata };
};

before(async () => {
  c = await startCluster();
  op = await startOperator(c, { identity: 'op-own', resyncSeconds: 5 });
  await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
});

after(async () => {
  await op?.kill('SIGTERM');
  await c?.stop();
});

describe('never take over', () => {
  test("a user's Secret and Service under derived names survive the MessageQueue, its Stalled status and its deletion", async () => {
    const secret = await c.client.create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'orders-credentials', namespace: NS, labels: { team: 'payments' } },
      data: { username: b64('payments'), password: b64('do-not-touch-me') },
    });
    const service = await c.client.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'orders-redis', namespace: NS },
      spec: { selector: { app: 'payments' }, ports: [{ port: 8080 }] },
    });
    await c.client.create(mq('orders', { engine: 'redis', storage: { ephemeral: true } }));
    const stalled = await stalledWith('orders', 'NotManaged');
    assert.match(
      stalled.message,
      /^Secret\/orders-credentials exists and is not managed by this MessageQueue: .*rename or delete it/,
    );
    assert.equal((await getMq('orders'))?.status?.phase, 'Failed');
    await waitFor(
      async () => (await warningEvents('orders')).some((e) => e.reason === 'NotManaged'),
      20_000,
      'a Warning Event NotManaged',
    );
    // A few resyncs later (5 s each) the user's objects are still exactly theirs.
    await sleep(12_000);
    const secretNow = await c.client.get<Secret>(SECRET, NS, 'orders-credentials');
    assert.deepEqual(withoutVolatile(secretNow), withoutVolatile(secret));
    assert.equal(secretNow.metadata.ownerReferences, undefined);
    assert.equal(secretNow.metadata.resourceVersion, secret.metadata.resourceVersion, 'never written');
    const serviceNow = await c.client.get(SERVICE, NS, 'orders-redis');
    assert.equal(serviceNow.metadata.resourceVersion, service.metadata.resourceVersion, 'never written');
    assert.equal(serviceNow.metadata.ownerReferences, undefined);
    // Nothing else was made either (a StatefulSet must not mount a user's Secret).
    const mine = await c.client.list(
      OWNED_TYPES.find((t) => t.kind === 'StatefulSet') as never,
      NS,
      `${OWNER_LABEL}=orders`,
    );
    assert.equal(mine.items.length, 0);

    // Deleting the MessageQueue: the garbage collector (which does run: it removes the control
    // object owned by the MessageQueue) leaves the user's objects alone.
    const uid = (await getMq('orders'))?.metadata.uid as string;
    await c.client.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'gc-control',
        namespace: NS,
        ownerReferences: [
          { apiVersion: 'mqop.dev/v1alpha1', kind: 'MessageQueue', name: 'orders', uid },
        ] as never,
      },
    } as KubeObject);
    await c.client.delete(MESSAGE_QUEUE, NS, 'orders');
    await waitFor(
      async () => !(await c.client.getOrUndefined(CONFIG_MAP, NS, 'gc-control')),
      60_000,
      'garbage collection',
    );
    assert.equal(
      (await c.client.get<Secret>(SECRET, NS, 'orders-credentials')).metadata.resourceVersion,
      secret.metadata.resourceVersion,
    );
    assert.ok(await c.client.getOrUndefined(SERVICE, NS, 'orders-redis'));
  });

  test("a user's Service alone: NotManaged naming it; once the user removes it, mqop creates its own", async () => {
    await c.client.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'billing-redis', namespace: NS, labels: { [OWNER_LABEL]: 'billing' } },
      spec: { selector: { app: 'billing' }, ports: [{ port: 8080 }] },
    });
    await c.client.create(mq('billing', { engine: 'redis', storage: { ephemeral: true } }));
    const stalled = await stalledWith('billing', 'NotManaged');
    assert.match(stalled.message, /^Service\/billing-redis exists and is not managed by this MessageQueue/);
    const svc = await c.client.get(SERVICE, NS, 'billing-redis');
    assert.equal(svc.metadata.ownerReferences, undefined);
    await c.client.delete(SERVICE, NS, 'billing-redis');
    await notStalled('billing');
    const ours = await waitFor(
      async () =>
        (await c.client.getOrUndefined(SERVICE, NS, 'billing-redis'))?.metadata.ownerReferences?.[0],
      30_000,
      "mqop's own Service",
    );
    assert.equal(ours.uid, (await getMq('billing'))?.metadata.uid);
  });
});

describe('lost credentials', () => {
  test('credentials deleted while claims exist: CredentialsLost, no new password; restoring the Secret recovers', async () => {
    await c.client.create(mq('keep', { engine: 'redis', storage: { size: '1Gi' } }));
    const claims = () =>
      c.client.list(PVC, NS, `${OWNER_LABEL}=keep`).then((l) => l.items.map((i) => i.metadata.name));
    await waitFor(async () => (await claims()).includes('data-keep-redis-0'), 45_000, 'claim');
    const original = await waitFor(
      () => c.client.getOrUndefined<Secret>(SECRET, NS, 'keep-credentials'),
      30_000,
      'Secret',
    );
    await c.client.delete(SECRET, NS, 'keep-credentials');
    const stalled = await stalledWith('keep', 'CredentialsLost');
    assert.match(stalled.message, /^Secret keep-credentials \(keys username, password\) is gone/);
    assert.match(stalled.message, /claims data-keep-redis-0/);
    assert.match(stalled.message, /mqop\.dev\/accept-new-credentials/);
    await sleep(6_000);
    assert.equal(await c.client.getOrUndefined(SECRET, NS, 'keep-credentials'), undefined, 'no new password');

    // Recovery (a), as docs/credentials.md shows: the old values, mqop's labels, the owner reference.
    const cr = (await getMq('keep')) as Mq;
    await c.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'keep-credentials',
        namespace: NS,
        labels: { [OWNER_LABEL]: 'keep', 'app.kubernetes.io/managed-by': 'mqop' },
        ownerReferences: [
          {
            apiVersion: 'mqop.dev/v1alpha1',
            kind: 'MessageQueue',
            name: 'keep',
            uid: cr.metadata.uid,
            controller: true,
          },
        ] as never,
      },
      data: original.data,
    } as KubeObject);
    await notStalled('keep');
    const conn = await c.client.get<Secret>(SECRET, NS, 'keep-connection');
    assert.equal(unb64(conn.data?.password), unb64(original.data?.password));
  });

  test('a MessageQueue recreated over retained claims does not get new credentials', async () => {
    await c.client.delete(MESSAGE_QUEUE, NS, 'keep');
    await waitFor(async () => !(await getMq('keep')), 30_000, 'MessageQueue gone');
    await waitFor(
      async () => !(await c.client.getOrUndefined(SECRET, NS, 'keep-credentials')),
      60_000,
      'Secrets collected',
    );
    await c.client.create(mq('keep', { engine: 'redis', storage: { size: '1Gi' } }));
    const stalled = await stalledWith('keep', 'CredentialsLost');
    assert.match(stalled.message, /claims data-keep-redis-0/);
    assert.equal(await c.client.getOrUndefined(SECRET, NS, 'keep-credentials'), undefined);
  });
});

describe('credential values', () => {
  test('a user Secret with a line break in the password is refused, naming the Secret and key, never the value', async () => {
    const password = 'secret-part-one\nsecret-part-two';
    await c.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'app-creds', namespace: NS },
      data: { username: b64('app'), password: b64(password) },
    } as KubeObject);
    await c.client.create(
      mq('shop', { engine: 'redis', storage: { ephemeral: true }, auth: { secretName: 'app-creds' } }),
    );
    const stalled = await stalledWith('shop', 'InvalidCredentials');
    assert.equal(
      stalled.message,
      'Secret app-creds (spec.auth.secretName): key password contains a line break or another control character; see docs/credentials.md',
    );
    const events = await waitFor(
      async () => {
        const e = (await warningEvents('shop')).filter((x) => x.reason === 'InvalidCredentials');
        return e.length ? e : undefined;
      },
      20_000,
      'InvalidCredentials Event',
    );
    for (const e of events)
      assert.ok(!e.message.includes('secret-part'), 'no part of the password in Events');
    assert.ok(!op.log().includes('secret-part'), 'no part of the password in the log');
    // Fixed by the user, picked up by the backoff requeue (the user's Secret is not watched).
    await c.client.mergePatch(SECRET, NS, 'app-creds', { data: { password: b64('secret-part-one') } });
    await notStalled('shop');
  });
});
