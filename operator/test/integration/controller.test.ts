/**
 * The controller against a real control plane: etcd + kube-apiserver + kube-controller-manager
 * (garbage collection and StatefulSet → Pod creation are real). No kubelet: pods stay Pending,
 * which is enough to prove what the API server admits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENGINES, type EngineName } from '../../src/api/engines.ts';
import { OWNER_LABEL } from '../../src/api/labels.ts';
import type { MessageQueue } from '../../src/api/types.ts';
import type { KubeObject } from '../../src/controller/kube-client.ts';
import { MESSAGE_QUEUE, NAMESPACE, OWNED_TYPES, POD, PVC, SECRET } from '../../src/controller/resources.ts';
import { FINALIZER } from '../../src/controller/steps/finalizer.ts';
import { engineModule } from '../../src/engines/index.ts';
import { SIDECAR_INVITATION } from '../../src/engines/zeromq.ts';
import { render } from '../../src/render/render.ts';
import { BAD_INPUTS } from '../bad-input.ts';
import { BAD_TENANTS } from '../bad-tenant.ts';
import { type Cluster, type OperatorProcess, startCluster, startOperator, waitFor } from './cluster.ts';

let c: Cluster;
let op: OperatorProcess;

const mq = (namespace: string, name: string, spec: Record<string, unknown>): MessageQueue =>
  ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name, namespace },
    spec,
  }) as unknown as MessageQueue;

const ns = async (name: string, labels: Record<string, string> = {}) => {
  await c.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
};

const getMq = (namespace: string, name: string) =>
  c.client.get<MessageQueue & KubeObject>(MESSAGE_QUEUE, namespace, name);

/** Every object carrying the owner label of a MessageQueue, as `Kind/name`. */
async function ownedObjects(namespace: string, name: string): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const t of OWNED_TYPES) {
    const l = await c.client.list(t, namespace, `${OWNER_LABEL}=${name}`);
    for (const i of l.items) out.push({ ...i, apiVersion: t.apiVersion, kind: t.kind });
  }
  return out;
}

const ids = (objs: { kind: string; metadata: { name: string } }[]) =>
  objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();

/** What mqop must have made for a CR: render() with the Secrets it created, plus those Secrets. */
async function expectedIds(cr: MessageQueue & KubeObject): Promise<string[]> {
  const ns = cr.metadata.namespace as string;
  const dec = (s: KubeObject & { data?: Record<string, string> }, k: string) =>
    Buffer.from(s.data?.[k] ?? '', 'base64').toString();
  const mod = engineModule(cr.spec.engine);
  let credentials: { username: string; password: string } | undefined;
  const extra: string[] = [];
  if (cr.spec.engine !== 'zeromq') {
    const s = await c.client.get<KubeObject & { data?: Record<string, string> }>(
      SECRET,
      ns,
      `${cr.metadata.name}-credentials`,
    );
    credentials = { username: dec(s, 'username'), password: dec(s, 'password') };
    extra.push(`Secret/${cr.metadata.name}-credentials`);
  }
  let internal: Record<string, string> = {};
  if (Object.keys(mod.internal).length) {
    const name = `${cr.metadata.name}-${cr.spec.engine}-internal`;
    const s = await c.client.get<KubeObject & { data?: Record<string, string> }>(SECRET, ns, name);
    internal = Object.fromEntries(Object.keys(mod.internal).map((k) => [k, dec(s, k)]));
    extra.push(`Secret/${name}`);
  }
  const { objects } = render(cr, { credentials, internal, operator: { namespace: 'mqop-system' } });
  return [...ids(objects), ...extra].sort();
}

before(async () => {
  c = await startCluster();
  op = await startOperator(c, { identity: 'op-main', resyncSeconds: 5 });
});

after(async () => {
  await op?.kill('SIGTERM');
  await c?.stop();
});

