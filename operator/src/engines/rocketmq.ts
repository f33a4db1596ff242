/**
 * Apache RocketMQ 5.3. Two StatefulSets: the name servers (`<cr>-rocketmq-namesrv`, one pod for a
 * single broker, two otherwise, no state worth keeping) and the brokers (`<cr>-rocketmq`, one pod
 * per replica). Every broker pod is its own broker group: `brokerName` is the pod name, `brokerId`
 * 0, `brokerRole` ASYNC_MASTER, its own store on its own volume. More replicas spread queues over
 * more groups; there is no replication between groups (a lost volume loses that group's messages).
 *
 * Proxy: each broker runs the 5.x proxy in LOCAL mode, in the same JVM (what `mqbroker
 * --enable-proxy` does: `ProxyStartup -pm local -bc <broker.conf> -pc <rmq-proxy.json>`). Clients
 * use gRPC on 8081 (remoting on 8080 for remoting-protocol clients through the proxy); the broker
 * itself listens on 10911. The client Service spreads first connections; a gRPC client then gets
 * the topic route from the proxy, which names each broker group by `brokerIP1:8081`.
 *
 * Addresses:
 * - `namesrvAddr` is the list of per-pod FQDNs of the name servers (`;`-separated), not their
 *   Service: name servers do not share state, a broker must register with every one of them, and a
 *   Service would pin each broker to a single, random name server. Client applications may use the
 *   name server Service (`namesrv.addr` in the binding), since every name server knows every broker.
 *   The JVM DNS cache is cut to 10 s so a restarted name server (new pod IP) is found again soon.
 * - `brokerIP1` is the pod IP (downward API). It is what the broker registers and what the proxy
 *   hands to gRPC clients as the group's endpoint, so it must be reachable from clients: fine inside
 *   the cluster; clients outside it (LoadBalancer Service) reach the first proxy but not the per-pod
 *   route, a known limit of local mode. The pod IP is used instead of the pod DNS name because the
 *   route is parsed as `host:port` and RocketMQ itself defaults to an IP; a restarted pod
 *   re-registers its new IP under the same `brokerName` within seconds.
 *
 * Auth (ACL 2.0, on): the broker authenticates and authorizes (`authenticationEnabled`,
 * `authorizationEnabled`, local RocksDB metadata under `<store>/config`), the in-JVM proxy checks
 * gRPC/remoting clients against the broker's user store (`Proxy*MetadataProvider`). The user from
 * the credentials Secret is created once as a super user through `initAuthenticationUser`;
 * `innerClientAuthenticationCredentials` is a second super user, `mqop-inner`, with a generated
 * secret (internal key `inner-secret-key`) that the broker signs its own outgoing requests with.
 * Both values live in a Secret (`broker-credentials.conf`), escaped for JSON and for Java
 * properties; start concatenates it with the ConfigMap's `broker.conf` into a memory-backed
 * emptyDir. Like every "init" user, it only seeds an empty store: changing the password later needs
 * `mqadmin updateUser` (the pod annotation hashes only non-secret config, so a rotated Secret alone
 * does not restart anything). The name server has no authentication in 5.3: anyone who can reach
 * 9876 can read routes; use `spec.networkPolicy`.
 *
 * Image layout assumed (docker.io/apache/rocketmq:<v>, built from apache/rocketmq-docker
 * Dockerfile-ubuntu; a local image must match): user `rocketmq` uid/gid 3000, HOME
 * `/home/rocketmq`, the distribution in `$ROCKETMQ_HOME` = `/home/rocketmq/rocketmq-<version>`
 * (the start scripts use the image's `ROCKETMQ_HOME` when set, else that path) with jars in `lib/`,
 * `java` at `$JAVA_HOME/bin/java` or on the PATH (Java 8+), `sh` and `cat`. The scripts
 * exec `java` directly rather than `mqbroker`/`mqnamesrv`: those wrappers run `runbroker.sh` as a
 * child without `exec` (SIGTERM never reaches the JVM, so no graceful shutdown), and hard-code the
 * heap (`-Xms8g -Xmx8g` upstream, `HEAP_OPTS` defaulting to 2g in the image). Heap and direct
 * memory are sized from the container memory limit (downward API): broker 40 % heap + 20 % direct
 * memory (the rest is metaspace, threads, RocksDB and the page cache the commit log lives on),
 * name server 50 % heap. Logging goes to stdout through a console-only logback file.
 *
 * Writable paths (the root filesystem is read-only): `/home/rocketmq/store` (data volume:
 * `storePathRootDir`), `/home/rocketmq/run` (generated broker.conf, memory), `/home/rocketmq/logs`
 * (RocksDB's own LOG files of the ACL stores, which bypass logback) and `/home/rocketmq/namesrv`
 * (the name server's KV config), `/tmp` (RocksDB and netty native libraries, the proxy's
 * self-signed TLS certificate, JVM perf data). The store is never memory-backed: RocksDB opens it
 * with O_DIRECT, which tmpfs refuses on older kernels.
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
  DATA_VOLUME,
  fieldEnv,
  propertiesLines,
  q,
  secret,
  statefulSet,
  tcpProbe,
} from '../render/workload.ts';
import type { EngineModule } from './types.ts';

const NAMESRV_PORT = 9876;
const BROKER_PORT = 10911;
const GRPC_PORT = 8081;
const REMOTING_PROXY_PORT = 8080;
/** uid/gid of the `rocketmq` user in the apache/rocketmq image. */
const ROCKETMQ_UID = 3000;
const HOME = '/home/rocketmq';
const STORE_DIR = `${HOME}/store`;
const RUN_DIR = `${HOME}/run`;
const CONF_DIR = '/etc/rocketmq/conf';
const SECRET_DIR = '/etc/rocketmq/secret';
/** Access key of the broker's own super user for its outgoing requests. */
export const INNER_ACCESS_KEY = 'mqop-inner';
/** Key in the internal Secret holding that user's secret key. */
export const INNER_SECRET_KEY = 'inner-secret-key';
const CREDENTIALS_FILE = 'broker-credentials.conf';

