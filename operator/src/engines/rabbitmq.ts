/**
 * RabbitMQ. One StatefulSet of broker nodes; more than one replica forms a cluster through the
 * Kubernetes peer discovery plugin.
 *
 * Cluster formation: since 4.1 the `k8s` backend never calls the Kubernetes API. It reads the
 * node's own name, `rabbit@<statefulset>-<ordinal>.<domain>`, and joins the node with ordinal 0
 * (the seed) under the same domain; the seed forms the cluster. So the node name must be the pod's
 * FQDN under the headless Service, the pods need no ServiceAccount token, and the old
 * `cluster_formation.k8s.*` keys are deprecated (4.1 ignores them with a warning). For a version
 * before 4.1 (`spec.version: 4.0.x`, `3.13.x`) the old plugin lists the headless Service's
 * Endpoints, so only then does mqop render those keys, a ServiceAccount, a Role (get endpoints,
 * create events) and a RoleBinding. Known 4.1 limit: if pod 0 loses its volume it forms a new
 * one-node cluster instead of rejoining; the others keep the old one.
 *
 * Auth: the default user comes from the credentials Secret through `RABBITMQ_DEFAULT_USER` /
 * `RABBITMQ_DEFAULT_PASS` (secretKeyRef; the server reads them itself since 3.11), so no password
 * is written into any rendered ConfigMap or Secret and no config file needs escaping. Like
 * `default_user`, it only seeds a blank node: changing the password later means `rabbitmqctl
 * change_password`. The Erlang cookie comes from the internal Secret: an init container copies it
 * to `$HOME/.erlang.cookie` with mode 0600, because Erlang refuses a group-readable cookie file and
 * the `RABBITMQ_ERLANG_COOKIE` variable is deprecated.
 *
 * Image layout assumed (docker.io/library/rabbitmq:<v>-management; a local image must match):
 * user `rabbitmq` uid/gid 999 with HOME `/var/lib/rabbitmq` (the data volume: node database under
 * `mnesia/`, the cookie, expanded plugins); server and CLI tools in `/opt/rabbitmq/sbin`; the
 * plugins `rabbitmq_management`, `rabbitmq_peer_discovery_k8s` and `rabbitmq_prometheus` in the
 * default plugins directory; `sh`, `cat`, `chmod`, `rm` and `grep` on the PATH. mqop mounts its
 * ConfigMap over `/etc/rabbitmq` (hiding the image's `conf.d` defaults) and points every
 * `RABBITMQ_*` path variable at it explicitly. The root filesystem is read-only: logs go to stdout
 * only (`RABBITMQ_LOGS=-`), `/tmp` is an emptyDir.
 */
