/**
 * The main command's result: every engine of examples/kind/all-engines.yaml is Ready with a
 * passed smoke test, within the bound scripts/cluster/up.sh waited for (MQOP_ENGINE_TIMEOUT),
 * and reports an endpoint and ready replicas.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { condition, getMq, ROOT } from './e2e.ts';

const BOUND_SECONDS = Number(process.env.MQOP_ENGINE_TIMEOUT ?? 300);
const docs = parseAllDocuments(readFileSync(join(ROOT, 'examples/kind/all-engines.yaml'), 'utf8')).map(
  (d) => d.toJS() as { metadata: { name: string; namespace: string }; spec: { engine: string } },
);
const times = new Map(
  readFileSync(join(process.env.MQOP_CLUSTER_DIR ?? '', 'engines.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split('\t'))
    .map(([engine, , ready, smoke]) => [engine, { ready: Number(ready), smoke: Number(smoke) }]),
);

test('the kind preset has one MessageQueue per engine', () => {
  assert.deepEqual(docs.map((d) => d.spec.engine).sort(), [
    'activemq',
    'kafka',
    'rabbitmq',
    'redis',
    'rocketmq',
    'zeromq',
  ]);
});

for (const d of docs) {
  test(`${d.spec.engine} (${d.metadata.name}): Ready and SmokeTestPassed within ${BOUND_SECONDS}s of being applied`, () => {
    const t = times.get(d.spec.engine);
    assert.ok(t, `scripts/cluster/up.sh recorded no time for ${d.spec.engine}`);
    assert.ok(t.ready > 0 && t.ready <= BOUND_SECONDS, `Ready after ${t.ready}s`);
    assert.ok(t.smoke > 0 && t.smoke <= BOUND_SECONDS, `SmokeTestPassed after ${t.smoke}s`);
    const m = getMq(d.metadata.namespace, d.metadata.name);
    assert.equal(condition(m, 'Ready'), 'True');
    assert.equal(condition(m, 'SmokeTestPassed'), 'True');
    assert.equal(m.status?.smokeTest?.result, 'Passed');
    assert.equal(m.status?.readyReplicas, 1);
    assert.match(m.status?.endpoint?.url ?? '', /^[a-z]+:\/\/[a-z0-9-]+\.default\.svc\.cluster\.local:\d+$/);
    assert.ok((m.status?.smokeTest?.consumed ?? 0) > 0, 'the smoke test consumed messages');
    assert.equal(m.status?.smokeTest?.lost, 0);
  });
}
