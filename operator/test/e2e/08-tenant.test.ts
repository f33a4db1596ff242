/**
 * Many teams in one cluster, on real pods: a MessageQueue author cannot weaken a broker (the
 * specs are refused, and the running brokers still refuse clients without the right password),
 * each engine's connection `uri` works as it is with a standard client nobody on the team wrote,
 * status says why pods are not ready, and a user's object under a name mqop derives survives.
 *
 * The brokers are the local cluster's examples in `default` (examples/kind/all-engines.yaml).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EngineName } from '../../src/api/engines.ts';
import {
  apply,
  createNamespace,
  deleteNamespace,
  describeMq,
  exec,
  getJson,
  getMq,
  kubectl,
  kubectlStatus,
  mq,
  waitFor,
} from './e2e.ts';

const NS = 'e2e-tenant';

/** The examples, and for each a spec.config that tries to open the broker. */
const BROKERS: { engine: EngineName; name: string; weaken: Record<string, string>; refusal: string }[] = [
  {
    engine: 'redis',
    name: 'cache',
    weaken: { USER: 'ops on nopass ~* &* +@all' },
    refusal: 'is refused for redis',
  },
  {
    engine: 'kafka',
    name: 'events',
    weaken: { 'listener.name.client.sasl.enabled.mechanisms': 'PLAIN' },
    refusal: 'is refused for kafka',
  },
  {
    engine: 'rabbitmq',
    name: 'rabbit',
    weaken: { 'auth_mechanisms.1': 'ANONYMOUS' },
    refusal: 'is refused for rabbitmq',
  },
  {
    engine: 'rocketmq',
    name: 'orders',
    weaken: { authenticationEnabled: 'false' },
    refusal: 'is refused for rocketmq',
  },
  {
    engine: 'activemq',
    name: 'jobs',
    weaken: { anonymousAccessAllowed: 'true' },
    refusal: 'config for activemq accepts only these keys',
  },
];

/** A key of a Secret in `default`, decoded (stays in this process). */
const secretKey = (secret: string, key: string) =>
  Buffer.from(
    kubectl([
      'get',
      'secret',
      secret,
      '-n',
      'default',
      '-o',
      `jsonpath={.data.${key.replaceAll('.', '\\.')}}`,
    ]),
    'base64',
  ).toString();

/** Runs a script in a pod with stdin (for values that must not be on a command line). */
const execWithInput = (pod: string, container: string, script: string, input: string) =>
  kubectlStatus(['exec', '-i', '-n', 'default', pod, '-c', container, '--', 'sh', '-c', script], input);

/** mqop's own image, as the chart deployed it. */
const mqopImage = () =>
  kubectl([
    'get',
    'deploy',
    '-A',
    '-l',
    'app.kubernetes.io/name=mqop',
    '-o',
    'jsonpath={.items[0].spec.template.spec.containers[0].image}',
  ]);

/**
 * Runs a pod of mqop's image to completion in `default` and returns its exit code and log. `env`
 * entries are literal values or `{ secret, key }` references (never on a command line).
 */
async function runPod(
  name: string,
  command: string[],
  env: Record<string, string | { secret: string; key: string }>,
  secretVolume?: string,
): Promise<{ exitCode: number; log: string }> {
  kubectlStatus(['delete', 'pod', name, '-n', 'default', '--ignore-not-found', '--wait=true']);
  apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      volumes: secretVolume ? [{ name: 'secret', secret: { secretName: secretVolume } }] : [],
      containers: [
        {
          name: 'client',
          image: mqopImage(),
          imagePullPolicy: 'Never',
          workingDir: '/app',
          command,
          volumeMounts: secretVolume ? [{ name: 'secret', mountPath: '/secret', readOnly: true }] : [],
          env: Object.entries(env).map(([k, v]) =>
            typeof v === 'string'
              ? { name: k, value: v }
              : { name: k, valueFrom: { secretKeyRef: { name: v.secret, key: v.key } } },
          ),
          securityContext: {
            allowPrivilegeEscalation: false,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
      ],
    },
  });
  const { code: exitCode } = await waitFor(
    () => {
      const p = getJson<{
        status?: { containerStatuses?: { state?: { terminated?: { exitCode: number } } }[] };
      }>(['get', 'pod', name, '-n', 'default']);
      const code = p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode;
      return code === undefined ? undefined : { code };
    },
    180_000,
    () => kubectlStatus(['describe', 'pod', name, '-n', 'default']).stdout,
  );
  const log = kubectl(['logs', name, '-n', 'default']);
  kubectlStatus(['delete', 'pod', name, '-n', 'default', '--wait=false']);
  return { exitCode, log };
}

