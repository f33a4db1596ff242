import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import type { MessageQueueSpec } from '../api/types.ts';
import { type K8sObject, render } from '../render/render.ts';
import { propertiesValue } from '../render/workload.ts';
import { INNER_ACCESS_KEY, INNER_SECRET_KEY } from './rocketmq.ts';

const cr = (spec: Omit<MessageQueueSpec, 'engine'>) =>
  ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name: 'orders', namespace: 'shop', uid: 'u-1' },
    spec: { engine: 'rocketmq', ...spec },
  }) as const;
const PASSWORD = 's3cr"et\\pw';
const inputs = {
  credentials: { username: 'mqop', password: PASSWORD },
  internal: { [INNER_SECRET_KEY]: 'inner-0123' },
};

// biome-ignore lint/suspicious/noExplicitAny: test code walks plain JSON.
type Any = any;
const objects = (spec: Omit<MessageQueueSpec, 'engine'>) => render(cr(spec), inputs).objects;
const find = (objs: K8sObject[], kind: string, name: string): Any => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} not rendered`);
  return o;
};
const kinds = (objs: K8sObject[]) => {
  const out: Record<string, number> = {};
  for (const o of objs) out[o.kind] = (out[o.kind] ?? 0) + 1;
  return out;
};
const configMap = (objs: K8sObject[]) => find(objs, 'ConfigMap', 'orders-rocketmq-config').data;
const secretData = (objs: K8sObject[], name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(find(objs, 'Secret', name).data as Record<string, string>).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString('utf8'),
    ]),
  );
/** Java-properties view of broker.conf: last value wins, like `Properties.load`. */
const props = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
const NS0 = 'orders-rocketmq-namesrv-0.orders-rocketmq-namesrv-headless.shop.svc.cluster.local:9876';
const NS1 = 'orders-rocketmq-namesrv-1.orders-rocketmq-namesrv-headless.shop.svc.cluster.local:9876';

describe('rocketmq', () => {
  test('one replica: one name server, one broker, no PDBs', () => {
    const objs = objects({ replicas: 1 });
    assert.deepEqual(kinds(objs), { ConfigMap: 1, Secret: 2, StatefulSet: 2, Service: 4 });
    assert.equal(find(objs, 'StatefulSet', 'orders-rocketmq-namesrv').spec.replicas, 1);
    assert.equal(find(objs, 'StatefulSet', 'orders-rocketmq').spec.replicas, 1);
    assert.equal(props(configMap(objs)['broker.conf']).namesrvAddr, NS0);
  });

  test('three replicas: two name servers by pod DNS name, three broker groups, two PDBs', () => {
    const objs = objects({ replicas: 3 });
    assert.deepEqual(kinds(objs), {
      ConfigMap: 1,
      Secret: 2,
      StatefulSet: 2,
      Service: 4,
      PodDisruptionBudget: 2,
    });
    assert.equal(find(objs, 'StatefulSet', 'orders-rocketmq-namesrv').spec.replicas, 2);
    assert.equal(find(objs, 'StatefulSet', 'orders-rocketmq').spec.replicas, 3);
    find(objs, 'PodDisruptionBudget', 'orders-rocketmq');
    find(objs, 'PodDisruptionBudget', 'orders-rocketmq-namesrv');
    const data = configMap(objs);
    // Every broker registers with every name server: never the Service, never a pod IP.
    assert.equal(props(data['broker.conf']).namesrvAddr, `${NS0};${NS1}`);
    assert.equal(JSON.parse(data['rmq-proxy.json']).namesrvAddr, `${NS0};${NS1}`);
  });

  test('broker.conf: one master group per pod, store on the data volume, ACL 2.0 on', () => {
    const objs = objects({ replicas: 3 });
    const conf = props(configMap(objs)['broker.conf']);
    assert.equal(conf.brokerId, '0');
    assert.equal(conf.brokerRole, 'ASYNC_MASTER');
    assert.equal(conf.listenPort, '10911');
    assert.equal(conf.storePathRootDir, '/home/rocketmq/store');
    assert.equal(conf.authenticationEnabled, 'true');
    assert.equal(conf.authorizationEnabled, 'true');
    assert.equal(conf.brokerName, undefined, 'brokerName is per pod, appended at start');
    const start = configMap(objs)['start-broker.sh'];
    assert.match(start, /echo "brokerName=\$POD_NAME"/);
    assert.match(start, /echo "brokerIP1=\$POD_IP"/);
    assert.match(start, /ProxyStartup -pm local -pc \/etc\/rocketmq\/conf\/rmq-proxy.json -bc "\$conf"/);
    const proxy = JSON.parse(configMap(objs)['rmq-proxy.json']);
    assert.equal(proxy.grpcServerPort, 8081);
    assert.equal(proxy.remotingListenPort, 8080);
    assert.equal(proxy.proxyMode, 'local');
    assert.equal(proxy.rocketMQClusterName, conf.brokerClusterName);
    assert.equal(
      proxy.authenticationMetadataProvider,
      'org.apache.rocketmq.proxy.auth.ProxyAuthenticationMetadataProvider',
    );
  });

  test('start scripts are valid sh and exec the JVM (signals reach it)', () => {
    const data = configMap(objects({ replicas: 3 }));
    for (const script of ['start-broker.sh', 'start-namesrv.sh']) {
      execFileSync('sh', ['-n'], { input: data[script] });
      assert.match(data[script], /\nexec "\$JAVA" -Xms\$\{heap\}m -Xmx\$\{heap\}m/);
    }
  });

  test('user config is merged into broker.conf and cannot inject keys', () => {
    const objs = objects({ config: { fileReservedTime: '72', msgTraceTopicName: 'a\nbrokerRole=SLAVE' } });
    const text = configMap(objs)['broker.conf'];
    const conf = props(text);
    assert.equal(conf.fileReservedTime, '72');
    assert.equal(conf.brokerRole, 'ASYNC_MASTER');
    assert.ok(text.includes('msgTraceTopicName=a\\nbrokerRole=SLAVE\n'));
  });

  test('credentials live only in the config Secret, escaped for JSON and properties', () => {
    const objs = objects({ replicas: 3 });
    for (const o of objs.filter((x) => x.kind === 'ConfigMap')) {
      const text = JSON.stringify(o);
      assert.ok(!text.includes('s3cr'), `password in ConfigMap ${o.metadata.name}`);
      assert.ok(!text.includes('inner-0123'), `inner secret in ConfigMap ${o.metadata.name}`);
    }
    const creds = secretData(objs, 'orders-rocketmq-config-secret')['broker-credentials.conf'] ?? '';
    const lines = props(creds);
    // Undo the properties escaping of backslashes, then read the JSON the broker reads.
    const unprop = (v = '') => v.replace(/\\\\/g, '\\');
    assert.deepEqual(JSON.parse(unprop(lines.initAuthenticationUser)), {
      username: 'mqop',
      password: PASSWORD,
    });
    assert.deepEqual(JSON.parse(unprop(lines.innerClientAuthenticationCredentials)), {
      accessKey: INNER_ACCESS_KEY,
      secretKey: 'inner-0123',
    });
    const broker = find(objs, 'StatefulSet', 'orders-rocketmq').spec.template.spec;
    const vol = broker.volumes.find((v: Any) => v.name === 'credentials');
    assert.equal(vol.secret.secretName, 'orders-rocketmq-config-secret');
    const run = broker.volumes.find((v: Any) => v.name === 'run');
    assert.equal(run.emptyDir.medium, 'Memory', 'the generated broker.conf with credentials stays in memory');
  });

  test('persistent: a claim per broker; ephemeral: an emptyDir; name servers never keep data', () => {
    const persistent = objects({ replicas: 3, storage: { size: '20Gi' } });
    const sts = find(persistent, 'StatefulSet', 'orders-rocketmq');
    assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, 'data');
    assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '20Gi');
    const mount = sts.spec.template.spec.containers[0].volumeMounts.find((m: Any) => m.name === 'data');
    assert.equal(mount.mountPath, '/home/rocketmq/store');
    assert.equal(
      find(persistent, 'StatefulSet', 'orders-rocketmq-namesrv').spec.volumeClaimTemplates,
      undefined,
    );

    const ephemeral = find(objects({ storage: { ephemeral: true } }), 'StatefulSet', 'orders-rocketmq');
    assert.equal(ephemeral.spec.volumeClaimTemplates, undefined);
    const data = ephemeral.spec.template.spec.volumes.find((v: Any) => v.name === 'data');
    assert.ok(data.emptyDir, 'ephemeral data is an emptyDir');
    assert.equal(data.emptyDir.medium, undefined, 'on disk: RocksDB opens the store with O_DIRECT');
  });

  test('pods: restricted security, read-only root with every writable path mounted, probes, hash', () => {
    const objs = objects({ replicas: 3 });
    for (const name of ['orders-rocketmq', 'orders-rocketmq-namesrv']) {
      const pod = find(objs, 'StatefulSet', name).spec.template;
      assert.match(pod.metadata.annotations['mqop.dev/config-hash'], /^[0-9a-f]{16}$/);
      assert.equal(pod.spec.securityContext.runAsUser, 3000);
      assert.equal(pod.spec.securityContext.fsGroup, 3000);
      const [c] = pod.spec.containers;
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
      assert.ok(c.startupProbe && c.readinessProbe && c.livenessProbe);
      assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
      assert.equal(c.resources.limits.cpu, undefined);
      const paths = c.volumeMounts.map((m: Any) => m.mountPath);
      for (const p of ['/tmp', '/home/rocketmq/logs']) assert.ok(paths.includes(p), `${name} lacks ${p}`);
      const mem = c.env.find((e: Any) => e.name === 'MEMORY_LIMIT_MB');
      assert.equal(mem.valueFrom.resourceFieldRef.resource, 'limits.memory');
    }
    const broker = find(objs, 'StatefulSet', 'orders-rocketmq').spec.template.spec.containers[0];
    assert.equal(broker.readinessProbe.tcpSocket.port, 8081);
    assert.equal(
      broker.env.find((e: Any) => e.name === 'POD_IP').valueFrom.fieldRef.fieldPath,
      'status.podIP',
    );
    const ns = find(objs, 'StatefulSet', 'orders-rocketmq-namesrv').spec.template.spec.containers[0];
    assert.equal(ns.readinessProbe.tcpSocket.port, 9876);
  });

  test('spec.resources sets the broker container and so its heap', () => {
    const objs = objects({ resources: { limits: { memory: '4Gi' }, requests: { cpu: '2' } } });
    const c = find(objs, 'StatefulSet', 'orders-rocketmq').spec.template.spec.containers[0];
    assert.equal(c.resources.limits.memory, '4Gi');
    assert.equal(c.resources.requests.cpu, '2');
    assert.equal(c.resources.requests.memory, '2Gi');
  });

  test('services: broker client gRPC + remoting, namesrv client, headless for both', () => {
    const objs = objects({ replicas: 3 });
    const ports = (name: string) => find(objs, 'Service', name).spec.ports.map((p: Any) => p.port);
    assert.deepEqual(ports('orders-rocketmq'), [8081, 8080]);
    assert.deepEqual(ports('orders-rocketmq-namesrv'), [9876]);
    assert.equal(find(objs, 'Service', 'orders-rocketmq-headless').spec.clusterIP, 'None');
    assert.equal(find(objs, 'Service', 'orders-rocketmq-namesrv-headless').spec.clusterIP, 'None');
  });

  test('connection Secret: gRPC endpoint, name server Service, credentials', () => {
    const data = secretData(objects({ replicas: 3 }), 'orders-connection');
    const host = 'orders-rocketmq.shop.svc.cluster.local';
    assert.equal(data.type, 'rocketmq');
    assert.equal(data.host, host);
    assert.equal(data.port, '8081');
    assert.equal(data.uri, `rocketmq://${host}:8081`);
    assert.equal(data['grpc.endpoint'], `${host}:8081`);
    assert.equal(data['namesrv.addr'], 'orders-rocketmq-namesrv.shop.svc.cluster.local:9876');
    assert.equal(data.username, 'mqop');
    assert.equal(data.password, PASSWORD);
  });

  test('deterministic: same input, same bytes', () => {
    const spec = { replicas: 3, config: { deleteWhen: '04' } };
    assert.equal(JSON.stringify(objects(spec)), JSON.stringify(objects(spec)));
  });

  test('propertiesValue escapes what Properties.load would reinterpret', () => {
    assert.equal(propertiesValue('a\\b'), 'a\\\\b');
    assert.equal(propertiesValue('x\ny'), 'x\\ny');
    assert.equal(propertiesValue(' lead'), '\\ lead');
    assert.equal(propertiesValue('{"a":"b=c"}'), '{"a":"b=c"}');
  });
});
