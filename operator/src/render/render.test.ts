import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ENGINE_TRAITS, ENGINES, type EngineName } from '../api/engines.ts';
import { rewriteRegistry } from '../api/resolve.ts';
import type { MessageQueue, MessageQueueSpec } from '../api/types.ts';
import { engineModule } from '../engines/index.ts';
import { renderContext } from './context.ts';
import { type K8sObject, render } from './render.ts';

// Deep reads into rendered JSON in assertions; a wrong path fails the assertion.
// biome-ignore lint/suspicious/noExplicitAny: test-only deep access
type Any = any;
const PASSWORD = 'Pa55/w:rd@unique';
const cr = (spec: MessageQueueSpec, name = 'orders'): MessageQueue => ({
  apiVersion: 'mqop.dev/v1alpha1',
  kind: 'MessageQueue',
  metadata: { name, namespace: 'shop', uid: 'uid-1' },
  spec,
});
const inputs = (engine: EngineName) => ({
  credentials: ENGINE_TRAITS[engine].supportsAuth ? { username: 'mqop', password: PASSWORD } : undefined,
  internal: Object.fromEntries(Object.keys(engineModule(engine).internal).map((k) => [k, `v-${k}`])),
});
const find = (objs: K8sObject[], kind: string, name?: string) =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const decode = (o: K8sObject) =>
  Object.fromEntries(
    Object.entries((o as unknown as { data: Record<string, string> }).data).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString('utf8'),
    ]),
  );

describe('render, for every engine', () => {
  for (const engine of ENGINES) {
    test(`${engine}: deterministic, owned, secret-free ConfigMaps, servicebinding Secret`, () => {
      const a = render(cr({ engine }), inputs(engine));
      const b = render(cr({ engine }), inputs(engine));
      assert.equal(JSON.stringify(a), JSON.stringify(b));
      for (const o of a.objects) {
        assert.equal(o.metadata.namespace, 'shop');
        assert.deepEqual(
          (o.metadata.ownerReferences as { uid: string }[]).map((r) => r.uid),
          ['uid-1'],
        );
        assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'mqop');
        assert.equal(o.metadata.labels?.['mqop.dev/messagequeue'], 'orders');
      }
      for (const cm of find(a.objects, 'ConfigMap')) {
        assert.ok(!JSON.stringify(cm).includes(PASSWORD), `password in ConfigMap ${cm.metadata.name}`);
      }
      for (const kind of ['StatefulSet', 'Deployment']) {
        for (const w of find(a.objects, kind)) {
          assert.ok(!JSON.stringify(w).includes(PASSWORD), `password in ${kind} ${w.metadata.name}`);
          const pod = (w as unknown as { spec: { template: { spec: Record<string, unknown> } } }).spec
            .template.spec;
          assert.equal(pod.enableServiceLinks, false);
          assert.equal((pod.securityContext as { runAsNonRoot: boolean }).runAsNonRoot, true);
        }
      }
      const [conn] = find(a.objects, 'Secret', 'orders-connection');
      assert.ok(conn, 'no connection Secret');
      const data = decode(conn);
      for (const k of ['type', 'provider', 'host', 'port', 'uri'])
        assert.ok(data[k], `connection Secret lacks ${k}`);
      assert.equal(data.type, engine);
      assert.equal(data.provider, 'mqop');
      assert.ok(data.host?.endsWith('.shop.svc.cluster.local'));
      if (ENGINE_TRAITS[engine].supportsAuth) {
        assert.equal(data.username, 'mqop');
        assert.equal(data.password, PASSWORD);
      }
    });

    test(`${engine}: the endpoint (published in status) never carries a secret`, () => {
      const ep = renderContext(cr({ engine, replicas: 1 }), inputs(engine)).endpoint;
      assert.ok(!JSON.stringify(ep).includes(PASSWORD));
      assert.match(ep.url, /^[a-z+]+:\/\/orders-[a-z-]+\.shop\.svc\.cluster\.local:\d+/);
    });

    test(`${engine}: the resolved endpoint is a port of a rendered Service (the engine table and the module agree)`, () => {
      for (const replicas of ENGINE_TRAITS[engine].replicas.allowed.slice(0, 2)) {
        const ctx = renderContext(cr({ engine, replicas }), inputs(engine));
        const service = ctx.endpoint.host.split('.')[0];
        const [svc] = find(render(cr({ engine, replicas }), inputs(engine)).objects, 'Service', service);
        assert.ok(svc, `no Service ${service} for the endpoint ${ctx.endpoint.url}`);
        const ports = (svc as Any).spec.ports.map((p: { port: number }) => p.port);
        assert.ok(
          ports.includes(ctx.endpoint.port),
          `${service} has ports ${ports}, not ${ctx.endpoint.port}`,
        );
      }
    });

    test(`${engine}: the same CR with other credentials changes only Secrets and pod hashes`, () => {
      const a = render(cr({ engine }), inputs(engine));
      const other = inputs(engine);
      if (other.credentials) other.credentials = { username: 'mqop', password: 'another' };
      const b = render(cr({ engine }), other);
      assert.deepEqual(
        a.objects.map((o) => `${o.kind}/${o.metadata.name}`),
        b.objects.map((o) => `${o.kind}/${o.metadata.name}`),
      );
    });
  }
});