describe('a MessageQueue author cannot weaken a running broker', () => {
  for (const b of BROKERS) {
    test(`${b.engine}: a spec.config that opens the broker is refused, and the broker is unchanged`, () => {
      const before = getMq('default', b.name);
      const r = kubectlStatus([
        'patch',
        'messagequeue',
        b.name,
        '-n',
        'default',
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { config: b.weaken } }),
      ]);
      assert.notEqual(r.status, 0, 'the patch was admitted');
      assert.ok(r.stderr.includes(b.refusal), r.stderr);
      assert.equal(getMq('default', b.name).metadata.generation, before.metadata.generation);
    });
  }

  test('redis: clients without the password, or with the wrong one, are refused', () => {
    const pod = 'cache-redis-0';
    assert.match(exec('default', pod, 'redis', 'redis-cli --no-auth-warning ping 2>&1 || true'), /NOAUTH/);
    assert.match(
      exec(
        'default',
        pod,
        'redis',
        'redis-cli --no-auth-warning --user ops --pass anything ping 2>&1 || true',
      ),
      /WRONGPASS/,
    );
    assert.match(
      exec('default', pod, 'redis', 'redis-cli --no-auth-warning --user mqop --pass wrong ping 2>&1 || true'),
      /WRONGPASS/,
    );
  });

  test('kafka: a client without SASL, and one with a wrong password, get nothing', () => {
    const pod = 'events-kafka-0';
    const tool = '/opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --list';
    const timeouts = 'request.timeout.ms=5000\ndefault.api.timeout.ms=15000';
    const anon = exec(
      'default',
      pod,
      'kafka',
      `printf 'security.protocol=PLAINTEXT\\n${timeouts}\\n' > /tmp/anon.properties; timeout 90 ${tool} --command-config /tmp/anon.properties >/tmp/anon.out 2>&1; echo "exit=$?"`,
    );
    assert.doesNotMatch(anon, /exit=0/, anon);
    const wrong = exec(
      'default',
      pod,
      'kafka',
      `printf 'security.protocol=SASL_PLAINTEXT\\nsasl.mechanism=SCRAM-SHA-512\\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="wrong";\\n${timeouts}\\n' "$KAFKA_USERNAME" > /tmp/wrong.properties; timeout 90 ${tool} --command-config /tmp/wrong.properties 2>&1; echo "exit=$?"`,
    );
    assert.doesNotMatch(wrong, /exit=0/, wrong);
    assert.match(wrong, /[Aa]uthentication failed/, wrong);
  });

  for (const [engine, name] of [
    ['rabbitmq', 'rabbit'],
    ['activemq', 'jobs'],
    ['rocketmq', 'orders'],
  ] as const) {
    test(`${engine}: a client with a wrong password is refused (mqop smoke as the client)`, async () => {
      const url = getMq('default', name).status?.endpoint?.url as string;
      // The connection Secret's keys (the name server address for RocketMQ ...) with a wrong password.
      const connection = getJson<{ data: Record<string, string> }>([
        'get',
        'secret',
        `${name}-connection`,
        '-n',
        'default',
      ]).data;
      const wrong = `e2e-wrong-${engine}`;
      apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: wrong, namespace: 'default' },
        data: Object.fromEntries(
          Object.entries({
            ...connection,
            password: Buffer.from('wrong-password').toString('base64'),
          }).filter(([k]) => k !== 'uri'),
        ),
      });
      const { exitCode, log } = await runPod(
        wrong,
        [
          'node',
          '/app/operator/src/runtime/main.ts',
          'smoke',
          '--engine',
          engine,
          '--url',
          url,
          '--secret-file',
          '/secret',
          '--messages',
          '1',
          '--timeout',
          '30',
          '--output',
          'json',
        ],
        {},
        wrong,
      );
      kubectlStatus(['delete', 'secret', wrong, '-n', 'default']);
      assert.equal(exitCode, 1, log);
      assert.equal(JSON.parse(log.slice(log.indexOf('{'))).errorKind, 'auth', log);
    });
  }
});

