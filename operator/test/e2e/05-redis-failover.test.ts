/**
 * Redis with replicas > 1: the primary pod is deleted, the Sentinels elect a replica, the smoke
 * test (which finds the primary through Sentinel) passes again, what was replicated before is on
 * the new primary, and the re-created pod rejoins as a replica.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  apply,
  createNamespace,
  deleteNamespace,
  exec,
  kubectl,
  mq,
  podsOf,
  waitFor,
  waitReadyAndSmoke,
} from './e2e.ts';

const NS = 'e2e-redis-ha';
const cli = (args: string) => `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --raw ${args}`;

/** The primary's pod name as the Sentinels report it (they announce hostnames). */
function primary(): string {
  const sentinel = podsOf(NS, 'ha', 'sentinel')[0];
  assert.ok(sentinel, 'a Sentinel pod runs');
  const host = exec(
    NS,
    sentinel,
    'sentinel',
    cli('-p 26379 sentinel get-master-addr-by-name mymaster'),
  ).split('\n')[0];
  return (host ?? '').split('.')[0] ?? '';
}

const role = (pod: string) =>
  /^role:(\w+)/m.exec(exec(NS, pod, 'redis', cli('info replication')).replaceAll('\r', ''))?.[1];

before(() => {
  createNamespace(NS);
  apply(mq(NS, 'ha', { engine: 'redis', replicas: 3, storage: { ephemeral: true } }));
});

after(() => deleteNamespace(NS));

test('Redis Sentinel fails over when the primary pod is deleted, and the smoke test passes again', async () => {
  await waitReadyAndSmoke(NS, 'ha', { replicas: 3 });
  const old = primary();
  assert.match(old, /^ha-redis-\d$/);
  assert.equal(role(old), 'master');
  const value = `before-failover-${Date.now()}`;
  assert.equal(exec(NS, old, 'redis', cli(`set e2e:ha ${value}`)).trim(), 'OK');
  assert.equal(
    exec(NS, old, 'redis', cli('wait 2 10000')).trim(),
    '2',
    'both replicas acknowledged the write',
  );

  const deletedAt = new Date();
  kubectl(['delete', 'pod', old, '-n', NS, '--wait=false']);
  const elected = await waitFor(
    () => {
      const p = primary();
      return p && p !== old ? p : undefined;
    },
    120_000,
    () => `the Sentinels still report ${old} as primary`,
  );
  const failoverSeconds = (Date.now() - deletedAt.getTime()) / 1000;
  assert.equal(role(elected), 'master');
  assert.equal(exec(NS, elected, 'redis', cli('get e2e:ha')).trim(), value);
  const smokeSeconds = await waitReadyAndSmoke(NS, 'ha', {
    after: deletedAt,
    replicas: 3,
    timeoutMs: 240_000,
  });
  // the re-created pod follows the new primary
  await waitFor(
    () => role(old) === 'slave',
    120_000,
    () => `${old} is ${role(old)}, not a replica`,
  );
  console.log(
    `failover ${old} -> ${elected}: ${failoverSeconds.toFixed(1)}s; Ready + smoke passed again ${smokeSeconds.toFixed(1)}s after that`,
  );
});
