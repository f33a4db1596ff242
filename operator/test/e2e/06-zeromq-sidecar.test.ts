/**
 * ZeroMQ: mqop adds its forwarding sidecar to the Deployments named in `zeromq.sidecarFor` that
 * invite it (annotation `mqop.dev/zeromq-sidecar: <messagequeue>`), and messages flow between them
 * through the central proxy. `pricing` publishes to its sidecar (127.0.0.1:5557), `dashboard`
 * subscribes at its own (127.0.0.1:5558): two pods, so the only path is sidecar -> proxy ->
 * sidecar. Dropping a Deployment from the list takes the sidecar out. A Deployment named in the
 * list without the annotation is never written.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { patchManager } from '../../src/controller/steps/patches.ts';
import { SIDECAR_CONTAINER, SIDECAR_INVITATION } from '../../src/engines/zeromq.ts';
import {
  apply,
  createNamespace,
  deleteNamespace,
  describeMq,
  getJson,
  getMq,
  KUBECTL,
  kubectl,
  mq,
  waitFor,
  waitReadyAndSmoke,
} from './e2e.ts';

const NS = 'e2e-zeromq';
const APPS = ['pricing', 'dashboard'];
/** Named in a MessageQueue's sidecarFor, but without the opt-in annotation. */
const STRANGER = 'stranger';

/** A Deployment of the user's; `invites` names the MessageQueue whose sidecar it accepts. */
const app = (name: string, invites: string | null = 'ticks') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name,
    namespace: NS,
    ...(invites === null ? {} : { annotations: { [SIDECAR_INVITATION]: invites } }),
  },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'docker.io/library/mqop:dev',
            imagePullPolicy: 'Never',
            command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
          },
        ],
      },
    },
  },
});

interface Deployment {
  metadata: {
    generation: number;
    annotations?: Record<string, string>;
    managedFields?: { manager: string }[];
  };
  spec: { template: { spec: { containers: { name: string }[] } } };
  status: {
    observedGeneration?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    replicas?: number;
  };
}

/** The Deployment has rolled out a pod template whose containers are `names`. */
function rolledOut(name: string, names: string[]): boolean {
  const d = getJson<Deployment>(['get', 'deployment', name, '-n', NS]);
  const have = d.spec.template.spec.containers.map((c) => c.name).sort();
  return (
    JSON.stringify(have) === JSON.stringify([...names].sort()) &&
    d.status.observedGeneration === d.metadata.generation &&
    d.status.updatedReplicas === 1 &&
    d.status.readyReplicas === 1 &&
    d.status.replicas === 1
  );
}

/** Runs a Node script in the app container of a Deployment's pod; resolves with its output. */
function runIn(
  deployment: string,
  script: string,
): { done: Promise<{ code: number | null; out: string }>; kill: () => void } {
  const child = spawn(KUBECTL, [
    'exec',
    '-n',
    NS,
    `deploy/${deployment}`,
    '-c',
    'app',
    '--',
    'node',
    '-e',
    script,
  ]);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const done = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, out })),
  );
  return { done, kill: () => child.kill('SIGKILL') };
}

const SUBSCRIBE = `
const zmq = require('/app/node_modules/zeromq');
const s = new zmq.Subscriber();
s.connect('tcp://127.0.0.1:5558');
s.subscribe('e2e-prices');
let n = 0;
setTimeout(() => { console.log('received', n); process.exit(1); }, 90000);
(async () => {
  for await (const [, body] of s) {
    if (String(body).startsWith('from pricing ')) n++;
    if (n >= 50) { console.log('received', n); process.exit(0); }
  }
})();`;

const PUBLISH = `
const zmq = require('/app/node_modules/zeromq');
const p = new zmq.Publisher();
p.connect('tcp://127.0.0.1:5557');
(async () => {
  for (let i = 0; i < 3000; i++) {
    await p.send(['e2e-prices', 'from pricing ' + i]);
    await new Promise((r) => setTimeout(r, 30));
  }
})();`;

before(() => {
  createNamespace(NS);
  apply(...APPS.map((name) => app(name)), app(STRANGER, null));
  apply(mq(NS, 'ticks', { engine: 'zeromq', replicas: 1, zeromq: { pattern: 'pubsub', sidecarFor: APPS } }));
});

after(() => deleteNamespace(NS));

test('the sidecar is added to both Deployments and messages flow from one through the proxy to the other', async () => {
  await waitReadyAndSmoke(NS, 'ticks');
  for (const name of APPS) {
    await waitFor(
      () => rolledOut(name, ['app', SIDECAR_CONTAINER]),
      180_000,
      () => kubectl(['get', 'deploy,pods', '-n', NS, '-o', 'wide']),
    );
  }
  const sub = runIn('dashboard', SUBSCRIBE);
  const pub = runIn('pricing', PUBLISH);
  const r = await sub.done;
  pub.kill();
  assert.equal(r.code, 0, `the dashboard's subscriber got too few messages from pricing:\n${r.out}`);
  assert.match(r.out, /received 50/);
});

test('dropping a Deployment from sidecarFor takes the sidecar out of it', async () => {
  apply(
    mq(NS, 'ticks', {
      engine: 'zeromq',
      replicas: 1,
      zeromq: { pattern: 'pubsub', sidecarFor: ['pricing'] },
    }),
  );
  await waitFor(
    () => rolledOut('dashboard', ['app']),
    180_000,
    () => kubectl(['get', 'deploy', 'dashboard', '-n', NS, '-o', 'yaml']),
  );
  assert.ok(rolledOut('pricing', ['app', SIDECAR_CONTAINER]), 'pricing keeps its sidecar');
});

test('a sidecar target without the opt-in is left untouched', async () => {
  const before = getJson<Deployment>(['get', 'deployment', STRANGER, '-n', NS]);
  // Its own MessageQueue, so `ticks` stays Ready for the tests above.
  apply(
    mq(NS, 'lonely', {
      engine: 'zeromq',
      replicas: 1,
      zeromq: { pattern: 'pubsub', sidecarFor: [STRANGER] },
    }),
  );
  const waiting = await waitFor(
    () =>
      getMq(NS, 'lonely').status?.conditions?.find(
        (c) => c.type === 'Ready' && c.status === 'False' && c.reason === 'SidecarNotInvited',
      ),
    120_000,
    () => describeMq(NS, 'lonely'),
  );
  assert.match(waiting.message, new RegExp(`Deployment ${STRANGER} \\(zeromq\\.sidecarFor\\)`));
  assert.match(waiting.message, new RegExp(`${SIDECAR_INVITATION}: lonely`));
  // Give mqop a few more reconciles (it requeues a waiting MessageQueue every 30 s).
  await new Promise((r) => setTimeout(r, 35_000));
  const after = getJson<Deployment>(['get', 'deployment', STRANGER, '-n', NS]);
  assert.deepEqual(after.spec, before.spec, 'spec unchanged');
  assert.equal(after.metadata.generation, before.metadata.generation);
  const users = (d: Deployment) =>
    Object.fromEntries(
      Object.entries(d.metadata.annotations ?? {}).filter(
        ([k]) => !k.startsWith('deployment.kubernetes.io/'),
      ),
    );
  assert.deepEqual(users(after), users(before), 'annotations unchanged');
  const managers = (after.metadata.managedFields ?? []).map((m) => m.manager);
  assert.ok(!managers.includes(patchManager({ name: 'lonely' })), `managers: ${managers.join(', ')}`);
  assert.ok(rolledOut(STRANGER, ['app']), 'no sidecar');
  kubectl(['delete', 'messagequeue', 'lonely', '-n', NS, '--wait=true']);
});
