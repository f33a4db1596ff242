/**
 * Scaling. RabbitMQ grows from 1 to 3 replicas: three running nodes in one cluster and a smoke
 * test (a quorum queue) passing at 3. Shrinking back is refused by the API server with the
 * reason (as the RabbitMQ Cluster Operator refuses it), and the cluster is left as it was. Kafka
 * 3.9's static KRaft quorum cannot change size: a resize is refused the same way.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import {
  apply,
  createNamespace,
  deleteNamespace,
  exec,
  getMq,
  kubectlStatus,
  mq,
  podsOf,
  waitReadyAndSmoke,
} from './e2e.ts';

const NS = 'e2e-scale';
const rabbit = (replicas: number) =>
  mq(NS, 'rabbit', {
    engine: 'rabbitmq',
    version: '3.10.8',
    replicas,
    storage: { size: '1Gi' },
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '768Mi' } },
  });

/** Running nodes of the RabbitMQ cluster as pod 0 sees them. */
function runningNodes(): string[] {
  const out = exec(NS, 'rabbit-rabbitmq-0', 'rabbitmq', 'rabbitmqctl cluster_status --formatter json');
  return (JSON.parse(out) as { running_nodes: string[] }).running_nodes.sort();
}

/** A server-side apply that must be refused; returns the API server's message. */
function refused(object: object): string {
  const r = kubectlStatus(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=e2e', '-f', '-'],
    stringify(object),
  );
  assert.notEqual(r.status, 0, 'the API server admitted the change');
  return r.stderr;
}

before(() => createNamespace(NS));
after(() => deleteNamespace(NS));

test('RabbitMQ scales 1 -> 3 with the smoke test passing at 3; 3 -> 1 is refused with the reason', async () => {
  apply(rabbit(1));
  const t1 = await waitReadyAndSmoke(NS, 'rabbit', { replicas: 1 });
  const at = new Date();
  apply(rabbit(3));
  const t3 = await waitReadyAndSmoke(NS, 'rabbit', { replicas: 3, after: at, timeoutMs: 420_000 });
  assert.deepEqual(podsOf(NS, 'rabbit'), ['rabbit-rabbitmq-0', 'rabbit-rabbitmq-1', 'rabbit-rabbitmq-2']);
  assert.equal(runningNodes().length, 3, 'three running nodes in one cluster');
  console.log(
    `rabbitmq: Ready + smoke at 1 replica after ${t1.toFixed(1)}s, at 3 ${t3.toFixed(1)}s after the change`,
  );

  const message = refused(rabbit(1));
  assert.match(message, /spec\.replicas/);
  assert.match(message, /replicas for rabbitmq may grow but not shrink/);
  const m = getMq(NS, 'rabbit');
  assert.equal(m.spec.replicas, 3);
  assert.equal(m.status?.readyReplicas, 3);
  assert.equal(runningNodes().length, 3);
});

test('Kafka: changing replicas is refused with the reason; the cluster keeps running', () => {
  const before = getMq('default', 'events');
  const message = refused({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name: 'events', namespace: 'default' },
    spec: { engine: 'kafka', replicas: 3 },
  });
  assert.match(message, /replicas for kafka cannot change/);
  const m = getMq('default', 'events');
  assert.equal(m.metadata.generation, before.metadata.generation);
  assert.equal(m.spec.replicas, 1);
});
