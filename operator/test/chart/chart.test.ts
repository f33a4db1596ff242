/**
 * The Helm chart (charts/mqop): lint, render, the lint allow-list, and a real API server.
 *
 * - the chart's CRD is a byte copy of crds/ (the generated one);
 * - `helm lint --strict` in both RBAC modes (cluster-wide, namespaced);
 * - rendered structure: flags, security, no `*` in RBAC, PDB/ServiceMonitor switches;
 * - kube-score on the chart output and on every engine's rendered manifests: each finding must be
 *   in operator/test/chart/lint-justifications.yaml, and each entry there must still occur;
 * - against a real control plane (operator/test/integration/cluster.ts): server-side dry-run of
 *   both modes, then the operator runs as the chart's ServiceAccount, with exactly the chart's
 *   RBAC, and reconciles and deletes one MessageQueue of every engine without a single 403.
 *
 * Tools come from scripts/chart/tools.sh (Go module proxy, cached; ~4 min the first time).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ENGINES } from '../../src/api/engines.ts';
import { resolve } from '../../src/api/resolve.ts';
import type { MessageQueue } from '../../src/api/types.ts';
import type { KubeObject } from '../../src/controller/kube-client.ts';
import { MESSAGE_QUEUE, typeOf } from '../../src/controller/resources.ts';
import { FINALIZER, needsFinalizer } from '../../src/controller/steps/finalizer.ts';
import { SIDECAR_INVITATION } from '../../src/engines/zeromq.ts';
import { render } from '../../src/render/render.ts';
import {
  type Cluster,
  type OperatorProcess,
  ROOT,
  startCluster,
  startOperator,
  waitFor,
} from '../integration/cluster.ts';

const run = promisify(execFile);
const CHART = join(ROOT, 'charts/mqop');
const NODE = process.execPath;
const RELEASE_NS = 'mqop-system';
/** Oldest Kubernetes the project supports (docs/decisions.md): kube-score judges against it. */
const KUBE_VERSION = 'v1.31';
/** Optional kube-score checks we hold ourselves to, beyond its defaults. */
const OPTIONAL_CHECKS = ['container-seccomp-profile', 'container-ports-check'];

type Obj = KubeObject & Record<string, unknown>;

let bin = '';
const tool = (name: string) => join(bin, name);

async function helm(args: string[]): Promise<string> {
  const { stdout } = await run(tool('helm'), args, { maxBuffer: 1 << 24 });
  return stdout;
}

/** `helm template` of the chart into the release namespace; `sets` are --set arguments. */
const template = (sets: string[] = [], extra: string[] = [], release = 'mqop') =>
  helm([
    'template',
    release,
    CHART,
    '--namespace',
    RELEASE_NS,
    ...sets.flatMap((s) => ['--set', s]),
    ...extra,
  ]);

const docs = (yamlText: string): Obj[] =>
  parseAllDocuments(yamlText)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);

const NAMESPACED = ['watchNamespaces={team-a,team-b}'];
const MODES: [string, string[]][] = [
  ['cluster-wide', []],
  ['namespaced', NAMESPACED],
];

before(async () => {
  const { stdout } = await run('bash', [join(ROOT, 'scripts/chart/tools.sh')], {
    maxBuffer: 1 << 24,
    timeout: 1_800_000,
  });
  bin = stdout.trim().split('\n').at(-1) as string;
});

test("the chart's CRD is byte-identical to the generated crds/messagequeues.mqop.dev.yaml", () => {
  const generated = readFileSync(join(ROOT, 'crds/messagequeues.mqop.dev.yaml'));
  const copy = readFileSync(join(CHART, 'crds/messagequeues.mqop.dev.yaml'));
  assert.ok(
    generated.equals(copy),
    'charts/mqop/crds/messagequeues.mqop.dev.yaml differs: run `cp crds/messagequeues.mqop.dev.yaml charts/mqop/crds/`',
  );
});

describe('helm lint --strict', () => {
  for (const [mode, sets] of MODES) {
    test(mode, async () => {
      await helm(['lint', CHART, '--strict', ...sets.flatMap((s) => ['--set', s])]);
    });
  }
});