/** One name server for a single broker; two otherwise, so a name server restart loses no routes. */
export const namesrvReplicas = (ctx: RenderContext): number => (ctx.replicas > 1 ? 2 : 1);

/** The RocketMQ cluster name: the MessageQueue's name, so `mqadmin -c` reads naturally. */
const clusterName = (ctx: RenderContext) => ctx.name;

/** `host:9876;host:9876`: every name server pod, by its stable DNS name. */
export function namesrvAddr(ctx: RenderContext): string {
  const n = ctx.names;
  return Array.from(
    { length: namesrvReplicas(ctx) },
    (_, i) => `${ctx.podHost(n.companion, n.companionHeadless, i)}:${NAMESRV_PORT}`,
  ).join(';');
}

/** broker.conf without secrets and without the per-pod lines that start appends. */
export function brokerConf(ctx: RenderContext): string {
  const defaults: Record<string, string> = {
    flushDiskType: 'ASYNC_FLUSH',
    // Keep 25 % of the volume free; the broker deletes the oldest commit log files first.
    diskMaxUsedSpaceRatio: '75',
  };
  const managed: Record<string, string> = {
    brokerClusterName: clusterName(ctx),
    brokerId: '0',
    brokerRole: 'ASYNC_MASTER',
    listenPort: String(BROKER_PORT),
    namesrvAddr: namesrvAddr(ctx),
    storePathRootDir: STORE_DIR,
    storePathCommitLog: `${STORE_DIR}/commitlog`,
    authenticationEnabled: 'true',
    authenticationProvider: 'org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider',
    authenticationMetadataProvider:
      'org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider',
    authorizationEnabled: 'true',
    authorizationProvider: 'org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider',
    authorizationMetadataProvider:
      'org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider',
  };
  // Defaults, then the user's spec.config, then mqop's keys: a key the policy refuses (say, from
  // a cluster whose CRD is older than this operator) can never replace one of mqop's.
  return propertiesLines({ ...defaults, ...ctx.config, ...managed });
}

/** The credential lines of broker.conf: they go into a Secret, never the ConfigMap. */
export function brokerCredentialsConf(ctx: RenderContext): string {
  const { username, password } = ctx.credentials;
  return propertiesLines({
    initAuthenticationUser: JSON.stringify({ username, password }),
    innerClientAuthenticationCredentials: JSON.stringify({
      accessKey: INNER_ACCESS_KEY,
      secretKey: ctx.internal[INNER_SECRET_KEY] ?? '',
    }),
  });
}

/** rmq-proxy.json for the local-mode proxy: ports and auth through the broker's user store. */
export function proxyConfig(ctx: RenderContext): string {
  const conf = {
    rocketMQClusterName: clusterName(ctx),
    proxyMode: 'local',
    namesrvAddr: namesrvAddr(ctx),
    grpcServerPort: GRPC_PORT,
    remotingListenPort: REMOTING_PROXY_PORT,
    authenticationEnabled: true,
    authenticationProvider: 'org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider',
    authenticationMetadataProvider: 'org.apache.rocketmq.proxy.auth.ProxyAuthenticationMetadataProvider',
    authorizationEnabled: true,
    authorizationProvider: 'org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider',
    authorizationMetadataProvider: 'org.apache.rocketmq.proxy.auth.ProxyAuthorizationMetadataProvider',
  };
  return `${JSON.stringify(conf, null, 2)}\n`;
}