describe('create', () => {
  before(async () => ns('it-create'));
  for (const engine of ENGINES) {
    test(`${engine}: every owned object exists, owned by the MessageQueue, with the rendered content`, async () => {
      const spec: Record<string, unknown> = { engine, replicas: 1 };
      if (engine === 'redis') spec.replicas = 3;
      await c.client.create(mq('it-create', engine, spec) as never);
      const cr = await waitFor(
        async () => {
          const x = await getMq('it-create', engine);
          return x.status?.observedGeneration === 1 ? x : undefined;
        },
        30_000,
        `${engine} status`,
      );
      const want = await expectedIds(cr);
      const got = await waitFor(
        async () => {
          const objs = await ownedObjects('it-create', engine);
          return ids(objs).join() === want.join() ? objs : undefined;
        },
        30_000,
        () => `objects of ${engine}: want ${want}`,
      );
      for (const o of got) {
        const ref = o.metadata.ownerReferences?.[0];
        assert.equal(ref?.uid, cr.metadata.uid, `${o.kind}/${o.metadata.name} owner`);
        assert.equal(ref?.controller, true);
      }
      const sts = got.find((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment') as KubeObject & {
        spec: { template: { spec: { securityContext: { runAsNonRoot: boolean } } } };
      };
      assert.equal(sts.spec.template.spec.securityContext.runAsNonRoot, true);
      assert.equal(cr.status?.endpoint?.host.startsWith(`${engine}-`), true);
      assert.equal(cr.status?.connectionSecret, `${engine}-connection`);
      // No claims to delete, no sidecars: garbage collection does all the cleanup, no finalizer.
      assert.equal(cr.metadata.finalizers?.includes(FINALIZER) ?? false, false);
    });
  }
});

describe('no-op reconcile', () => {
  test('resyncs with nothing changed send zero write requests', async () => {
    await waitFor(
      async () => {
        const writes = c.operatorWrites();
        const last = writes.at(-1)?.time ?? 0;
        return Date.now() - last > 3000; // converged: no write for 3 s
      },
      60_000,
      'convergence',
    );
    const before = c.operatorWrites().length;
    const reconcilesBefore = await op.metric('mqop_reconcile_total', 'result="ok"');
    await sleep(12_000); // two resync periods of 5 s
    const reconcilesAfter = await op.metric('mqop_reconcile_total', 'result="ok"');
    const writes = c.operatorWrites().slice(before);
    assert.ok(
      reconcilesAfter - reconcilesBefore >= 6,
      `resyncs reconciled ${reconcilesAfter - reconcilesBefore} times`,
    );
    assert.deepEqual(writes, [], 'writes during idle resyncs');
  });
});

describe('drift and spec changes', () => {
  test('a deleted Service and an edited ConfigMap are restored', async () => {
    await c.kubectl(['-n', 'it-create', 'delete', 'service', 'redis-redis-headless']);
    await c.kubectl([
      '-n',
      'it-create',
      'patch',
      'configmap',
      'redis-redis-config',
      '--type=merge',
      '-p',
      '{"data":{"redis.conf":"hacked"}}',
    ]);
    await waitFor(
      async () => (await c.kubectl(['-n', 'it-create', 'get', 'service', 'redis-redis-headless'])).code === 0,
      20_000,
      'service back',
    );
    await waitFor(
      async () => {
        const r = await c.kubectl([
          '-n',
          'it-create',
          'get',
          'configmap',
          'redis-redis-config',
          '-o',
          'jsonpath={.data.redis\\.conf}',
        ]);
        return r.stdout.includes('appendonly');
      },
      20_000,
      'configmap restored',
    );
  });

  test('scaling redis 3 → 1 prunes Sentinel and PDBs; 1 → 3 brings them back', async () => {
    const has = async (kind: string, name: string) =>
      (await c.kubectl(['-n', 'it-create', 'get', kind, name])).code === 0;
    assert.equal(await has('statefulset', 'redis-redis-sentinel'), true);
    await c.client.mergePatch(MESSAGE_QUEUE, 'it-create', 'redis', { spec: { replicas: 1 } });
    await waitFor(
      async () => !(await has('statefulset', 'redis-redis-sentinel')) && !(await has('pdb', 'redis-redis')),
      30_000,
      'pruned',
    );
    await waitFor(async () => has('service', 'redis-redis'), 30_000, 'standalone client Service');
    const sts = JSON.parse(
      (await c.kubectl(['-n', 'it-create', 'get', 'sts', 'redis-redis', '-o', 'json'])).stdout,
    );
    assert.equal(sts.spec.replicas, 1);
    await c.client.mergePatch(MESSAGE_QUEUE, 'it-create', 'redis', { spec: { replicas: 3 } });
    await waitFor(
      async () => (await has('statefulset', 'redis-redis-sentinel')) && (await has('pdb', 'redis-redis')),
      30_000,
      'sentinel back',
    );
    const cr = await waitFor(
      async () => {
        const x = await getMq('it-create', 'redis');
        return x.status?.observedGeneration === x.metadata.generation ? x : undefined;
      },
      30_000,
      'observedGeneration',
    );
    assert.equal(
      cr.status?.conditions?.find((x) => x.type === 'Ready')?.observedGeneration,
      cr.metadata.generation,
    );
  });

  test('the operator never writes into spec', async () => {
    const managers = JSON.parse(
      (await c.kubectl(['-n', 'it-create', 'get', 'mq', 'kafka', '-o', 'json', '--show-managed-fields']))
        .stdout,
    ).metadata.managedFields as {
      manager: string;
      fieldsV1: Record<string, unknown>;
      subresource?: string;
    }[];
    for (const m of managers.filter((x) => !x.subresource && !x.manager.startsWith('mqop-integration'))) {
      assert.equal(JSON.stringify(m.fieldsV1).includes('"f:spec"'), false, `${m.manager} owns spec fields`);
    }
  });
});

describe('bad input, applied for real', () => {
  before(async () => ns('it-bad'));
  for (const bad of BAD_INPUTS) {
    test(`refused: ${bad.what}`, async () => {
      const obj = { ...bad.object, metadata: { ...(bad.object.metadata as object), namespace: 'it-bad' } };
      let res: { code: number; stderr: string };
      if (bad.old) {
        const old = { ...bad.old, metadata: { ...(bad.old.metadata as object), namespace: 'it-bad' } };
        const created = await c.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(old));
        assert.equal(created.code, 0, created.stderr);
        res = await c.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(obj));
        await c.kubectl([
          '-n',
          'it-bad',
          'delete',
          'mq',
          (bad.old.metadata as { name: string }).name,
          '--wait=false',
        ]);
      } else {
        res = await c.kubectl(['create', '-f', '-'], JSON.stringify(obj));
      }
      assert.notEqual(res.code, 0, 'was admitted');
      assert.ok(res.stderr.includes(bad.message), `stderr lacks "${bad.message}":\n${res.stderr}`);
    });
  }
});

