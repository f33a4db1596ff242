import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MessageQueueSpec } from '../api/types.ts';
import { renderContext } from '../render/context.ts';
import { type K8sObject, render } from '../render/render.ts';
import { ENABLED_PLUGINS, quantityBytes, rabbitmq, usesLegacyPeerDiscovery } from './rabbitmq.ts';

const cr = (spec: Partial<MessageQueueSpec> = {}) =>
  ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name: 'orders', namespace: 'shop', uid: 'u-1' },
    spec: { engine: 'rabbitmq', ...spec },
  }) as const;

const COOKIE = 'c0ffee'.repeat(10);
const inputs = {
  credentials: { username: 'mqop', password: 's3cret/p@ss#word' },
  internal: { 'erlang-cookie': COOKIE },
};

// Loose views of rendered JSON, enough for assertions.
// biome-ignore lint/suspicious/noExplicitAny: test access to rendered JSON
type Any = any;

const objects = (spec: Partial<MessageQueueSpec> = {}) => render(cr(spec), inputs).objects;
const find = (objs: K8sObject[], kind: string, name?: string): Any => {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(o, `${kind} ${name ?? ''} not rendered`);
  return o;
};
const kinds = (objs: K8sObject[]) => {
  const out: Record<string, number> = {};
  for (const o of objs) out[o.kind] = (out[o.kind] ?? 0) + 1;
  return out;
};
const podSpec = (objs: K8sObject[]): Any => find(objs, 'StatefulSet').spec.template.spec;
const broker = (objs: K8sObject[]): Any => podSpec(objs).containers.find((c: Any) => c.name === 'rabbitmq');
const conf = (objs: K8sObject[]): string =>
  find(objs, 'ConfigMap', 'orders-rabbitmq-config').data['rabbitmq.conf'];
const confEntries = (objs: K8sObject[]) =>
  Object.fromEntries(
    conf(objs)
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(' = ') as [string, string]),
  );
const envValue = (c: Any, name: string) => c.env.find((e: Any) => e.name === name);