/** Console-only logging: `kubectl logs` shows everything and nothing fills the pod's disk. */
const LOGBACK_XML = `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %p [%t] %c{0} - %m%n</pattern>
    </encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="STDOUT"/>
  </root>
</configuration>
`;

/**
 * Start script of both processes (`files/rocketmq/start.sh`): locate the distribution and java,
 * size the heap from the memory limit (MiB, downward API) with a floor so a tiny limit still
 * starts, run `prepare` (shell lines, may be empty), then exec `java` with the shared options, the
 * extra memory options and the main class with its arguments.
 */
const START = fileTemplate(new URL('./files/rocketmq/start.sh', import.meta.url));
/** The broker's `prepare`: direct memory size, per-pod broker.conf (name, IP) in `$conf`. */
const BROKER_CONF = fileTemplate(new URL('./files/rocketmq/broker-conf.sh', import.meta.url));

function startScript(
  ctx: RenderContext,
  heapPercent: number,
  run: { prepare: string; memoryOptions: string; main: string },
): string {
  return START.fill({
    HOME,
    VERSION: ctx.version,
    HEAP_PERCENT: heapPercent,
    CONF_DIR,
    PREPARE: run.prepare,
    MEMORY_OPTIONS: run.memoryOptions,
    MAIN: run.main,
  });
}

/** Broker start: per-pod broker.conf on a memory emptyDir, then broker + local proxy. */
function brokerStart(ctx: RenderContext): string {
  return startScript(ctx, 40, {
    prepare: BROKER_CONF.fill({ RUN_DIR, CONF_DIR, SECRET_DIR, CREDENTIALS_FILE }),
    // Shell words: `direct` and `conf` are set by broker-conf.sh.
    memoryOptions: `-XX:MaxDirectMemorySize=\${direct}m `,
    main: `org.apache.rocketmq.proxy.ProxyStartup -pm local -pc ${CONF_DIR}/rmq-proxy.json -bc "$conf"`,
  });
}

/** Name server start: nothing to configure beyond the defaults (port 9876). */
function namesrvStart(ctx: RenderContext): string {
  return startScript(ctx, 50, {
    prepare: '',
    memoryOptions: '',
    main: 'org.apache.rocketmq.namesrv.NamesrvStartup',
  });
}

/** MEMORY_LIMIT_MB from the container's own memory limit. */
const memoryLimitEnv = (container: string): k8s.EnvVar => ({
  name: 'MEMORY_LIMIT_MB',
  valueFrom: { resourceFieldRef: { containerName: container, resource: 'limits.memory', divisor: q('1Mi') } },
});

/** An emptyDir; `sizeLimit` undefined means none (see the broker's `logs`). */
const scratch = (name: string, sizeLimit: string | undefined, memory = false): k8s.Volume => ({
  name,
  emptyDir: {
    medium: memory ? 'Memory' : undefined,
    sizeLimit: sizeLimit === undefined ? undefined : q(sizeLimit),
  },
});