describe('bad tenants, applied for real', () => {
  before(async () => ns('it-tenant'));
  for (const [i, bad] of BAD_TENANTS.entries()) {
    const name = `t${i}`;
    const obj = {
      apiVersion: 'mqop.dev/v1alpha1',
      kind: 'MessageQueue',
      metadata: { name, namespace: 'it-tenant' },
      spec: { engine: bad.engine, ...bad.spec },
    };
    if (bad.by === 'api') {
      test(`refused by the API server: ${bad.what}`, async () => {
        const res = await c.kubectl(['create', '-f', '-'], JSON.stringify(obj));
        assert.notEqual(res.code, 0, 'was admitted');
        assert.ok(res.stderr.includes(bad.message), `stderr lacks "${bad.message}":\n${res.stderr}`);
      });
    } else {
      test(`stalled by mqop, nothing applied: ${bad.what}`, async () => {
        const res = await c.kubectl(['create', '-f', '-'], JSON.stringify(obj));
        assert.equal(res.code, 0, res.stderr);
        const cr = await waitFor(
          async () => {
            const x = await getMq('it-tenant', name);
            const st = x.status?.conditions?.find((k) => k.type === 'Stalled');
            return st?.status === 'True' ? x : undefined;
          },
          20_000,
          'Stalled',
        );
        const stalled = cr.status?.conditions?.find((k) => k.type === 'Stalled');
        assert.equal(stalled?.reason, 'InvalidConfiguration');
        assert.ok(stalled?.message.includes(bad.field), stalled?.message);
        assert.ok(stalled?.message.includes(bad.message), stalled?.message);
        assert.deepEqual(ids(await ownedObjects('it-tenant', name)), [], 'objects were applied');
        const events = JSON.parse(
          (
            await c.kubectl([
              '-n',
              'it-tenant',
              'get',
              'events',
              '--field-selector',
              `involvedObject.name=${name}`,
              '-o',
              'json',
            ])
          ).stdout,
        ).items as { type: string; reason: string; message: string }[];
        assert.ok(
          events.some((e) => e.type === 'Warning' && e.message.includes(bad.field)),
          JSON.stringify(events),
        );
      });
    }
  }
});