describe("each engine's connection uri works as it is with a standard client", () => {
  test('redis: redis-cli -u "$uri"', () => {
    const uri = secretKey('cache-connection', 'uri');
    assert.match(uri, /^redis:\/\/mqop:[^@]+@cache-redis\.default\.svc\.cluster\.local:6379$/);
    // The uri reaches redis-cli through stdin and a shell variable, not through kubectl's arguments.
    const r = execWithInput(
      'cache-redis-0',
      'redis',
      'read -r uri; redis-cli --no-auth-warning -u "$uri" ACL WHOAMI',
      `${uri}\n`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'mqop');
  });

  test('kafka: kafka-topics.sh --bootstrap-server "$uri" with the pod\'s client settings', () => {
    const uri = secretKey('events-connection', 'uri');
    const r = execWithInput(
      'events-kafka-0',
      'kafka',
      'read -r uri; timeout 90 /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$uri" --command-config /run/kafka/client.properties --list',
      `${uri}\n`,
    );
    assert.equal(r.status, 0, `${uri.replace(/:[^@/]*@/, ':***@')}: ${r.stderr}`);
  });

  test('rabbitmq: amqplib (the Node AMQP 0-9-1 client) connects with the uri from the Secret', async () => {
    const { exitCode, log } = await runPod(
      'e2e-uri-rabbitmq',
      [
        'node',
        '-e',
        "require('amqplib').connect(process.env.URI).then(async (c) => { await (await c.createChannel()).close(); await c.close(); console.log('connected'); }, (e) => { console.error(e.message); process.exit(1); })",
      ],
      { URI: { secret: 'rabbit-connection', key: 'uri' } },
    );
    assert.equal(exitCode, 0, log);
    assert.match(log, /connected/);
  });
});

describe('status says why pods are not ready', () => {
  before(() => createNamespace(NS));
  after(() => deleteNamespace(NS));

  test('a broker that exits at start: CrashLoopBackOff with its last words', async () => {
    // maxmemory passes the config policy (a plain value) but Redis refuses it and exits.
    apply(mq(NS, 'crashy', { engine: 'redis', storage: { ephemeral: true }, config: { maxmemory: 'lots' } }));
    const ready = await waitFor(
      () => {
        const c = getMq(NS, 'crashy').status?.conditions?.find((x) => x.type === 'Ready');
        return c?.reason === 'CrashLoopBackOff' ? c : undefined;
      },
      240_000,
      () => describeMq(NS, 'crashy'),
    );
    assert.match(ready.message, /crashy-redis-0/);
    assert.match(ready.message, /restart/);
  });

  test('a pod no node can hold: Unschedulable with the scheduler message', async () => {
    apply(
      mq(NS, 'huge', {
        engine: 'redis',
        storage: { ephemeral: true },
        resources: { requests: { cpu: '64', memory: '64Mi' } },
      }),
    );
    const ready = await waitFor(
      () => {
        const c = getMq(NS, 'huge').status?.conditions?.find((x) => x.type === 'Ready');
        return c?.reason === 'Unschedulable' ? c : undefined;
      },
      120_000,
      () => describeMq(NS, 'huge'),
    );
    assert.match(ready.message, /Insufficient cpu/);
  });

  test('a Secret of the user under the name mqop would derive survives creating and deleting the MessageQueue', async () => {
    apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'mine-credentials', namespace: NS, labels: { team: 'a' } },
      stringData: { username: 'theirs', password: 'their-password' },
    });
    const before = getJson<{ data: Record<string, string>; metadata: { uid: string } }>([
      'get',
      'secret',
      'mine-credentials',
      '-n',
      NS,
    ]);
    apply(mq(NS, 'mine', { engine: 'redis', storage: { ephemeral: true } }));
    const stalled = await waitFor(
      () => {
        const c = getMq(NS, 'mine').status?.conditions?.find((x) => x.type === 'Stalled');
        return c?.status === 'True' ? c : undefined;
      },
      60_000,
      () => describeMq(NS, 'mine'),
    );
    assert.match(
      stalled.message,
      /Secret\/mine-credentials.? exists and is not managed by this MessageQueue/,
    );
    const during = getJson<{
      data: Record<string, string>;
      metadata: { uid: string; ownerReferences?: unknown[] };
    }>(['get', 'secret', 'mine-credentials', '-n', NS]);
    assert.deepEqual(during.data, before.data);
    assert.equal(during.metadata.ownerReferences, undefined);
    kubectl(
      ['delete', 'messagequeue', 'mine', '-n', NS, '--wait=true', '--timeout=120s'],
      undefined,
      150_000,
    );
    // Garbage collection is real here: give it time to (wrongly) delete the Secret.
    await new Promise((r) => setTimeout(r, 10_000));
    const afterDelete = getJson<{ data: Record<string, string>; metadata: { uid: string } }>([
      'get',
      'secret',
      'mine-credentials',
      '-n',
      NS,
    ]);
    assert.equal(afterDelete.metadata.uid, before.metadata.uid);
    assert.deepEqual(afterDelete.data, before.data);
  });
});
