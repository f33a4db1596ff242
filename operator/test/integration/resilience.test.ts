/**
 * Resilience on a real control plane: an operator SIGKILLed in the middle of reconciling 100
 * MessageQueues converges after a restart with nothing duplicated or leaked; with two operators
 * only the Lease holder reconciles, and the standby takes over within 20 s of the leader's death.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OWNER_LABEL } from '../../src/api/labels.ts';
import type { MessageQueue } from '../../src/api/types.ts';
import type { KubeObject } from '../../src/controller/kube-client.ts';
import { MESSAGE_QUEUE, OWNED_TYPES } from '../../src/controller/resources.ts';
import { type Cluster, type OperatorProcess, startCluster, startOperator, waitFor } from './cluster.ts';

let c: Cluster;
const running: OperatorProcess[] = [];

const mq = (namespace: string, name: string, spec: Record<string, unknown>) =>
  ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name, namespace },
    spec,
  }) as unknown as KubeObject;

async function reconciledCount(ns: string): Promise<number> {
  const l = await c.client.list<MessageQueue & KubeObject>(MESSAGE_QUEUE, ns);
  return l.items.filter((i) => i.status?.observedGeneration === i.metadata.generation).length;
}

async function allOwned(ns: string): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const t of OWNED_TYPES) {
    const l = await c.client.list(t, ns, OWNER_LABEL);
    for (const i of l.items) out.push({ ...i, kind: t.kind });
  }
  return out;
}

before(async () => {
  c = await startCluster();
});

after(async () => {
  for (const o of running) await o.kill('SIGKILL');
  await c?.stop();
});

describe('crash', () => {
  test('SIGKILL while reconciling 100 MessageQueues; a restart converges with nothing duplicated or leaked', async () => {
    await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'it-crash' } });
    const engines = ['redis', 'kafka', 'rabbitmq', 'zeromq'] as const;
    const names = Array.from({ length: 100 }, (_, i) => `q${i}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names.slice(i, i + 20).map((n, j) => {
          const engine = engines[(i + j) % engines.length] as string;
          return c.client.create(
            mq('it-crash', n, engine === 'zeromq' ? { engine } : { engine, storage: { ephemeral: true } }),
          );
        }),
      );
    }
    const first = await startOperator(c, { identity: 'crash-1', leaderElect: false, concurrency: 2 });
    running.push(first);
    await waitFor(async () => (await reconciledCount('it-crash')) >= 10, 60_000, 'some progress');
    await first.kill('SIGKILL');
    const atKill = await reconciledCount('it-crash');
    assert.ok(atKill < 100, `all ${atKill} were done before the kill: the test proves nothing`);

    const second = await startOperator(c, { identity: 'crash-2', leaderElect: false, concurrency: 4 });
    running.push(second);
    await waitFor(async () => (await reconciledCount('it-crash')) === 100, 180_000, 'all 100 reconciled');
    await sleep(2000);

    const owned = await allOwned('it-crash');
    const ids = owned.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.equal(new Set(ids).size, ids.length, 'duplicate objects');
    const crs = new Set(names);
    for (const o of owned) {
      const owner = o.metadata.labels?.[OWNER_LABEL] as string;
      assert.ok(crs.has(owner), `${o.kind}/${o.metadata.name} belongs to no MessageQueue`);
      assert.equal(o.metadata.ownerReferences?.length, 1, `${o.kind}/${o.metadata.name} owner references`);
    }
    // Exactly one generated credentials Secret per engine with auth; one internal Secret where needed.
    const creds = owned.filter((o) => o.kind === 'Secret' && o.metadata.name.endsWith('-credentials'));
    assert.equal(creds.length, 75);
    // Each MessageQueue has exactly one workload.
    const workloads = owned.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
    assert.equal(workloads.length, 100);
  });
});

describe('leader election', () => {
  test('only the leader reconciles; the standby takes over within 20 s of the leader being killed', async () => {
    await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'it-leader' } });
    const a = await startOperator(c, { identity: 'le-a', namespaces: ['it-leader'] });
    running.push(a);
    await waitFor(async () => (await a.metric('mqop_leader')) === 1, 30_000, 'a leads');
    const b = await startOperator(c, { identity: 'le-b', namespaces: ['it-leader'] });
    running.push(b);
    await c.client.create(mq('it-leader', 'one', { engine: 'zeromq' }));
    await waitFor(async () => (await reconciledCount('it-leader')) === 1, 30_000, 'leader reconciles');
    await sleep(3000);
    assert.equal(await b.metric('mqop_leader'), 0);
    assert.equal(await b.metric('mqop_reconcile_total'), 0, 'the standby reconciled');

    const t0 = Date.now();
    await a.kill('SIGKILL');
    await waitFor(async () => (await b.metric('mqop_leader')) === 1, 25_000, 'b takes over');
    const takeover = Date.now() - t0;
    assert.ok(takeover <= 20_000, `takeover took ${takeover} ms`);
    console.log(`leader takeover after SIGKILL: ${takeover} ms`);
    await c.client.create(mq('it-leader', 'two', { engine: 'zeromq' }));
    await waitFor(async () => (await reconciledCount('it-leader')) === 2, 30_000, 'new leader reconciles');
  });
});