describe('Pod Security "restricted"', () => {
  before(async () =>
    ns('it-restricted', {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
    }),
  );
  test('pods of every engine are admitted in a restricted namespace', async () => {
    for (const engine of ENGINES) await c.client.create(mq('it-restricted', engine, { engine }) as never);
    const want = ENGINES.length + 1; // rocketmq has two StatefulSets (namesrv + broker)
    const pods = await waitFor(
      async () => {
        const l = await c.client.list(POD, 'it-restricted');
        return l.items.length >= want ? l.items : undefined;
      },
      60_000,
      async () => {
        const ev = await c.kubectl([
          '-n',
          'it-restricted',
          'get',
          'events',
          '--field-selector',
          'reason=FailedCreate',
          '-o',
          'jsonpath={.items[*].message}',
        ]);
        return `pods to be admitted; FailedCreate: ${ev.stdout}`;
      },
    );
    const engines = new Set(pods.map((p) => p.metadata.labels?.['app.kubernetes.io/name']));
    assert.deepEqual([...engines].sort(), [...ENGINES].sort() as EngineName[]);
    const failed = await c.kubectl([
      '-n',
      'it-restricted',
      'get',
      'events',
      '--field-selector',
      'reason=FailedCreate',
      '-o',
      'name',
    ]);
    assert.equal(failed.stdout.trim(), '', 'some pod was refused');
  });
});

describe('delete', () => {
  before(async () => ns('it-delete'));
  test('owned objects are garbage-collected; claims kept without deleteClaim, deleted with it', async () => {
    await c.client.create(mq('it-delete', 'keep', { engine: 'redis', storage: { size: '1Gi' } }) as never);
    await c.client.create(
      mq('it-delete', 'drop', { engine: 'redis', storage: { size: '1Gi', deleteClaim: true } }) as never,
    );
    const claims = (name: string) =>
      c.client
        .list(PVC, 'it-delete', `${OWNER_LABEL}=${name}`)
        .then((l) => l.items.map((i) => i.metadata.name));
    await waitFor(
      async () => (await claims('keep')).length === 1 && (await claims('drop')).length === 1,
      30_000,
      'claims',
    );
    // Only the MessageQueue with deleteClaim has cleanup to do, so only it gets the finalizer.
    await waitFor(
      async () => (await getMq('it-delete', 'drop')).metadata.finalizers?.includes(FINALIZER),
      30_000,
      'drop: finalizer',
    );
    assert.equal((await getMq('it-delete', 'keep')).metadata.finalizers?.includes(FINALIZER) ?? false, false);
    await c.client.delete(MESSAGE_QUEUE, 'it-delete', 'keep');
    await c.client.delete(MESSAGE_QUEUE, 'it-delete', 'drop');
    await waitFor(
      async () => (await ownedObjects('it-delete', 'keep')).length === 0,
      60_000,
      'keep: objects collected',
    );
    await waitFor(
      async () => (await ownedObjects('it-delete', 'drop')).length === 0,
      60_000,
      'drop: objects collected',
    );
    await waitFor(async () => (await claims('drop')).length === 0, 30_000, 'drop: claims deleted');
    assert.deepEqual(await claims('keep'), ['data-keep-redis-0']);
  });

  test('the finalizer comes with deleteClaim and goes when a spec change drops it', async () => {
    const name = 'flip';
    await c.client.create(
      mq('it-delete', name, { engine: 'kafka', storage: { size: '1Gi', deleteClaim: true } }) as never,
    );
    const has = async () =>
      (await getMq('it-delete', name)).metadata.finalizers?.includes(FINALIZER) ?? false;
    await waitFor(has, 30_000, 'finalizer added');
    await c.client.mergePatch(MESSAGE_QUEUE, 'it-delete', name, {
      spec: { storage: { deleteClaim: false } },
    });
    await waitFor(async () => !(await has()), 30_000, 'finalizer dropped');
    await c.client.delete(MESSAGE_QUEUE, 'it-delete', name);
  });

  test('deleting a namespace with MessageQueues never hangs', async () => {
    await ns('it-ns-delete');
    // kafka keeps a finalizer (deleteClaim): the namespace must go anyway.
    await c.client.create(
      mq('it-ns-delete', 'kafka', { engine: 'kafka', storage: { size: '1Gi', deleteClaim: true } }) as never,
    );
    for (const e of ['rabbitmq', 'zeromq'] as const)
      await c.client.create(mq('it-ns-delete', e, { engine: e }) as never);
    await waitFor(
      async () => (await getMq('it-ns-delete', 'kafka')).metadata.finalizers?.length,
      30_000,
      'finalizer',
    );
    const t0 = Date.now();
    await c.client.delete(NAMESPACE, undefined, 'it-ns-delete');
    await waitFor(
      async () => !(await c.client.getOrUndefined(NAMESPACE, undefined, 'it-ns-delete')),
      90_000,
      'namespace gone',
    );
    assert.ok(Date.now() - t0 < 90_000);
  });
});