describe('shared rendering rules', () => {
  test('ephemeral storage gives emptyDir, persistent gives claims with the deleteClaim policy', () => {
    const eph = render(cr({ engine: 'redis', storage: { ephemeral: true } }), inputs('redis'));
    const [sts] = find(eph.objects, 'StatefulSet') as unknown as { spec: Record<string, unknown> }[];
    assert.equal(sts?.spec.volumeClaimTemplates, undefined);
    const vols = (sts as Any).spec.template.spec.volumes as { name: string; emptyDir?: unknown }[];
    assert.deepEqual(
      vols.find((v) => v.name === 'data')?.emptyDir,
      { sizeLimit: '8Gi' },
      'data is a capped emptyDir',
    );
    const keep = render(
      cr({ engine: 'redis', storage: { size: '3Gi', deleteClaim: true } }),
      inputs('redis'),
    );
    const [p] = find(keep.objects, 'StatefulSet') as unknown as { spec: Record<string, Any> }[];
    assert.equal(p?.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '3Gi');
    assert.equal(p?.spec.persistentVolumeClaimRetentionPolicy.whenDeleted, 'Delete');
  });

  test('a PodDisruptionBudget only with more than one pod', () => {
    assert.equal(
      find(render(cr({ engine: 'redis' }), inputs('redis')).objects, 'PodDisruptionBudget').length,
      0,
    );
    assert.ok(
      find(render(cr({ engine: 'redis', replicas: 3 }), inputs('redis')).objects, 'PodDisruptionBudget')
        .length > 0,
    );
  });

  test('a NetworkPolicy only when enabled, admitting the operator namespace', () => {
    const off = render(cr({ engine: 'redis' }), inputs('redis'));
    assert.equal(find(off.objects, 'NetworkPolicy').length, 0);
    const on = render(cr({ engine: 'redis', networkPolicy: { enabled: true } }), {
      ...inputs('redis'),
      operator: { namespace: 'mqop-system' },
    });
    const [np] = find(on.objects, 'NetworkPolicy');
    assert.ok(JSON.stringify(np).includes('"kubernetes.io/metadata.name":"mqop-system"'));
  });

  test('pod template overrides reach the pods, but never the selector', () => {
    const { objects } = render(
      cr({
        engine: 'redis',
        podTemplate: { labels: { team: 'a' }, nodeSelector: { disk: 'ssd' }, priorityClassName: 'high' },
      }),
      inputs('redis'),
    );
    const [sts] = find(objects, 'StatefulSet') as unknown as { spec: Record<string, Any> }[];
    assert.equal(sts?.spec.template.metadata.labels.team, 'a');
    assert.equal(sts?.spec.selector.matchLabels.team, undefined);
    assert.deepEqual(sts?.spec.template.spec.nodeSelector, { disk: 'ssd' });
    assert.equal(sts?.spec.template.spec.priorityClassName, 'high');
  });

  test('image registry rewrite for air-gapped clusters', () => {
    assert.equal(
      rewriteRegistry('docker.io/library/redis:7', 'mirror.local:5000/hub'),
      'mirror.local:5000/hub/library/redis:7',
    );
    assert.equal(rewriteRegistry('apache/kafka:3.9.1', 'mirror.local'), 'mirror.local/apache/kafka:3.9.1');
    assert.equal(rewriteRegistry('docker.io/library/redis:7', undefined), 'docker.io/library/redis:7');
    const { objects } = render(cr({ engine: 'redis' }), {
      ...inputs('redis'),
      operator: { imageRegistry: 'mirror.local' },
    });
    assert.ok(JSON.stringify(objects).includes('"image":"mirror.local/library/redis:'));
    const own = render(cr({ engine: 'redis', image: 'my.reg/redis:7' }), {
      ...inputs('redis'),
      operator: { imageRegistry: 'mirror.local' },
    });
    assert.ok(
      JSON.stringify(own.objects).includes('"image":"my.reg/redis:7"'),
      'spec.image wins over the rewrite',
    );
  });

  test('a user-supplied credentials Secret is referenced instead of the generated one', () => {
    const { objects } = render(cr({ engine: 'redis', auth: { secretName: 'vault-redis' } }), inputs('redis'));
    const s = JSON.stringify(find(objects, 'StatefulSet'));
    assert.ok(s.includes('"name":"vault-redis"'));
    assert.ok(!s.includes('"name":"orders-credentials"'));
  });

  test('redis with replicas > 1 adds three Sentinels and a sentinel endpoint', () => {
    const { objects } = render(cr({ engine: 'redis', replicas: 3 }), inputs('redis'));
    const sentinel = find(objects, 'StatefulSet', 'orders-redis-sentinel') as unknown as {
      spec: { replicas: number };
    }[];
    assert.equal(sentinel[0]?.spec.replicas, 3);
    const data = decode(find(objects, 'Secret', 'orders-connection')[0] as K8sObject);
    assert.equal(data['sentinel.master'], 'mymaster');
    assert.ok(data.uri?.startsWith('redis+sentinel://'));
    assert.equal(
      find(objects, 'Service', 'orders-redis').length,
      0,
      'no write Service that could hit a replica',
    );
  });

  test('zeromq sidecars are patches without owner references', () => {
    const r = render(
      cr({ engine: 'zeromq', zeromq: { sidecarFor: ['pricing', 'billing'] } }),
      inputs('zeromq'),
    );
    assert.deepEqual(r.patches.map((p) => p.metadata.name).sort(), ['billing', 'pricing']);
    for (const p of r.patches) assert.equal(p.metadata.ownerReferences, undefined);
    assert.equal(find(r.objects, 'Deployment', 'pricing').length, 0);
  });
});
