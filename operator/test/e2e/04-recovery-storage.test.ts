/**
 * Broker pods that die come back: a deleted pod is re-created, the MessageQueue is Ready again and
 * its smoke test passes again. With persistence on, what was written before the deletion is still
 * there. Deleting a MessageQueue removes everything mqop created for it; its PersistentVolumeClaims
 * go too only with `storage.deleteClaim: true`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OWNER_LABEL } from '../../src/api/labels.ts';
import {
  apply,
  createNamespace,
  deleteNamespace,
  exec,
  getJson,
  kubectl,
  mq,
  OWNED_KINDS,
  waitFor,
  waitReadyAndSmoke,
} from './e2e.ts';

const NS = 'e2e-storage';
const redisCli = (args: string) => `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --raw ${args}`;

function podUid(ns: string, pod: string): string {
  return kubectl(['get', 'pod', pod, '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
}

function claims(name: string): string[] {
  return kubectl([
    'get',
    'pvc',
    '-n',
    NS,
    '-l',
    `app.kubernetes.io/instance=${name}`,
    '-o',
    'jsonpath={.items[*].metadata.name}',
  ])
    .split(' ')
    .filter(Boolean);
}

async function deletePodAndRecover(ns: string, mqName: string, pod: string): Promise<number> {
  const uid = podUid(ns, pod);
  const deletedAt = new Date();
  kubectl(['delete', 'pod', pod, '-n', ns, '--wait=false']);
  await waitFor(
    () => {
      try {
        return podUid(ns, pod) !== uid;
      } catch {
        return false;
      }
    },
    120_000,
    () => `pod ${ns}/${pod} was not re-created`,
  );
  return waitReadyAndSmoke(ns, mqName, { after: deletedAt, replicas: 1, timeoutMs: 240_000 });
}

before(() => {
  createNamespace(NS);
  apply(
    mq(NS, 'keep', { engine: 'redis', replicas: 1, storage: { size: '1Gi' } }),
    mq(NS, 'drop', { engine: 'redis', replicas: 1, storage: { size: '1Gi', deleteClaim: true } }),
  );
});

after(() => deleteNamespace(NS));

test('persistent Redis: data written before the pod is deleted is there after it recovers', async () => {
  await waitReadyAndSmoke(NS, 'keep', { replicas: 1 });
  const value = `written-before-${Date.now()}`;
  assert.equal(exec(NS, 'keep-redis-0', 'redis', redisCli(`set e2e:persisted ${value}`)).trim(), 'OK');
  const took = await deletePodAndRecover(NS, 'keep', 'keep-redis-0');
  assert.equal(exec(NS, 'keep-redis-0', 'redis', redisCli('get e2e:persisted')).trim(), value);
  console.log(`keep-redis-0: Ready with a passed smoke test ${took.toFixed(1)}s after the deletion`);
});

test('Kafka (the kind preset): a deleted broker pod recovers and its smoke test passes again', async () => {
  const took = await deletePodAndRecover('default', 'events', 'events-kafka-0');
  console.log(`events-kafka-0: Ready with a passed smoke test ${took.toFixed(1)}s after the deletion`);
});

test('deleting MessageQueues removes their objects; claims are kept or deleted as deleteClaim says', async () => {
  await waitReadyAndSmoke(NS, 'drop', { replicas: 1 });
  assert.deepEqual(claims('keep'), ['data-keep-redis-0']);
  assert.deepEqual(claims('drop'), ['data-drop-redis-0']);
  kubectl(['delete', 'messagequeue', 'keep', 'drop', '-n', NS, '--wait=true', '--timeout=120s']);
  await waitFor(
    () => getJson<{ items: unknown[] }>(['get', OWNED_KINDS, '-n', NS, '-l', OWNER_LABEL]).items.length === 0,
    120_000,
    () => kubectl(['get', OWNED_KINDS, '-n', NS, '-l', OWNER_LABEL]),
  );
  await waitFor(
    () => claims('drop').length === 0,
    120_000,
    () => kubectl(['get', 'pvc', '-n', NS]),
  );
  assert.deepEqual(claims('keep'), ['data-keep-redis-0'], 'deleteClaim false (the default) keeps the claim');
  assert.equal(kubectl(['get', 'pods', '-n', NS, '-o', 'name']).trim(), '', 'no pods left');
});