describe('rabbitmq renderer', () => {
  test('one replica: broker, config, two Services, connection Secret; no PDB, no RBAC', () => {
    const objs = objects();
    assert.deepEqual(kinds(objs), { ConfigMap: 1, StatefulSet: 1, Service: 2, Secret: 1 });
    const sts = find(objs, 'StatefulSet', 'orders-rabbitmq');
    assert.equal(sts.spec.replicas, 1);
    assert.equal(sts.spec.serviceName, 'orders-rabbitmq-headless');
    // A lone node has no peer to wait for: no preStop, a short grace period.
    assert.equal(broker(objs).lifecycle, undefined);
    assert.equal(podSpec(objs).terminationGracePeriodSeconds, 120);
  });

  test('three replicas: PDB and a preStop that waits for quorum, then drains', () => {
    const objs = objects({ replicas: 3 });
    assert.deepEqual(kinds(objs), {
      ConfigMap: 1,
      StatefulSet: 1,
      Service: 2,
      PodDisruptionBudget: 1,
      Secret: 1,
    });
    assert.equal(find(objs, 'StatefulSet').spec.replicas, 3);
    assert.equal(find(objs, 'StatefulSet').spec.podManagementPolicy, 'Parallel');
    assert.equal(find(objs, 'PodDisruptionBudget', 'orders-rabbitmq').spec.maxUnavailable, 1);
    const script: string = broker(objs).lifecycle.preStop.exec.command.join(' ');
    assert.match(script, /rabbitmq-upgrade await_online_quorum_plus_one -t 600/);
    assert.match(script, /rabbitmq-upgrade drain/);
    assert.match(script, /mqop\.dev\/skip-prestop-checks/);
    // The grace period outlasts the quorum wait plus the drain.
    assert.ok(podSpec(objs).terminationGracePeriodSeconds > 600 + 120);
    assert.ok(podSpec(objs).volumes.some((v: Any) => v.downwardAPI));
  });

  test('4.1+: peer discovery needs no Kubernetes API, only a StatefulSet-shaped FQDN node name', () => {
    const objs = objects({ replicas: 3 });
    const entries = confEntries(objs);
    assert.equal(entries['cluster_formation.peer_discovery_backend'], 'k8s');
    // 4.1 ignores (and warns about) the old API-based keys: they must not be rendered.
    for (const k of Object.keys(entries)) assert.ok(!k.startsWith('cluster_formation.k8s.'), k);
    assert.deepEqual(kinds(objs).ServiceAccount, undefined);
    assert.equal(kinds(objs).Role, undefined);
    assert.equal(podSpec(objs).serviceAccountName, undefined);
    assert.equal(podSpec(objs).automountServiceAccountToken, false);
    const c = broker(objs);
    assert.equal(envValue(c, 'RABBITMQ_USE_LONGNAME').value, 'true');
    const nodename: string = envValue(c, 'RABBITMQ_NODENAME').value;
    assert.equal(nodename, 'rabbit@$(MY_POD_NAME).orders-rabbitmq-headless.shop.svc.cluster.local');
    // The plugin's own parse: rabbit@<sts>-<ordinal><domain>, seed = ordinal 0 in the same domain.
    const pod1 = nodename.replace('$(MY_POD_NAME)', 'orders-rabbitmq-1');
    const m = /^([^@]+@)([^.]*-)([0-9]+)(.*)$/.exec(pod1);
    assert.ok(m);
    assert.equal(
      `${m[1]}${m[2]}0${m[4]}`,
      'rabbit@orders-rabbitmq-0.orders-rabbitmq-headless.shop.svc.cluster.local',
    );
    const idx = (name: string) => c.env.findIndex((e: Any) => e.name === name);
    assert.ok(idx('MY_POD_NAME') < idx('RABBITMQ_NODENAME'), 'dependent env var must come after its source');
  });

  test('before 4.1: the API-based plugin gets its keys and least-privilege RBAC', () => {
    assert.equal(usesLegacyPeerDiscovery('4.0.9'), true);
    assert.equal(usesLegacyPeerDiscovery('3.13.7'), true);
    assert.equal(usesLegacyPeerDiscovery('4.1.4'), false);
    assert.equal(usesLegacyPeerDiscovery('4.2.0-rc.1'), false);
    assert.equal(usesLegacyPeerDiscovery('10.0'), false);
    const objs = objects({ replicas: 3, version: '4.0.9' });
    const entries = confEntries(objs);
    assert.equal(entries['cluster_formation.k8s.host'], 'kubernetes.default');
    assert.equal(entries['cluster_formation.k8s.address_type'], 'hostname');
    assert.equal(entries['cluster_formation.k8s.service_name'], 'orders-rabbitmq-headless');
    assert.equal(
      entries['cluster_formation.k8s.hostname_suffix'],
      '.orders-rabbitmq-headless.shop.svc.cluster.local',
    );
    find(objs, 'ServiceAccount', 'orders-rabbitmq');
    const role = find(objs, 'Role', 'orders-rabbitmq');
    assert.deepEqual(role.rules, [
      {
        apiGroups: [''],
        resources: ['endpoints'],
        resourceNames: ['orders-rabbitmq-headless'],
        verbs: ['get'],
      },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
    const rb = find(objs, 'RoleBinding', 'orders-rabbitmq');
    assert.deepEqual(rb.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'orders-rabbitmq',
    });
    assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: 'orders-rabbitmq', namespace: 'shop' }]);
    assert.equal(podSpec(objs).serviceAccountName, 'orders-rabbitmq');
    assert.equal(podSpec(objs).automountServiceAccountToken, true);
    assert.equal(
      find(objs, 'StatefulSet').spec.template.spec.containers[0].image,
      'docker.io/library/rabbitmq:4.0.9-management',
    );
  });

  test('persistent by default: a claim template on /var/lib/rabbitmq', () => {
    const objs = objects({ storage: { size: '20Gi', storageClassName: 'fast' } });
    const sts = find(objs, 'StatefulSet');
    const claim = sts.spec.volumeClaimTemplates[0];
    assert.equal(claim.metadata.name, 'data');
    assert.equal(claim.spec.resources.requests.storage, '20Gi');
    assert.equal(claim.spec.storageClassName, 'fast');
    assert.ok(!podSpec(objs).volumes.some((v: Any) => v.name === 'data'));
    assert.ok(
      broker(objs).volumeMounts.some((m: Any) => m.name === 'data' && m.mountPath === '/var/lib/rabbitmq'),
    );
  });

  test('ephemeral: the data volume is an emptyDir and there is no claim', () => {
    const objs = objects({ storage: { ephemeral: true } });
    const sts = find(objs, 'StatefulSet');
    assert.equal(sts.spec.volumeClaimTemplates, undefined);
    assert.deepEqual(
      podSpec(objs).volumes.find((v: Any) => v.name === 'data'),
      { name: 'data', emptyDir: { sizeLimit: '8Gi' } },
    );
  });

  test('user config is merged into rabbitmq.conf and wins over mqop defaults', () => {
    const objs = objects({
      config: { cluster_partition_handling: 'autoheal', 'vm_memory_high_watermark.relative': '0.7' },
    });
    const entries = confEntries(objs);
    assert.equal(entries.cluster_partition_handling, 'autoheal');
    assert.equal(entries['vm_memory_high_watermark.relative'], '0.7');
    assert.equal(entries['listeners.tcp.default'], '5672');
    assert.equal(entries['management.tcp.port'], '15672');
    assert.equal(entries['prometheus.tcp.port'], '15692');
    // Each key once: cuttlefish would otherwise silently take one of them.
    const keys = conf(objs)
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(' = ')[0]);
    assert.equal(new Set(keys).size, keys.length);
  });

  test('plugins and config paths are explicit', () => {
    const objs = objects();
    const cm = find(objs, 'ConfigMap', 'orders-rabbitmq-config');
    assert.equal(cm.data.enabled_plugins, `[${ENABLED_PLUGINS.join(',')}].\n`);
    assert.ok(ENABLED_PLUGINS.includes('rabbitmq_peer_discovery_k8s'));
    const c = broker(objs);
    assert.deepEqual(c.command, ['/opt/rabbitmq/sbin/rabbitmq-server']);
    assert.equal(envValue(c, 'RABBITMQ_CONFIG_FILE').value, '/etc/rabbitmq/rabbitmq.conf');
    assert.equal(envValue(c, 'RABBITMQ_ENABLED_PLUGINS_FILE').value, '/etc/rabbitmq/enabled_plugins');
    assert.equal(envValue(c, 'RABBITMQ_MNESIA_BASE').value, '/var/lib/rabbitmq/mnesia');
    assert.equal(envValue(c, 'HOME').value, '/var/lib/rabbitmq');
    assert.equal(envValue(c, 'RABBITMQ_LOGS').value, '-');
    assert.ok(
      c.volumeMounts.some((m: Any) => m.name === 'config' && m.mountPath === '/etc/rabbitmq' && m.readOnly),
    );
  });

  test('memory accounting follows the container limit, minus headroom', () => {
    const at = (memory: string) =>
      Number(
        confEntries(objects({ resources: { limits: { memory } } })).total_memory_available_override_value,
      );
    assert.equal(at('4Gi'), Math.floor(4 * 2 ** 30 * 0.8));
    // Headroom is capped at 2 GiB.
    assert.equal(at('16Gi'), 14 * 2 ** 30);
    assert.equal(
      Number(confEntries(objects()).total_memory_available_override_value),
      Math.floor(2 ** 30 * 0.8),
    );
    // The user may still set it.
    const own = confEntries(objects({ config: { total_memory_available_override_value: '123456789' } }));
    assert.equal(own.total_memory_available_override_value, '123456789');
    assert.equal(quantityBytes('512Mi'), 512 * 2 ** 20);
    assert.equal(quantityBytes('1G'), 1e9);
    assert.equal(quantityBytes('1e3'), 1000);
    assert.equal(quantityBytes('1.5Gi'), 1.5 * 2 ** 30);
    assert.equal(quantityBytes(2048), 2048);
    assert.ok(Number.isNaN(quantityBytes('lots')));
  });

  test('credentials: never in a ConfigMap, env reads them from the credentials Secret', () => {
    for (const spec of [
      {},
      { replicas: 3 },
      { auth: { secretName: 'my-creds' } },
    ] as Partial<MessageQueueSpec>[]) {
      const objs = objects(spec);
      const text = JSON.stringify(objs.filter((o) => o.kind !== 'Secret'));
      assert.ok(!text.includes('s3cret'), 'password leaked outside a Secret');
      assert.ok(!text.includes(COOKIE), 'Erlang cookie leaked outside a Secret');
      // Only the connection Secret (shared code) holds the password; mqop renders no other copy.
      const withPassword = objs.filter(
        (o) =>
          o.kind === 'Secret' &&
          Object.values((o as Any).data as Record<string, string>).some((v) =>
            Buffer.from(v, 'base64').toString('utf8').includes('s3cret'),
          ),
      );
      assert.deepEqual(
        withPassword.map((o) => o.metadata.name),
        ['orders-connection'],
      );
      const c = broker(objs);
      const secretName = spec.auth?.secretName ?? 'orders-credentials';
      assert.deepEqual(envValue(c, 'RABBITMQ_DEFAULT_USER').valueFrom.secretKeyRef, {
        name: secretName,
        key: 'username',
      });
      assert.deepEqual(envValue(c, 'RABBITMQ_DEFAULT_PASS').valueFrom.secretKeyRef, {
        name: secretName,
        key: 'password',
      });
    }
  });

  test('Erlang cookie: generated hex, copied from the internal Secret with mode 0600', () => {
    const value = rabbitmq.internal['erlang-cookie']?.(new Uint8Array(32).fill(171));
    assert.equal(value, 'ab'.repeat(32));
    const objs = objects();
    const vol = podSpec(objs).volumes.find((v: Any) => v.name === 'erlang-cookie');
    assert.equal(vol.secret.secretName, 'orders-rabbitmq-internal');
    assert.deepEqual(vol.secret.items, [{ key: 'erlang-cookie', path: 'erlang-cookie' }]);
    const init = podSpec(objs).initContainers[0];
    const script: string = init.command.join(' ');
    assert.match(script, /\/var\/lib\/rabbitmq\/\.erlang\.cookie/);
    assert.match(script, /chmod 600/);
    // The internal Secret is the controller's: the renderer must not render it.
    assert.ok(!objs.some((o) => o.metadata.name === 'orders-rabbitmq-internal'));
  });

  test('Services: headless carries inter-node ports, client only amqp, management, prometheus', () => {
    const objs = objects({ replicas: 3, service: { type: 'LoadBalancer' } });
    const headless = find(objs, 'Service', 'orders-rabbitmq-headless');
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    const ports = (s: Any) => Object.fromEntries(s.spec.ports.map((p: Any) => [p.name, p.port]));
    assert.deepEqual(ports(headless), {
      amqp: 5672,
      management: 15672,
      prometheus: 15692,
      epmd: 4369,
      dist: 25672,
    });
    const client = find(objs, 'Service', 'orders-rabbitmq');
    assert.equal(client.spec.type, 'LoadBalancer');
    assert.deepEqual(ports(client), { amqp: 5672, management: 15672, prometheus: 15692 });
  });

  test('probes: readiness on AMQP, liveness and startup on the Erlang VM', () => {
    const c = broker(objects({ replicas: 3 }));
    assert.equal(c.readinessProbe.tcpSocket.port, 5672);
    assert.equal(c.livenessProbe.tcpSocket.port, 25672);
    assert.equal(c.startupProbe.tcpSocket.port, 25672);
    assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 300);
    assert.equal(envValue(c, 'RABBITMQ_DIST_PORT').value, '25672');
  });

  test('passes the restricted Pod Security profile', () => {
    for (const spec of [
      {},
      { replicas: 3 },
      { replicas: 3, version: '3.13.7' },
    ] as Partial<MessageQueueSpec>[]) {
      const pod = podSpec(objects(spec));
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(pod.securityContext.runAsUser, 999);
      assert.equal(pod.securityContext.fsGroup, 999);
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
      assert.equal(pod.hostNetwork, undefined);
      for (const v of pod.volumes) {
        const types = Object.keys(v).filter((k) => k !== 'name');
        assert.ok(
          types.every((t) => ['configMap', 'secret', 'emptyDir', 'downwardAPI'].includes(t)),
          types.join(),
        );
      }
      for (const c of [...pod.containers, ...pod.initContainers]) {
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
        assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] }, c.name);
        assert.equal(c.securityContext.runAsNonRoot, true, c.name);
        assert.ok(c.resources.requests.memory && c.resources.limits.memory, c.name);
        assert.equal(c.resources.limits.cpu, undefined, c.name);
      }
    }
  });

  test('config changes roll the pods; unrelated input does not', () => {
    const hash = (spec: Partial<MessageQueueSpec>, creds = inputs) =>
      (render(cr(spec), creds).objects.find((o) => o.kind === 'StatefulSet') as Any).spec.template.metadata
        .annotations['mqop.dev/config-hash'];
    assert.notEqual(hash({}), hash({ config: { heartbeat: '30' } }));
    // The password only seeds a blank node, so changing it must not restart the brokers.
    assert.equal(hash({}), hash({}, { ...inputs, credentials: { username: 'mqop', password: 'other' } }));
  });

  test('endpoint and binding', () => {
    const ctx = renderContext(cr(), inputs);
    assert.deepEqual(ctx.endpoint, {
      host: 'orders-rabbitmq.shop.svc.cluster.local',
      port: 5672,
      url: 'amqp://orders-rabbitmq.shop.svc.cluster.local:5672',
    });
    const b = rabbitmq.binding(ctx);
    assert.equal(b.type, 'rabbitmq');
    assert.equal(b.uri, 'amqp://mqop:s3cret%2Fp%40ss%23word@orders-rabbitmq.shop.svc.cluster.local:5672/%2f');
    assert.equal(new URL(b.uri).password, 's3cret%2Fp%40ss%23word');
    assert.equal(b.extra?.['management.url'], 'http://orders-rabbitmq.shop.svc.cluster.local:15672');
    assert.equal(b.extra?.['virtual-host'], '/');
  });

  test('deterministic: same CR and inputs, same bytes', () => {
    for (const spec of [{}, { replicas: 5, config: { b: '1', a: '2' } }, { version: '4.0.9', replicas: 3 }]) {
      assert.equal(JSON.stringify(render(cr(spec), inputs)), JSON.stringify(render(cr(spec), inputs)));
    }
  });
});