import type { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { objectLabels } from '../api/labels.ts';
import type { RenderContext } from '../render/context.ts';
import { fileTemplate } from '../render/files.ts';
import { restrictedContainerSecurityContext } from '../render/security.ts';
import {
  componentServices,
  configHash,
  configMap,
  containerResources,
  credentialEnv,
  DATA_VOLUME,
  fieldEnv,
  keyValueLines,
  port,
  q,
  type ServicePort,
  statefulSet,
} from '../render/workload.ts';
import type { EngineModule } from './types.ts';

const AMQP_PORT = 5672;
const MANAGEMENT_PORT = 15672;
const PROMETHEUS_PORT = 15692;
const EPMD_PORT = 4369;
/** Erlang distribution (inter-node and CLI) port; pinned so probes and Services can name it. */
const DIST_PORT = 25672;
/** uid/gid of the `rabbitmq` user in the official image. */
const RABBITMQ_UID = 999;

const HOME = '/var/lib/rabbitmq';
const CONFIG_DIR = '/etc/rabbitmq';
const SBIN = '/opt/rabbitmq/sbin';
const COOKIE_DIR = '/run/mqop/erlang-cookie';
const PODINFO_DIR = '/etc/podinfo';

/** Key of the Erlang cookie in the internal Secret. */
export const ERLANG_COOKIE_KEY = 'erlang-cookie';
/** Plugins every node runs: the UI/HTTP API, cluster formation, and metrics on 15692. */
export const ENABLED_PLUGINS = ['rabbitmq_management', 'rabbitmq_peer_discovery_k8s', 'rabbitmq_prometheus'];
/**
 * A pod annotated with this set to `"true"` (e.g. `kubectl annotate pod ...`) stops without
 * waiting for quorum queues: the escape hatch when the whole cluster goes down on purpose, where
 * the wait could never succeed and would only delay deletion by the full timeout.
 */
export const SKIP_PRESTOP_ANNOTATION = 'mqop.dev/skip-prestop-checks';

/** How long the preStop hook waits for quorum queues to keep a majority without this pod. */
const QUORUM_WAIT_SECONDS = 600;
/** How long draining (moving client connections and queue leaders away) may take. */
const DRAIN_SECONDS = 120;

/** Memory defaults; the limit also sizes RabbitMQ's own memory accounting. */
const DEFAULT_MEMORY = '1Gi';

const clustered = (ctx: RenderContext) => ctx.replicas > 1;

/**
 * Whether the version predates the 4.1 rewrite of the k8s peer discovery plugin, so it still
 * queries the Kubernetes API. An unparsable version (custom tag) is treated as current.
 */
export function usesLegacyPeerDiscovery(version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major < 4 || (major === 4 && minor < 1);
}

const BINARY_SUFFIX: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL_SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** Bytes in a Kubernetes quantity (`1Gi`, `512M`, `1e9`, 1073741824); NaN when unparsable. */
export function quantityBytes(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/.exec(v.trim());
  if (!m) return Number.NaN;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? '';
  return base * (BINARY_SUFFIX[suffix] ?? DECIMAL_SUFFIX[suffix] ?? 1);
}

/**
 * RabbitMQ sizes its memory alarm from the host's RAM, not the container's limit (it does not read
 * cgroups), and would be OOM-killed first. Tell it the limit minus headroom for the Erlang VM's
 * own overhead: 20% of the limit, at most 2 GiB.
 */
function memoryAvailable(ctx: RenderContext): number | undefined {
  const limit = quantityBytes(ctx.resources?.limits?.memory ?? DEFAULT_MEMORY);
  if (!Number.isFinite(limit) || limit <= 0) return undefined;
  const bytes = Math.floor(limit - Math.min(limit * 0.2, 2 ** 31));
  return bytes > 0 ? bytes : undefined;
}

/** `rabbitmq.conf`: mqop's settings, then the user's `spec.config` (the user wins on a clash). */
export function rabbitmqConf(ctx: RenderContext): string {
  const n = ctx.names;
  const memory = memoryAvailable(ctx);
  const entries: Record<string, string> = {
    'cluster_formation.peer_discovery_backend': 'k8s',
    ...(usesLegacyPeerDiscovery(ctx.version)
      ? {
          'cluster_formation.k8s.host': 'kubernetes.default',
          'cluster_formation.k8s.address_type': 'hostname',
          'cluster_formation.k8s.service_name': n.headless,
          'cluster_formation.k8s.hostname_suffix': `.${ctx.serviceHost(n.headless)}`,
        }
      : {}),
    // A node cut off from the majority stops serving rather than diverging (split brain).
    cluster_partition_handling: 'pause_minority',
    'listeners.tcp.default': String(AMQP_PORT),
    'management.tcp.port': String(MANAGEMENT_PORT),
    'prometheus.tcp.port': String(PROMETHEUS_PORT),
    ...(memory === undefined ? {} : { total_memory_available_override_value: String(memory) }),
    ...ctx.config,
  };
  return `# Rendered by mqop for MessageQueue ${ctx.namespace}/${ctx.name}; edit spec.config instead.\n${keyValueLines(entries)}`;
}

/** Erlang-term plugin list, the format `RABBITMQ_ENABLED_PLUGINS_FILE` expects. */
const enabledPlugins = () => `[${ENABLED_PLUGINS.join(',')}].\n`;

/**
 * Init step (`sh -c`): the cookie must be a file owned by the rabbitmq user, readable by it alone.
 */
const COPY_COOKIE = fileTemplate(new URL('./files/rabbitmq/copy-cookie.sh', import.meta.url)).fill({
  HOME,
  COOKIE_DIR,
  ERLANG_COOKIE_KEY,
});

/**
 * preStop for a cluster member (`sh -c`): wait until every quorum queue and stream keeps a majority
 * without this node, then drain it (clients reconnect elsewhere, queue leaders move) before SIGTERM.
 * A timeout does not block the stop: the pod is going away either way.
 */
const PRE_STOP = fileTemplate(new URL('./files/rabbitmq/pre-stop.sh', import.meta.url)).fill({
  SKIP_PRESTOP_ANNOTATION,
  PODINFO_DIR,
  SBIN,
  QUORUM_WAIT_SECONDS,
  DRAIN_SECONDS,
});

/** RBAC for the pre-4.1 plugin: read the headless Service's Endpoints, post Events about it. */
function legacyDiscoveryRbac(chart: Chart, ctx: RenderContext): void {
  const name = ctx.names.workload;
  const labels = objectLabels(ctx, 'broker');
  new k8s.KubeServiceAccount(chart, `sa-${name}`, { metadata: { name, labels } });
  new k8s.KubeRole(chart, `role-${name}`, {
    metadata: { name, labels },
    rules: [
      { apiGroups: [''], resources: ['endpoints'], resourceNames: [ctx.names.headless], verbs: ['get'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ],
  });
  new k8s.KubeRoleBinding(chart, `rolebinding-${name}`, {
    metadata: { name, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace: ctx.namespace }],
  });
}

const CLIENT_PORTS: ServicePort[] = [
  { name: 'amqp', port: AMQP_PORT, appProtocol: 'amqp' },
  { name: 'management', port: MANAGEMENT_PORT, appProtocol: 'http' },
  { name: 'prometheus', port: PROMETHEUS_PORT, appProtocol: 'http' },
];

/** The RabbitMQ engine module. */
export const rabbitmq: EngineModule = {
  name: 'rabbitmq',
  internal: { [ERLANG_COOKIE_KEY]: (r) => Buffer.from(r).toString('hex') },
  // The cookie is copied from the Secret at every start and stored in no database: a new one
  // works once every node has restarted with it (nodes with different cookies cannot talk).
  internalRecreatable: true,

  /** `uri` targets the default vhost `/` (`%2f`); `management.url` is the HTTP API and UI. */
  binding(ctx) {
    const ep = ctx.endpoint;
    const user = encodeURIComponent(ctx.credentials.username);
    const pass = encodeURIComponent(ctx.credentials.password);
    return {
      type: 'rabbitmq',
      uri: `amqp://${user}:${pass}@${ep.host}:${ep.port}/%2f`,
      extra: {
        'virtual-host': '/',
        'management.url': `http://${ep.host}:${MANAGEMENT_PORT}`,
      },
    };
  },

  render(chart: Chart, ctx: RenderContext) {
    const n = ctx.names;
    const legacy = usesLegacyPeerDiscovery(ctx.version);
    const files = { 'rabbitmq.conf': rabbitmqConf(ctx), enabled_plugins: enabledPlugins() };
    configMap(chart, ctx, { name: n.config, component: 'config', data: files });
    if (legacy) legacyDiscoveryRbac(chart, ctx);

    const env: k8s.EnvVar[] = [
      fieldEnv('MY_POD_NAME', 'metadata.name'),
      { name: 'HOME', value: HOME },
      // Long names: the node is addressed by its stable FQDN, which 4.1 discovery also parses.
      { name: 'RABBITMQ_USE_LONGNAME', value: 'true' },
      { name: 'RABBITMQ_NODENAME', value: `rabbit@$(MY_POD_NAME).${ctx.serviceHost(n.headless)}` },
      { name: 'RABBITMQ_MNESIA_BASE', value: `${HOME}/mnesia` },
      { name: 'RABBITMQ_CONFIG_FILE', value: `${CONFIG_DIR}/rabbitmq.conf` },
      // No additional files and no advanced.config: rabbitmq.conf is the whole configuration.
      { name: 'RABBITMQ_CONFIG_FILES', value: `${CONFIG_DIR}/conf.d` },
      { name: 'RABBITMQ_ADVANCED_CONFIG_FILE', value: `${CONFIG_DIR}/advanced.config` },
      { name: 'RABBITMQ_ENABLED_PLUGINS_FILE', value: `${CONFIG_DIR}/enabled_plugins` },
      { name: 'RABBITMQ_DIST_PORT', value: String(DIST_PORT) },
      // Log to stdout only. The variable overrides any `log.file` in spec.config, which could not
      // work on the read-only root filesystem anyway.
      { name: 'RABBITMQ_LOGS', value: '-' },
      // Exec the Erlang VM directly, so SIGTERM reaches it and it shuts down cleanly.
      { name: 'RUNNING_UNDER_SYSTEMD', value: 'true' },
      // A crash dump is worth keeping, and the data volume is the only writable place that lasts.
      { name: 'ERL_CRASH_DUMP', value: `${HOME}/erl_crash.dump` },
      credentialEnv(ctx, 'RABBITMQ_DEFAULT_USER', 'username'),
      credentialEnv(ctx, 'RABBITMQ_DEFAULT_PASS', 'password'),
    ];
    const volumes: k8s.Volume[] = [
      { name: 'config', configMap: { name: n.config, defaultMode: 0o444 } },
      {
        name: 'erlang-cookie',
        secret: {
          secretName: n.internal,
          items: [{ key: ERLANG_COOKIE_KEY, path: ERLANG_COOKIE_KEY }],
          defaultMode: 0o400,
        },
      },
      { name: 'tmp', emptyDir: { sizeLimit: q('64Mi') } },
      ...(clustered(ctx)
        ? [
            {
              name: 'podinfo',
              downwardApi: {
                items: [{ path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }],
              },
            },
          ]
        : []),
    ];

    statefulSet(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      persistent: true,
      uid: RABBITMQ_UID,
      serviceAccountName: legacy ? n.workload : undefined,
      annotations: {
        'mqop.dev/config-hash': configHash(files),
        'kubectl.kubernetes.io/default-container': 'rabbitmq',
      },
      // A cluster member may wait for quorum and drain in preStop before the broker's own stop.
      terminationGracePeriodSeconds: clustered(ctx) ? QUORUM_WAIT_SECONDS + DRAIN_SECONDS + 180 : 120,
      volumes,
      initContainers: [
        {
          name: 'erlang-cookie',
          image: ctx.image,
          command: ['sh', '-c', COPY_COOKIE],
          resources: {
            requests: { cpu: q('10m'), memory: q('16Mi') },
            limits: { memory: q('32Mi') },
          },
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: DATA_VOLUME, mountPath: HOME },
            { name: 'erlang-cookie', mountPath: COOKIE_DIR, readOnly: true },
          ],
        },
      ],
      containers: [
        {
          name: 'rabbitmq',
          image: ctx.image,
          command: [`${SBIN}/rabbitmq-server`],
          env,
          ports: [
            { name: 'amqp', containerPort: AMQP_PORT, protocol: 'TCP' },
            { name: 'management', containerPort: MANAGEMENT_PORT, protocol: 'TCP' },
            { name: 'prometheus', containerPort: PROMETHEUS_PORT, protocol: 'TCP' },
            { name: 'epmd', containerPort: EPMD_PORT, protocol: 'TCP' },
            { name: 'dist', containerPort: DIST_PORT, protocol: 'TCP' },
          ],
          resources: containerResources(ctx, {
            requests: { cpu: '250m', memory: DEFAULT_MEMORY },
            limits: { memory: DEFAULT_MEMORY },
          }),
          // The distribution port opens as soon as the Erlang VM runs; a first boot on a slow node
          // (or waiting for peers' tables after a full restart) may still take minutes.
          startupProbe: {
            tcpSocket: { port: port(DIST_PORT) },
            periodSeconds: 5,
            timeoutSeconds: 5,
            failureThreshold: 60,
          },
          // Liveness checks the VM, not AMQP: a node paused in a network partition closes its
          // listeners on purpose and must not be restarted for it.
          livenessProbe: {
            tcpSocket: { port: port(DIST_PORT) },
            periodSeconds: 10,
            timeoutSeconds: 5,
            failureThreshold: 6,
          },
          // Ready once the broker accepts AMQP, i.e. booted, clustered and not paused.
          readinessProbe: {
            tcpSocket: { port: port(AMQP_PORT) },
            initialDelaySeconds: 10,
            periodSeconds: 10,
            timeoutSeconds: 5,
            failureThreshold: 3,
          },
          ...(clustered(ctx)
            ? { lifecycle: { preStop: { exec: { command: ['sh', '-c', PRE_STOP] } } } }
            : {}),
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: DATA_VOLUME, mountPath: HOME },
            { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
            ...(clustered(ctx) ? [{ name: 'podinfo', mountPath: PODINFO_DIR, readOnly: true }] : []),
          ],
        },
      ],
    });

    componentServices(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      ports: CLIENT_PORTS,
      peerPorts: [
        { name: 'epmd', port: EPMD_PORT },
        { name: 'dist', port: DIST_PORT },
      ],
    });
  },
};