export const rocketmq: EngineModule = {
  name: 'rocketmq',
  internal: {
    [INNER_SECRET_KEY]: (r) => Buffer.from(r).toString('hex'),
  },

  binding(ctx) {
    const ep = ctx.endpoint;
    return {
      type: 'rocketmq',
      uri: ep.url,
      extra: {
        'namesrv.addr': `${ctx.serviceHost(ctx.names.companion)}:${NAMESRV_PORT}`,
        'grpc.endpoint': `${ep.host}:${GRPC_PORT}`,
        'cluster.name': clusterName(ctx),
      },
    };
  },

  render(chart: Chart, ctx: RenderContext) {
    const n = ctx.names;
    const files = {
      'broker.conf': brokerConf(ctx),
      'rmq-proxy.json': proxyConfig(ctx),
      'logback.xml': LOGBACK_XML,
      'start-broker.sh': brokerStart(ctx),
      'start-namesrv.sh': namesrvStart(ctx),
    };
    configMap(chart, ctx, { name: n.config, component: 'config', data: files });
    secret(chart, ctx, {
      name: n.configSecret,
      component: 'config',
      data: { [CREDENTIALS_FILE]: brokerCredentialsConf(ctx) },
    });
    const hash = configHash(files);
    const configVolume: k8s.Volume = { name: 'config', configMap: { name: n.config, defaultMode: 0o444 } };
    const configMount: k8s.VolumeMount = { name: 'config', mountPath: CONF_DIR, readOnly: true };

    // Name servers: stateless (routes are rebuilt from broker heartbeats within 30 s).
    const namesrvs = namesrvReplicas(ctx);
    statefulSet(chart, ctx, {
      name: n.companion,
      headless: n.companionHeadless,
      component: 'namesrv',
      replicas: namesrvs,
      persistent: false,
      uid: ROCKETMQ_UID,
      annotations: { 'mqop.dev/config-hash': hash },
      terminationGracePeriodSeconds: 30,
      volumes: [configVolume, scratch('namesrv', '16Mi'), scratch('logs', '64Mi'), scratch('tmp', '64Mi')],
      containers: [
        {
          name: 'namesrv',
          image: ctx.image,
          command: ['sh', `${CONF_DIR}/start-namesrv.sh`],
          env: [memoryLimitEnv('namesrv')],
          ports: [{ name: 'namesrv', containerPort: NAMESRV_PORT, protocol: 'TCP' }],
          // spec.resources is for the broker container; the name server keeps its own defaults.
          resources: {
            requests: { cpu: q('100m'), memory: q('512Mi') },
            limits: { memory: q('512Mi') },
          },
          startupProbe: tcpProbe(NAMESRV_PORT, 2, 60, 3),
          readinessProbe: tcpProbe(NAMESRV_PORT, 5, 3, 3),
          livenessProbe: tcpProbe(NAMESRV_PORT, 10, 6, 3),
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            configMount,
            { name: 'namesrv', mountPath: `${HOME}/namesrv` },
            { name: 'logs', mountPath: `${HOME}/logs` },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
    });
    componentServices(chart, ctx, {
      name: n.companion,
      headless: n.companionHeadless,
      component: 'namesrv',
      replicas: namesrvs,
      ports: [{ name: 'namesrv', port: NAMESRV_PORT }],
    });

    // Brokers: one broker group per pod, each with its own store and local-mode proxy.
    statefulSet(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      persistent: true,
      uid: ROCKETMQ_UID,
      annotations: { 'mqop.dev/config-hash': hash },
      // The proxy drains gRPC calls for up to 30 s, then the broker flushes and unregisters.
      terminationGracePeriodSeconds: 60,
      volumes: [
        configVolume,
        { name: 'credentials', secret: { secretName: n.configSecret, defaultMode: 0o440 } },
        scratch('run', '1Mi', true),
        // RocksDB writes the info LOG of the ACL user/ACL stores here whatever logback says. It grows
        // by a few MiB a day and RocksDB rotates it only at 1 GiB (5 kept): a sizeLimit would evict
        // the pod after weeks, so this one has none.
        scratch('logs', undefined),
        // RocksDB and netty extract their native libraries here; the proxy writes its test TLS pair.
        scratch('tmp', '256Mi'),
      ],
      containers: [
        {
          name: 'broker',
          image: ctx.image,
          command: ['sh', `${CONF_DIR}/start-broker.sh`],
          env: [
            fieldEnv('POD_NAME', 'metadata.name'),
            fieldEnv('POD_IP', 'status.podIP'),
            memoryLimitEnv('broker'),
          ],
          ports: [
            { name: 'grpc', containerPort: GRPC_PORT, protocol: 'TCP' },
            { name: 'remoting', containerPort: REMOTING_PROXY_PORT, protocol: 'TCP' },
            { name: 'broker', containerPort: BROKER_PORT, protocol: 'TCP' },
          ],
          resources: containerResources(ctx, {
            requests: { cpu: '500m', memory: '2Gi' },
            limits: { memory: '2Gi' },
          }),
          // The proxy opens 8081 only after the broker has recovered its store: allow 10 minutes.
          startupProbe: tcpProbe(GRPC_PORT, 5, 120, 3),
          readinessProbe: tcpProbe(GRPC_PORT, 5, 3, 3),
          livenessProbe: tcpProbe(GRPC_PORT, 10, 6, 3),
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: DATA_VOLUME, mountPath: STORE_DIR },
            configMount,
            { name: 'credentials', mountPath: SECRET_DIR, readOnly: true },
            { name: 'run', mountPath: RUN_DIR },
            { name: 'logs', mountPath: `${HOME}/logs` },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
    });
    componentServices(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      ports: [
        { name: 'grpc', port: GRPC_PORT },
        { name: 'remoting', port: REMOTING_PROXY_PORT },
      ],
      peerPorts: [{ name: 'broker', port: BROKER_PORT }],
    });
  },
};