describe('rendered chart', () => {
  const byKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
  const container = (objs: Obj[]) => {
    const d = byKind(objs, 'Deployment')[0] as Obj & {
      spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } };
    };
    return { pod: d.spec.template.spec, c: d.spec.template.spec.containers[0] as Record<string, unknown> };
  };

  test('cluster-wide by default: ClusterRole + binding, a Lease Role in the release namespace, no wildcard', async () => {
    const objs = docs(await template());
    assert.deepEqual(byKind(objs, 'ClusterRole').length, 1);
    assert.deepEqual(byKind(objs, 'ClusterRoleBinding').length, 1);
    const roles = byKind(objs, 'Role');
    assert.deepEqual(
      roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
      [`${RELEASE_NS}/mqop-leader-election`],
    );
    assert.equal(
      (byKind(objs, 'Deployment')[0]?.spec as { replicas?: number } | undefined)?.replicas,
      2,
      'HA by default',
    );
    assert.equal(byKind(objs, 'PodDisruptionBudget').length, 1);
    assert.equal(byKind(objs, 'ServiceMonitor').length, 0);
    const { c } = container(objs);
    const args = c.args as string[];
    assert.equal(args[0], 'operator');
    assert.ok(args.includes('--leader-elect=true'));
    assert.ok(args.includes('--operator-image=ghcr.io/mqop/mqop:0.1.0'));
    assert.equal(c.image, 'ghcr.io/mqop/mqop:0.1.0');
    assert.equal(c.imagePullPolicy, 'IfNotPresent');
    assert.ok(!args.some((a) => a.startsWith('--namespaces')));
    assert.ok(!args.some((a) => a.startsWith('--image-registry')));
  });

  test('namespaced: a Role + RoleBinding per watched namespace, no cluster-scoped RBAC', async () => {
    const objs = docs(await template(NAMESPACED));
    assert.equal(byKind(objs, 'ClusterRole').length, 0);
    assert.equal(byKind(objs, 'ClusterRoleBinding').length, 0);
    const ns = (k: string) =>
      byKind(objs, k)
        .map((r) => `${r.metadata.namespace}/${r.metadata.name}`)
        .sort();
    const want = [`${RELEASE_NS}/mqop-leader-election`, 'team-a/mqop', 'team-b/mqop'];
    assert.deepEqual(ns('Role'), want);
    assert.deepEqual(ns('RoleBinding'), want);
    assert.ok((container(objs).c.args as string[]).includes('--namespaces=team-a,team-b'));
  });

  test('no RBAC rule anywhere uses "*"', async () => {
    for (const [, sets] of MODES) {
      for (const o of docs(await template(sets))) {
        for (const r of (o.rules as Record<string, string[]>[] | undefined) ?? []) {
          for (const k of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs']) {
            assert.ok(
              !r[k]?.some((v) => v.includes('*')),
              `${o.kind}/${o.metadata.name}: ${JSON.stringify(r)}`,
            );
          }
        }
      }
    }
  });

  test('the pod: restricted security, probes on the health port, /tmp emptyDir, downward-API env', async () => {
    const { pod, c } = container(docs(await template()));
    assert.equal(pod.automountServiceAccountToken, true);
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const sc = c.securityContext as Record<string, unknown>;
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.runAsUser, 65532);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'] });
    assert.deepEqual(sc.seccompProfile, { type: 'RuntimeDefault' });
    assert.deepEqual((c.livenessProbe as { httpGet: unknown }).httpGet, {
      path: '/healthz',
      port: 'metrics',
    });
    assert.deepEqual((c.readinessProbe as { httpGet: unknown }).httpGet, {
      path: '/readyz',
      port: 'metrics',
    });
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 8081, protocol: 'TCP' }]);
    assert.ok((c.args as string[]).includes('--health-port=8081'));
    assert.deepEqual(c.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    const env = Object.fromEntries(
      (c.env as { name: string; valueFrom?: { fieldRef: { fieldPath: string } } }[]).map((e) => [
        e.name,
        e.valueFrom?.fieldRef.fieldPath,
      ]),
    );
    assert.equal(env.POD_NAME, 'metadata.name');
    assert.equal(env.POD_NAMESPACE, 'metadata.namespace');
  });

  test('one replica: no PodDisruptionBudget (it would block every drain)', async () => {
    const objs = docs(await template(['replicaCount=1']));
    assert.equal(byKind(objs, 'PodDisruptionBudget').length, 0);
  });

  test('HA: 2 replicas get a PodDisruptionBudget; flags follow the values', async () => {
    const objs = docs(
      await template([
        'replicaCount=2',
        'engineImageRegistry=registry.example.com/mirror',
        'image.registry=registry.example.com/mirror',
        'image.tag=0.1.1',
        'logLevel=debug',
      ]),
    );
    const pdb = byKind(objs, 'PodDisruptionBudget')[0] as Obj & { spec: Record<string, unknown> };
    assert.equal(pdb.spec.maxUnavailable, 1);
    const { c, pod } = container(objs);
    const args = c.args as string[];
    assert.ok(args.includes('--image-registry=registry.example.com/mirror'));
    assert.ok(args.includes('--operator-image=registry.example.com/mirror/mqop/mqop:0.1.1'));
    assert.ok(args.includes('--log-level=debug'));
    assert.equal(c.image, 'registry.example.com/mirror/mqop/mqop:0.1.1');
    assert.ok(pod.affinity && pod.topologySpreadConstraints, 'replicas are spread over nodes');
  });

  test('serviceMonitor.enabled renders a ServiceMonitor for the metrics Service', async () => {
    const objs = docs(await template(['serviceMonitor.enabled=true', 'serviceMonitor.labels.release=prom']));
    const sm = byKind(objs, 'ServiceMonitor')[0] as Obj & { spec: { endpoints: Record<string, unknown>[] } };
    assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(sm.metadata.labels?.release, 'prom');
    assert.deepEqual(
      { port: sm.spec.endpoints[0]?.port, path: sm.spec.endpoints[0]?.path },
      { port: 'metrics', path: '/metrics' },
    );
    const svc = byKind(objs, 'Service')[0] as Obj & { spec: { ports: { port: number; name: string }[] } };
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.name, p.port]),
      [['metrics', 8081]],
    );
  });
});

