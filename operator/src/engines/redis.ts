/**
 * Redis. One replica: a standalone server. More: pod 0 starts as primary, the others as its
 * replicas, and three Sentinels watch them and fail over. Clients of a replicated Redis go through
 * Sentinel (`redis+sentinel://`), because any pod may become primary.
 *
 * Auth: the generated `redis.conf` includes a base file from a ConfigMap and adds, at start, from the
 * credentials Secret (env), so no password lands in a ConfigMap: an ACL user with the Secret's
 * username and password (what clients and the connection Secret use), and `requirepass` /
 * `masterauth` for the `default` user (probes, replication and Sentinel use that one).
 */
import type { Chart } from 'cdk8s';
import type { k8s } from 'cdk8s-plus-34';
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
  port,
  q,
  statefulSet,
} from '../render/workload.ts';
import type { EngineModule } from './types.ts';

const REDIS_PORT = 6379;
const SENTINEL_PORT = 26379;
/** Sentinel master group name, also in the connection Secret. */
export const SENTINEL_MASTER = 'mymaster';
const SENTINELS = 3;
/** uid/gid of the `redis` user in the official image. */
const REDIS_UID = 999;

const replicated = (ctx: RenderContext) => ctx.replicas > 1;

/** Base redis.conf: everything but secrets and the per-pod replication lines. */
export function baseRedisConf(ctx: RenderContext): string {
  const persistent = !ctx.storage.ephemeral;
  const lines: Record<string, string> = {
    bind: '* -::*',
    port: String(REDIS_PORT),
    dir: '/data',
    'protected-mode': 'no',
    appendonly: persistent ? 'yes' : 'no',
    save: persistent ? '"3600 1 300 100 60 10000"' : '""',
    'replica-read-only': 'yes',
    'tcp-keepalive': '60',
    ...ctx.config,
  };
  return `${Object.entries(lines)
    .map(([k, v]) => `${k} ${v}`)
    .join('\n')}\n`;
}

const START_REDIS = fileTemplate(new URL('./files/redis/start-redis.sh', import.meta.url));
/** Inserted into start-redis.sh before the `exec` when Sentinels watch the pods. */
const START_REDIS_REPLICATION = fileTemplate(
  new URL('./files/redis/start-redis-replication.sh', import.meta.url),
);
const START_SENTINEL = fileTemplate(new URL('./files/redis/start-sentinel.sh', import.meta.url));

/**
 * Start script for a Redis pod. It asks the Sentinels who the primary is; with no answer, pod 0
 * is primary. Passwords come from env and are written to a file on an emptyDir, never argv.
 */
function redisStart(ctx: RenderContext): string {
  const n = ctx.names;
  const HEADLESS_HOST = ctx.serviceHost(n.headless);
  const REPLICATION = replicated(ctx)
    ? START_REDIS_REPLICATION.fill({
        HEADLESS_HOST,
        SENTINEL_HOST: ctx.serviceHost(n.companion),
        SENTINEL_PORT,
        SENTINEL_MASTER,
        FIRST_POD_HOST: ctx.podHost(n.workload, n.headless, 0),
        REDIS_PORT,
      })
    : '';
  return START_REDIS.fill({ HEADLESS_HOST, REPLICATION });
}

/** Start script for a Sentinel: find the current primary, write a writable sentinel.conf. */
function sentinelStart(ctx: RenderContext): string {
  const n = ctx.names;
  return START_SENTINEL.fill({
    SENTINEL_HOST: ctx.serviceHost(n.companion),
    SENTINEL_HEADLESS_HOST: ctx.serviceHost(n.companionHeadless),
    SENTINEL_PORT,
    SENTINEL_MASTER,
    FIRST_POD_HOST: ctx.podHost(n.workload, n.headless, 0),
    REDIS_PORT,
    QUORUM: Math.floor(SENTINELS / 2) + 1,
  });
}

const pingProbe = (p: number, seconds: number, failures: number): k8s.Probe => ({
  exec: { command: ['sh', '-c', `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p ${p} ping | grep -q PONG`] },
  periodSeconds: seconds,
  timeoutSeconds: 5,
  failureThreshold: failures,
});