describe('API server restart', () => {
  test('the operator recovers without a restart of its own', async () => {
    await ns('it-restart');
    await c.restartApiserver(3);
    await c.client.create(mq('it-restart', 'after', { engine: 'zeromq' }) as never);
    await waitFor(
      async () => (await getMq('it-restart', 'after')).status?.observedGeneration === 1,
      60_000,
      'reconciled after restart',
    );
    assert.equal(op.proc.exitCode, null, 'operator exited');
  });
});

describe('ZeroMQ sidecars', () => {
  test('a sidecar is added to named Deployments, removed when dropped from the list and on delete', async () => {
    await ns('it-sidecar');
    const deployment = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      // The opt-in: without it mqop leaves the Deployment alone (sidecar-optin.test.ts).
      metadata: { name, namespace: 'it-sidecar', annotations: { [SIDECAR_INVITATION]: 'ticks' } },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image: 'busybox' }] },
        },
      },
    });
    await c.client.create(deployment('pricing') as never);
    await c.client.create(deployment('billing') as never);
    const containers = async (name: string) => {
      const d = await c.client.get<
        KubeObject & { spec: { template: { spec: { containers: { name: string }[] } } } }
      >(OWNED_TYPES.find((t) => t.kind === 'Deployment') as never, 'it-sidecar', name);
      return d.spec.template.spec.containers.map((x) => x.name).sort();
    };
    await c.client.create(
      mq('it-sidecar', 'ticks', {
        engine: 'zeromq',
        zeromq: { sidecarFor: ['pricing', 'billing'] },
      }) as never,
    );
    await waitFor(
      async () => (await containers('pricing')).length === 2 && (await containers('billing')).length === 2,
      30_000,
      'sidecars added',
    );
    assert.deepEqual(await containers('pricing'), ['app', 'mqop-zmq-sidecar']);
    await c.client.mergePatch(MESSAGE_QUEUE, 'it-sidecar', 'ticks', {
      spec: { zeromq: { sidecarFor: ['pricing'] } },
    });
    await waitFor(async () => (await containers('billing')).length === 1, 30_000, 'billing sidecar removed');
    assert.deepEqual(await containers('pricing'), ['app', 'mqop-zmq-sidecar']);
    // Sidecars are cleanup the garbage collector can't do: the finalizer is there.
    assert.ok((await getMq('it-sidecar', 'ticks')).metadata.finalizers?.includes(FINALIZER));
    await c.client.delete(MESSAGE_QUEUE, 'it-sidecar', 'ticks');
    await waitFor(
      async () => (await containers('pricing')).length === 1,
      30_000,
      'pricing sidecar removed on delete',
    );
    assert.deepEqual(await containers('pricing'), ['app']);
  });
});