describe('RBAC as narrow as the features allow', () => {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  /** The rules of the operator's ClusterRole, or of its Role in one watched namespace (all are equal). */
  const rules = (objs: Obj[], kind: string) =>
    objs
      .filter(
        (o) =>
          o.kind === kind &&
          o.metadata.name === 'mqop' &&
          (kind === 'ClusterRole' || o.metadata.namespace === 'team-a'),
      )
      .flatMap((o) => o.rules as Rule[]);
  /** `group/resource: verbs` of every rule, sorted. */
  const grants = (rs: Rule[]) =>
    rs
      .flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.map((res) => `${g || 'core'}/${res}: ${r.verbs.join(',')}`)),
      )
      .sort();
  const COMMON = [
    'apps/deployments: get,list,watch,create,patch,delete',
    'apps/statefulsets: get,list,watch,create,patch,delete',
    'core/configmaps: get,list,watch,create,patch,delete',
    'core/events: create,patch',
    'core/namespaces: get',
    'core/persistentvolumeclaims: list,watch,delete',
    'core/pods: list,watch',
    'core/secrets: get,list,watch,create,patch,delete',
    'core/services: get,list,watch,create,patch,delete',
    'mqop.dev/messagequeues/finalizers: update',
    'mqop.dev/messagequeues/status: patch',
    'mqop.dev/messagequeues: get,list,watch,patch',
    'networking.k8s.io/networkpolicies: get,list,watch,create,patch,delete',
    'policy/poddisruptionbudgets: get,list,watch,create,patch,delete',
  ];
  const LEGACY = [
    'core/endpoints: get',
    'core/serviceaccounts: get,list,watch,create,patch,delete',
    'rbac.authorization.k8s.io/rolebindings: get,list,watch,create,patch,delete',
    'rbac.authorization.k8s.io/roles: get,list,watch,create,patch,delete',
  ];
  const args = (objs: Obj[]) =>
    (
      (
        objs.find((o) => o.kind === 'Deployment') as Obj & {
          spec: { template: { spec: { containers: { args: string[] }[] } } };
        }
      ).spec.template.spec.containers[0] as { args: string[] }
    ).args;

  test('default (RabbitMQ 4.1+ needs no Role): no rights on roles, rolebindings, serviceaccounts, endpoints', async () => {
    for (const [mode, sets] of MODES) {
      const objs = docs(await template(sets));
      const kind = mode === 'namespaced' ? 'Role' : 'ClusterRole';
      assert.deepEqual(grants(rules(objs, kind)), [...COMMON].sort(), mode);
      assert.ok(args(objs).includes('--manage-roles=false'));
    }
  });

  test('rbac.rabbitmqLegacyDiscovery=true adds exactly what the pre-4.1 discovery Role needs', async () => {
    for (const [mode, sets] of MODES) {
      const objs = docs(await template([...sets, 'rbac.rabbitmqLegacyDiscovery=true']));
      const kind = mode === 'namespaced' ? 'Role' : 'ClusterRole';
      assert.deepEqual(grants(rules(objs, kind)), [...COMMON, ...LEGACY].sort(), mode);
      assert.ok(args(objs).includes('--manage-roles=true'));
    }
  });

  test('smoke fairness and sidecar images are operator flags from the values', async () => {
    const a = args(docs(await template()));
    for (const f of [
      '--smoke-concurrency=2',
      '--smoke-concurrency-per-namespace=1',
      '--smoke-trigger-min-interval-seconds=30',
    ])
      assert.ok(a.includes(f), f);
    assert.ok(!a.some((x) => x.startsWith('--sidecar-images')));
    const b = args(
      docs(
        await template([
          'smoke.concurrency=8',
          'smoke.concurrencyPerNamespace=2',
          'sidecarImages={r.example/a:1,r.example/b:2}',
        ]),
      ),
    );
    assert.ok(b.includes('--smoke-concurrency=8'));
    assert.ok(b.includes('--smoke-concurrency-per-namespace=2'));
    assert.ok(b.includes('--sidecar-images=r.example/a:1,r.example/b:2'));
  });

  test('the NetworkPolicy is closed by default: no ingress; egress only DNS, API server, broker ports', async () => {
    type Np = Obj & {
      spec: {
        policyTypes: string[];
        ingress: unknown[];
        egress: { to?: Record<string, unknown>[]; ports: { port: number | string }[] }[];
      };
    };
    const np = docs(await template()).find((o) => o.kind === 'NetworkPolicy') as Np;
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(np.spec.ingress, []);
    assert.ok(
      np.spec.egress.every((r) => r.ports.length > 0),
      'every egress rule names its ports',
    );
    assert.deepEqual(
      np.spec.egress.map((r) => r.ports.map((p) => p.port)),
      [
        [53, 53],
        [443, 6443],
        [5672, 61616, 6379, 26379, 9092, 8080, 8081, 9876, 10911, 5555, 5556],
      ],
    );
    assert.deepEqual(np.spec.egress[2]?.to, [
      { namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/managed-by': 'mqop' } } },
    ]);
    const open = docs(
      await template(['networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.team=monitoring']),
    ).find((o) => o.kind === 'NetworkPolicy') as Np;
    assert.deepEqual(open.spec.ingress, [
      {
        ports: [{ port: 'metrics', protocol: 'TCP' }],
        from: [{ namespaceSelector: { matchLabels: { team: 'monitoring' } } }],
      },
    ]);
  });
});

