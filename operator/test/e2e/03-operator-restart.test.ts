/**
 * The operator pod is deleted: its Deployment brings a new one, which takes the leader Lease and
 * adopts what exists. Nothing is duplicated or re-created (same objects, same uids), every
 * MessageQueue stays Ready, and the smoke tests keep running under the new pod.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OWNER_LABEL } from '../../src/api/labels.ts';
import { getJson, kubectl, OWNED_KINDS, waitFor, waitReadyAndSmoke } from './e2e.ts';

const KINDS = `${OWNED_KINDS},persistentvolumeclaims`;

interface Item {
  kind: string;
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
}

function owned(): Map<string, string> {
  const l = getJson<{ items: Item[] }>(['get', KINDS, '-A', '-l', OWNER_LABEL]);
  return new Map(
    l.items.map((i) => [`${i.kind} ${i.metadata.namespace}/${i.metadata.name}`, i.metadata.uid]),
  );
}

function operatorPods(): string[] {
  return kubectl([
    'get',
    'pods',
    '-n',
    'mqop-system',
    '-l',
    'app.kubernetes.io/name=mqop',
    '-o',
    'jsonpath={.items[*].metadata.name}',
  ])
    .split(' ')
    .filter(Boolean);
}

test('a deleted operator pod comes back and adopts everything, with no duplicated objects', async () => {
  const before = owned();
  assert.ok(before.size > 20, `objects owned by MessageQueues before: ${before.size}`);
  const [old] = operatorPods();
  assert.ok(old, 'an operator pod runs');
  const deletedAt = new Date();
  kubectl(['delete', 'pod', '-n', 'mqop-system', old, '--wait=false']);
  const fresh = await waitFor(
    () => {
      const pods = getJson<{
        items: { metadata: { name: string }; status: { conditions?: { type: string; status: string }[] } }[];
      }>(['get', 'pods', '-n', 'mqop-system', '-l', 'app.kubernetes.io/name=mqop']).items.filter(
        (p) => p.metadata.name !== old,
      );
      const ready = pods.find((p) =>
        p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready?.metadata.name;
    },
    180_000,
    () => kubectl(['get', 'pods', '-n', 'mqop-system', '-o', 'wide']),
  );
  // The new pod holds the leader Lease.
  await waitFor(
    () =>
      kubectl([
        'get',
        'lease',
        '-n',
        'mqop-system',
        '-o',
        'jsonpath={.items[*].spec.holderIdentity}',
      ]).includes(fresh),
    120_000,
    () => kubectl(['get', 'lease', '-n', 'mqop-system', '-o', 'yaml']),
  );
  // Every example MessageQueue passes a smoke test run by the new operator pod.
  for (const name of ['rabbit', 'cache', 'events', 'jobs', 'orders', 'ticks']) {
    await waitReadyAndSmoke('default', name, { after: deletedAt, timeoutMs: 180_000 });
  }
  const after = owned();
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'the same objects exist');
  for (const [k, uid] of before) assert.equal(after.get(k), uid, `${k} was re-created`);
});