export const redis: EngineModule = {
  name: 'redis',
  internal: {},

  binding(ctx) {
    const ep = ctx.endpoint;
    // User and password: `redis-cli -u "$uri"` sends `AUTH <user> <password>`; with no user in
    // the URI it sent an empty user name, which Redis refuses (WRONGPASS).
    const user = encodeURIComponent(ctx.credentials.username);
    const pw = encodeURIComponent(ctx.credentials.password);
    if (replicated(ctx)) {
      return {
        type: 'redis',
        uri: `redis+sentinel://${user}:${pw}@${ep.host}:${ep.port}/${SENTINEL_MASTER}`,
        extra: { 'sentinel.master': SENTINEL_MASTER, 'sentinel.nodes': `${ep.host}:${ep.port}` },
      };
    }
    return { type: 'redis', uri: `redis://${user}:${pw}@${ep.host}:${ep.port}` };
  },

  render(chart: Chart, ctx: RenderContext) {
    const n = ctx.names;
    const files = {
      'redis.conf': baseRedisConf(ctx),
      'start-redis.sh': redisStart(ctx),
      ...(replicated(ctx) ? { 'start-sentinel.sh': sentinelStart(ctx) } : {}),
    };
    configMap(chart, ctx, { name: n.config, component: 'config', data: files });
    const hash = configHash(files);
    const env: k8s.EnvVar[] = [
      fieldEnv('POD_NAME', 'metadata.name'),
      credentialEnv(ctx, 'REDIS_USERNAME', 'username'),
      credentialEnv(ctx, 'REDIS_PASSWORD', 'password'),
    ];
    const volumes: k8s.Volume[] = [
      { name: 'config', configMap: { name: n.config, defaultMode: 0o555 } },
      { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: q('16Mi') } },
    ];

    statefulSet(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      persistent: true,
      uid: REDIS_UID,
      annotations: { 'mqop.dev/config-hash': hash },
      terminationGracePeriodSeconds: 30,
      volumes,
      containers: [
        {
          name: 'redis',
          image: ctx.image,
          command: ['sh', '/etc/redis/base/start-redis.sh'],
          env,
          ports: [{ name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' }],
          resources: containerResources(ctx, {
            requests: { cpu: '100m', memory: '256Mi' },
            limits: { memory: '1Gi' },
          }),
          readinessProbe: { ...pingProbe(REDIS_PORT, 5, 3), initialDelaySeconds: 3 },
          livenessProbe: {
            tcpSocket: { port: port(REDIS_PORT) },
            initialDelaySeconds: 15,
            periodSeconds: 10,
            failureThreshold: 6,
          },
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: DATA_VOLUME, mountPath: '/data' },
            { name: 'config', mountPath: '/etc/redis/base', readOnly: true },
            { name: 'run', mountPath: '/run/redis' },
          ],
        },
      ],
    });
    // Clients of a replicated Redis go through Sentinel: the brokers get no client Service.
    componentServices(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      ports: [{ name: 'redis', port: REDIS_PORT, appProtocol: 'redis' }],
      client: !replicated(ctx),
    });
    if (!replicated(ctx)) return;

    statefulSet(chart, ctx, {
      name: n.companion,
      headless: n.companionHeadless,
      component: 'sentinel',
      replicas: SENTINELS,
      persistent: false,
      uid: REDIS_UID,
      annotations: { 'mqop.dev/config-hash': hash },
      volumes: [
        { name: 'config', configMap: { name: n.config, defaultMode: 0o555 } },
        { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: q('16Mi') } },
      ],
      containers: [
        {
          name: 'sentinel',
          image: ctx.image,
          command: ['sh', '/etc/redis/base/start-sentinel.sh'],
          env,
          ports: [{ name: 'sentinel', containerPort: SENTINEL_PORT, protocol: 'TCP' }],
          resources: containerResources(ctx, {
            requests: { cpu: '50m', memory: '64Mi' },
            limits: { memory: '128Mi' },
          }),
          readinessProbe: { ...pingProbe(SENTINEL_PORT, 5, 3), initialDelaySeconds: 3 },
          livenessProbe: {
            tcpSocket: { port: port(SENTINEL_PORT) },
            initialDelaySeconds: 15,
            periodSeconds: 10,
          },
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: 'config', mountPath: '/etc/redis/base', readOnly: true },
            { name: 'run', mountPath: '/run/sentinel' },
          ],
        },
      ],
    });
    componentServices(chart, ctx, {
      name: n.companion,
      headless: n.companionHeadless,
      component: 'sentinel',
      replicas: SENTINELS,
      ports: [{ name: 'sentinel', port: SENTINEL_PORT }],
    });
  },
};