// ---- kube-score ------------------------------------------------------------------------------

interface Finding {
  /** `chart` or the engine whose example was rendered. */
  source: string;
  kind: string;
  name: string;
  check: string;
  grade: number;
  messages: string[];
}

interface Justification {
  check: string;
  kind: string;
  /** Objects the finding is accepted on, as `<source>/<name>`. */
  on: string[];
  justification: string;
}

async function kubeScore(source: string, manifests: string): Promise<Finding[]> {
  const p = execFile(
    tool('kube-score'),
    [
      'score',
      '--kubernetes-version',
      KUBE_VERSION,
      ...OPTIONAL_CHECKS.flatMap((c) => ['--enable-optional-test', c]),
      '--output-format',
      'json',
      '-',
    ],
    { maxBuffer: 1 << 26 },
  );
  p.stdin?.end(manifests);
  let out = '';
  p.stdout?.on('data', (d) => {
    out += d;
  });
  // kube-score exits 1 when it has critical findings: the JSON is what counts.
  await new Promise((r) => p.on('close', r));
  const report = JSON.parse(out) as {
    type_meta: { kind: string };
    object_meta: { name: string };
    checks: {
      check: { id: string };
      grade: number;
      skipped: boolean;
      comments: { path: string; summary: string }[] | null;
    }[];
  }[];
  const findings: Finding[] = [];
  for (const o of report) {
    for (const c of o.checks) {
      if (c.skipped || c.grade >= 10) continue;
      findings.push({
        source,
        kind: o.type_meta.kind,
        name: o.object_meta.name,
        check: c.check.id,
        grade: c.grade,
        messages: (c.comments ?? []).map((m) => (m.path ? `(${m.path}) ${m.summary}` : m.summary)),
      });
    }
  }
  return findings;
}

test('kube-score: every finding on the chart and on every engine is fixed or justified', async () => {
  const sources: [string, Promise<string>][] = [
    ['chart', template()],
    ['chart', template(NAMESPACED)],
    ['chart', template(['replicaCount=1'])],
    ['chart', template(['serviceMonitor.enabled=true'])],
  ];
  for (const engine of ENGINES) {
    sources.push([
      engine,
      run(
        NODE,
        [join(ROOT, 'operator/src/runtime/main.ts'), 'render', '-f', join(ROOT, `examples/${engine}.yaml`)],
        {
          maxBuffer: 1 << 24,
        },
      ).then((r) => r.stdout),
    ]);
  }
  const findings = (
    await Promise.all(sources.map(async ([source, text]) => kubeScore(source, await text)))
  ).flat();
  const allow = parseYaml(
    readFileSync(join(import.meta.dirname, 'lint-justifications.yaml'), 'utf8'),
  ) as Justification[];
  for (const j of allow) {
    assert.ok(j.check && j.kind && j.on?.length, `incomplete entry ${JSON.stringify(j)}`);
    assert.ok((j.justification ?? '').trim().length > 40, `${j.check}/${j.kind}: justification too short`);
  }
  const dup = allow.map((j) => `${j.check}/${j.kind}`).filter((k, i, a) => a.indexOf(k) !== i);
  assert.deepEqual(dup, [], 'one entry per (check, kind)');

  const used = new Set<string>();
  const unexplained: string[] = [];
  for (const f of findings) {
    const id = `${f.source}/${f.name}`;
    const j = allow.find((a) => a.check === f.check && a.kind === f.kind && a.on.includes(id));
    if (j) used.add(`${f.check}|${f.kind}|${id}`);
    else unexplained.push(`${f.check} on ${f.kind} ${id}: ${f.messages.join('; ')}`);
  }
  const stale = allow.flatMap((a) =>
    a.on.filter((id) => !used.has(`${a.check}|${a.kind}|${id}`)).map((id) => `${a.check} on ${a.kind} ${id}`),
  );
  assert.deepEqual(
    unexplained,
    [],
    'kube-score findings missing from lint-justifications.yaml (fix or justify)',
  );
  assert.deepEqual(stale, [], 'lint-justifications.yaml entries that no longer occur (remove them)');
});

// ---- against a real API server ---------------------------------------------------------------

describe('against a real API server', () => {
  let c: Cluster;
  let op: OperatorProcess | undefined;

  before(async () => {
    c = await startCluster();
    for (const ns of ['team-a', 'team-b', 'chart-all']) await c.kubectl(['create', 'namespace', ns]);
  });
  after(async () => {
    await op?.kill('SIGTERM');
    await c?.stop();
  });

  const apply = async (manifests: string, dryRun: boolean) => {
    const r = await c.kubectl(
      ['apply', '--server-side', '--field-manager=helm', ...(dryRun ? ['--dry-run=server'] : []), '-f', '-'],
      manifests,
    );
    assert.equal(r.code, 0, `kubectl apply${dryRun ? ' --dry-run=server' : ''} failed:\n${r.stderr}`);
    return r.stdout;
  };

  for (const [mode, sets] of MODES) {
    test(`server-side dry-run accepts the ${mode} chart (CRD included)`, async () => {
      const out = await apply(await template(sets, ['--include-crds']), true);
      assert.match(out, /deployment\.apps\/mqop serverside-applied \(server dry run\)/);
    });
  }

  /** A kubeconfig that authenticates as the chart's ServiceAccount (a bound token). */
  async function serviceAccountKubeconfig(sa: string): Promise<string> {
    const t = await c.kubectl(['create', 'token', sa, '-n', RELEASE_NS, '--duration=2h']);
    assert.equal(t.code, 0, t.stderr);
    const admin = new KubeConfig();
    admin.loadFromFile(c.kubeconfig);
    const cluster = admin.getCurrentCluster();
    assert.ok(cluster);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: sa, token: t.stdout.trim() }],
      contexts: [{ name: sa, cluster: cluster.name, user: sa }],
      currentContext: sa,
    });
    const file = join(c.dir, `${sa}.kubeconfig`);
    writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
    return file;
  }

  const mq = (ns: string, name: string, spec: Record<string, unknown>) =>
    ({
      apiVersion: 'mqop.dev/v1alpha1',
      kind: 'MessageQueue',
      metadata: { name, namespace: ns },
      spec,
    }) as Obj;

  /**
   * One MessageQueue per engine, chosen to reach every RBAC rule. `legacy`: the chart grants the
   * pre-4.1 RabbitMQ discovery rights (rbac.rabbitmqLegacyDiscovery), so RabbitMQ runs 3.13.
   */
  const specs = (legacy: boolean): [string, Record<string, unknown>][] => [
    // < 4.1: a ServiceAccount, Role and RoleBinding (RBAC escalation check on our own rules).
    [
      'rabbitmq',
      {
        engine: 'rabbitmq',
        ...(legacy ? { version: '3.13.7' } : {}),
        replicas: 1,
        storage: { size: '1Gi', deleteClaim: true },
      },
    ],
    ['redis', { engine: 'redis', replicas: 3, storage: { size: '1Gi', deleteClaim: true } }],
    ['kafka', { engine: 'kafka', replicas: 1, storage: { ephemeral: true } }],
    ['activemq', { engine: 'activemq', replicas: 1, networkPolicy: { enabled: true } }],
    ['rocketmq', { engine: 'rocketmq', replicas: 1 }],
    // A sidecar in the user's Deployment `app` (get + apply with the sidecar's field manager).
    ['zeromq', { engine: 'zeromq', replicas: 1, zeromq: { pattern: 'pubsub', sidecarFor: ['app'] } }],
  ];

  /** A MessageQueue whose StatefulSet the API server refuses (422): mqop reports it Stalled. */
  const STALLED = 'stalled';
  const STALLED_SPEC = {
    engine: 'redis',
    replicas: 1,
    storage: { ephemeral: true },
    resources: { requests: { cpu: '2' }, limits: { cpu: '1' } },
  };

  /** Runs the operator as the chart's ServiceAccount over `namespaces` and checks it never hears 403. */
  async function reconcileAs(release: string, sets: string[], namespaces: string[], watch?: string[]) {
    const legacy = sets.includes('rbac.rabbitmqLegacyDiscovery=true');
    // An operator left over from a failed test would hold the Lease.
    await op?.kill('SIGKILL');
    op = undefined;
    await apply(await template(sets, [], release), false);
    const kubeconfig = await serviceAccountKubeconfig(release);
    await c.kubectl(['delete', 'lease', 'mqop-leader', '-n', RELEASE_NS, '--ignore-not-found']);
    op = await startOperator(
      { ...c, kubeconfig },
      {
        identity: release,
        namespaces: watch,
        resyncSeconds: 5,
        // What the chart's Deployment passes (deployment.yaml) for this RBAC.
        extraArgs: [`--manage-roles=${legacy}`],
      },
    );
    await waitFor(
      () => op?.log().includes('caches synced'),
      30_000,
      () => `caches synced: ${op?.log()}`,
    );

    for (const ns of namespaces) {
      await c.client.create({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        // The opt-in for the `zeromq` MessageQueue's sidecar.
        metadata: { name: 'app', namespace: ns, annotations: { [SIDECAR_INVITATION]: 'zeromq' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'app' } },
          template: {
            metadata: { labels: { app: 'app' } },
            spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1' }] },
          },
        },
      } as Obj);
      for (const [name, spec] of specs(legacy)) await c.client.create(mq(ns, name, spec));
      await c.client.create(mq(ns, STALLED, STALLED_SPEC));
    }
    for (const ns of namespaces) {
      for (const [name, spec] of specs(legacy)) {
        const cr = await waitFor(
          async () => {
            const x = await c.client.get<MessageQueue & KubeObject>(MESSAGE_QUEUE, ns, name);
            return x.status?.observedGeneration === x.metadata.generation ? x : undefined;
          },
          60_000,
          () => `${ns}/${name} status; operator log:\n${op?.log()}`,
        );
        // The finalizer (its update needs `messagequeues/finalizers`) exactly where there is
        // cleanup to do.
        assert.equal(
          cr.metadata.finalizers?.includes(FINALIZER) ?? false,
          needsFinalizer(resolve(cr)),
          `${ns}/${name} finalizer`,
        );
        const { objects } = render(cr, {
          credentials: spec.engine === 'zeromq' ? undefined : { username: 'x', password: 'x' },
          operator: { namespace: RELEASE_NS },
        });
        for (const o of objects) {
          await waitFor(
            () => c.client.getOrUndefined(typeOf(o as KubeObject), ns, o.metadata.name),
            30_000,
            `${o.kind} ${ns}/${o.metadata.name}`,
          );
        }
      }
      const app = await waitFor(
        async () => {
          const d = await c.client.get<Obj & { spec: { template: { spec: { containers: unknown[] } } } }>(
            typeOf({ apiVersion: 'apps/v1', kind: 'Deployment' }),
            ns,
            'app',
          );
          return d.spec.template.spec.containers.length === 2 ? d : undefined;
        },
        30_000,
        `sidecar in ${ns}/app`,
      );
      assert.ok(app);
    }
    // Events: the API server refuses the StatefulSet of `stalled` (requests above limits), so mqop
    // marks it Stalled and records a Warning Event (`events create`).
    for (const ns of namespaces) {
      await waitFor(
        async () => {
          const x = await c.client.get<MessageQueue & KubeObject>(MESSAGE_QUEUE, ns, STALLED);
          return x.status?.conditions?.find((k) => k.type === 'Stalled' && k.status === 'True');
        },
        60_000,
        () => `${ns}/${STALLED} Stalled; operator log:\n${op?.log()}`,
      );
      const events = await waitFor(
        async () => {
          const r = await c.kubectl([
            ...['get', 'events', '-n', ns, '-o', 'jsonpath={.items[*].reason}'],
            `--field-selector=involvedObject.name=${STALLED},source=mqop,type=Warning`,
          ]);
          return r.stdout.trim() || undefined;
        },
        30_000,
        `a Warning Event on ${ns}/${STALLED}`,
      );
      assert.equal(events, 'InvalidConfiguration');
    }

    // Deletion: sidecar removal, claim deletion (deleteClaim), finalizer removal.
    for (const ns of namespaces) {
      for (const name of [...specs(legacy).map(([n]) => n), STALLED]) {
        await c.kubectl(['delete', 'mq', name, '-n', ns, '--wait=false']);
      }
    }
    for (const ns of namespaces) {
      await waitFor(
        async () => (await c.kubectl(['get', 'mq', '-n', ns, '-o', 'name'])).stdout.trim() === '',
        60_000,
        () => `MessageQueues in ${ns} gone; operator log:\n${op?.log()}`,
      );
    }
    const log = op.log();
    await op.kill('SIGTERM');
    op = undefined;
    assert.doesNotMatch(log, /forbidden|\b403\b/i, `the operator was refused something:\n${log}`);
    assert.doesNotMatch(log, /reconcile failed/, `reconcile errors:\n${log}`);
    const denied = readFileSync(join(c.dir, 'audit.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            userAgent?: string;
            responseStatus?: { code?: number };
            requestURI: string;
            verb: string;
          },
      )
      .filter((e) => e.userAgent?.startsWith('mqop-operator') && e.responseStatus?.code === 403)
      .map((e) => `${e.verb} ${e.requestURI}`);
    assert.deepEqual(denied, []);
  }

  test('namespaced mode: the operator, with only the chart RBAC, reconciles and deletes every engine', async () => {
    // With the pre-4.1 RabbitMQ rights: RabbitMQ 3.13 and its discovery Role.
    await reconcileAs(
      'mqop-ns',
      [...NAMESPACED, 'rbac.rabbitmqLegacyDiscovery=true'],
      ['team-a', 'team-b'],
      ['team-a', 'team-b'],
    );
  });

  test('cluster-wide mode: the same with the ClusterRole (default values: no Role rights)', async () => {
    await reconcileAs('mqop-all', [], ['chart-all']);
  });
});
