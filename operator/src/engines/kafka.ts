/**
 * Apache Kafka in KRaft combined mode: every pod is both broker and controller
 * (`process.roles=broker,controller`), `node.id` is the pod ordinal, and the voters are all pods
 * (static quorum, see below). No ZooKeeper.
 *
 * Image layout assumed (upstream `docker.io/apache/kafka` and any image that copies a Kafka
 * distribution the same way): Kafka at `/opt/kafka` with its scripts in `/opt/kafka/bin` (they
 * need `bash`), a `sh`, user `appuser` uid/gid 1000. The image's own `/etc/kafka/docker/run`
 * launcher is not used: the pod runs `sh /etc/kafka/mqop/start.sh` from the ConfigMap, which
 * writes the per-pod `server.properties` into a memory emptyDir, formats the log directory on
 * first start and `exec`s `/opt/kafka/bin/kafka-server-start.sh`. Data lives in
 * `/var/lib/kafka/data/logs` (a subdirectory, so a volume's `lost+found` never looks like a
 * partition). The root filesystem is read-only; `/tmp` (JVM scratch, Kafka's `LOG_DIR`) and
 * `/run/kafka` (generated files with passwords) are emptyDirs. Logs go to stdout only.
 *
 * Listeners, all SASL over plain TCP (TLS is not in scope yet):
 * - CLIENT :9092, SCRAM-SHA-512: applications, with the user from the credentials Secret. Each
 *   pod advertises `<pod>.<headless>...:9092`, so clients bootstrap through the client Service
 *   and then talk to each broker by its stable name.
 * - REPLICATION :9094, SCRAM-SHA-512: broker-to-broker traffic, as the internal principal
 *   `mqop-cluster` whose password the controller generates (`cluster-password`). A separate
 *   listener and principal keep replication independent of the application credentials: a
 *   changed credentials Secret can never cut replication, and client-facing listener settings
 *   can change without touching inter-broker traffic.
 * - CONTROLLER :9093, SASL/PLAIN with the same internal principal. SCRAM credentials live in the
 *   metadata log that the controllers themselves serve, so Kafka cannot use SCRAM here; PLAIN
 *   with a static JAAS user is what KRaft supports. It is not left unauthenticated because the
 *   controller listener accepts admin requests (`--bootstrap-controller`: alter configs, change
 *   the quorum) from anyone who can connect.
 * Both the application user and `mqop-cluster` are `super.users`; the StandardAuthorizer is on
 * by default, so further users need ACLs.
 *
 * Credentials: the password never lands in a ConfigMap or in the pod spec; the start script reads
 * it from env (secretKeyRef). It seeds both SCRAM users into the bootstrap metadata when it
 * formats storage (`kafka-storage.sh format --add-scram`), and on every start re-applies the
 * application user's credential through the admin API, so a changed credentials Secret takes
 * effect at the next pod restart. Kafka's `--add-scram` parser splits on commas, so the start
 * script refuses passwords with a comma (and usernames outside `[A-Za-z0-9._@-]`) with a clear
 * message instead of formatting a broken credential.
 *
 * Quorum: static (`controller.quorum.voters`, fixed for kraft.version 0). KRaft 3.9 cannot change
 * a static voter set online, so changing `replicas` (1 -> 3) rewrites the voters of every pod at
 * once. The danger is that new, empty pods elect a leader among themselves and start a second
 * history under the same cluster id, which the old pod would then truncate to. The start script
 * therefore refuses to format a fresh pod when a running quorum answers whose voters do not
 * include it: the StatefulSet then waits on the new pods while the old ones keep serving, and the
 * user sets `replicas` back (or recreates the MessageQueue with the new size). Dynamic quorum
 * (KIP-853) would allow growing the quorum, but in 3.9 every new controller must be added with
 * `kafka-metadata-quorum add-controller` and removed before scale-down, which a pure renderer
 * cannot sequence; it is the way to go once mqop upgrades to Kafka 4.x with auto-join.
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
  propertiesLines,
  q,
  statefulSet,
} from '../render/workload.ts';
import type { EngineModule } from './types.ts';

const START_SCRIPT = fileTemplate(new URL('./files/kafka/start.sh', import.meta.url));
const READY_SCRIPT = fileTemplate(new URL('./files/kafka/ready.sh', import.meta.url));

export const CLIENT_PORT = 9092;
export const CONTROLLER_PORT = 9093;
export const REPLICATION_PORT = 9094;
/** uid/gid of `appuser` in the upstream image. */
const KAFKA_UID = 1000;
/** The internal principal used between brokers and controllers. */
export const CLUSTER_PRINCIPAL = 'mqop-cluster';
/** Keys of the controller-generated internal Secret this engine reads. */
export const CLUSTER_ID_KEY = 'cluster-id';
export const CLUSTER_PASSWORD_KEY = 'cluster-password';

const KAFKA_HOME = '/opt/kafka';
const CONFIG_DIR = '/etc/kafka/mqop';
const RUN_DIR = '/run/kafka';
const DATA_DIR = '/var/lib/kafka/data';
/** Kafka's log.dirs: a subdirectory of the data volume. */
export const LOG_DIRS = `${DATA_DIR}/logs`;

const SCRAM = 'SCRAM-SHA-512';
const SCRAM_LOGIN = 'org.apache.kafka.common.security.scram.ScramLoginModule';
const PLAIN_LOGIN = 'org.apache.kafka.common.security.plain.PlainLoginModule';

/** Per-pod client address: `<pod>.<headless>.<ns>.svc.<domain>:9092`, for every ordinal. */
export function bootstrapServers(ctx: RenderContext): string[] {
  return Array.from(
    { length: ctx.replicas },
    (_, i) => `${ctx.podHost(ctx.names.workload, ctx.names.headless, i)}:${CLIENT_PORT}`,
  );
}

/** `0@<pod-0>:9093,1@<pod-1>:9093,...`: every pod is a voter. */
export function quorumVoters(ctx: RenderContext): string {
  return Array.from(
    { length: ctx.replicas },
    (_, i) => `${i}@${ctx.podHost(ctx.names.workload, ctx.names.headless, i)}:${CONTROLLER_PORT}`,
  ).join(',');
}

/**
 * Replication defaults that follow the cluster size: one pod can only keep one copy; three or
 * more keep three copies and accept writes while one broker is down.
 */
function replicationDefaults(replicas: number): Record<string, string> {
  const factor = String(Math.min(replicas, 3));
  const minIsr = replicas >= 3 ? '2' : '1';
  return {
    'default.replication.factor': factor,
    'offsets.topic.replication.factor': factor,
    'transaction.state.log.replication.factor': factor,
    'transaction.state.log.min.isr': minIsr,
    'min.insync.replicas': minIsr,
  };
}

/**
 * The cluster-wide part of server.properties: defaults, then the user's `spec.config`, then the
 * keys mqop manages (the CRD already refuses those in `spec.config`; writing them last keeps them
 * authoritative anyway). Per-pod values and secrets are appended by the start script.
 */
export function serverProperties(ctx: RenderContext): string {
  const defaults: Record<string, string> = {
    ...replicationDefaults(ctx.replicas),
    'num.partitions': '1',
    'group.initial.rebalance.delay.ms': '3000',
  };
  const managed: Record<string, string> = {
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'allow.everyone.if.no.acl.found': 'false',
    'process.roles': 'broker,controller',
    'controller.quorum.voters': quorumVoters(ctx),
    listeners: `CLIENT://:${CLIENT_PORT},CONTROLLER://:${CONTROLLER_PORT},REPLICATION://:${REPLICATION_PORT}`,
    'listener.security.protocol.map':
      'CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,REPLICATION:SASL_PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'REPLICATION',
    'sasl.enabled.mechanisms': SCRAM,
    'listener.name.controller.sasl.enabled.mechanisms': 'PLAIN',
    'sasl.mechanism.controller.protocol': 'PLAIN',
    'sasl.mechanism.inter.broker.protocol': SCRAM,
    // Server side of the client listener: SCRAM needs a login module but no options.
    'listener.name.client.scram-sha-512.sasl.jaas.config': `${SCRAM_LOGIN} required;`,
    'log.dirs': LOG_DIRS,
  };
  const merged = { ...defaults, ...ctx.config, ...managed };
  return `# Rendered by mqop; start.sh appends node.id, advertised.listeners, super.users and JAAS.\n${propertiesLines(merged)}`;
}

/** Broker logging: console only (the root filesystem is read-only, and kubectl logs is the sink). */
const LOG4J = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.state.change.logger=INFO
`;

/** Logging of the CLI tools the start script runs: warnings only, to stderr. */
const TOOLS_LOG4J = `log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
`;

/**
 * Start script. Order: validate credentials, write the per-pod files, format storage on first
 * start (refusing to when that would fork the quorum), schedule the credential refresh, exec the
 * broker. Passwords only come from env and go to files on the memory emptyDir (mode 0600).
 * The script is `files/kafka/start.sh`.
 */
export function startScript(ctx: RenderContext): string {
  const n = ctx.names;
  return START_SCRIPT.fill({
    NAMESPACE: ctx.namespace,
    NAME: ctx.name,
    DOMAIN: ctx.serviceHost(n.headless),
    VOTERS: Array.from(
      { length: ctx.replicas },
      (_, i) => `${i}@${ctx.podHost(n.workload, n.headless, i)}:${CONTROLLER_PORT}`,
    ).join(' '),
    RUN_DIR,
    LOG_DIRS,
    CONFIG_DIR,
    KAFKA_HOME,
    CLUSTER_PRINCIPAL,
    CLIENT_PORT,
    REPLICATION_PORT,
    SCRAM,
    SCRAM_LOGIN,
    PLAIN_LOGIN,
  });
}

/**
 * Readiness: the broker answers an ApiVersions request (v0, which SASL listeners accept before
 * authentication) on the client port. Kafka binds its ports early but processes requests only
 * once it has caught up with the metadata log, so a bare TCP check would mark it ready too soon
 * and let a rolling update stop the next broker early. Needs bash for /dev/tcp, like Kafka's own
 * scripts; no JVM per probe.
 */
const readyScript = () => READY_SCRIPT.fill({ CLIENT_PORT });

/** Non-secret files of the ConfigMap. */
export function kafkaFiles(ctx: RenderContext): Record<string, string> {
  return {
    'server.properties': serverProperties(ctx),
    'log4j.properties': LOG4J,
    'tools-log4j.properties': TOOLS_LOG4J,
    'start.sh': startScript(ctx),
    'ready.sh': readyScript(),
  };
}

export const kafka: EngineModule = {
  name: 'kafka',
  internal: {
    // Kafka's cluster id format: 16 bytes, URL-safe base64 without padding (22 characters). The top
    // bit of the first byte is cleared so the id never starts with '-' (Kafka's own generator
    // avoids that too: a leading dash reads as an option on a command line).
    [CLUSTER_ID_KEY]: (r) => {
      const b = Buffer.from(r.subarray(0, 16));
      b[0] = (b[0] ?? 0) & 0x7f;
      return b.toString('base64url');
    },
    // The internal principal's password. Hex, so it needs no escaping in JAAS or --add-scram. It
    // uses the other 16 bytes, so it stays unrelated to the cluster id (which is not secret) even
    // if a caller hands both generators the same bytes.
    [CLUSTER_PASSWORD_KEY]: (r) => Buffer.from(r.subarray(16, 32)).toString('hex'),
  },

  binding(ctx) {
    const ep = ctx.endpoint;
    return {
      type: 'kafka',
      uri: ep.url,
      extra: {
        'bootstrap.servers': bootstrapServers(ctx).join(','),
        'sasl.mechanism': SCRAM,
        'security.protocol': 'SASL_PLAINTEXT',
      },
    };
  },

  render(chart: Chart, ctx: RenderContext) {
    const n = ctx.names;
    const files = kafkaFiles(ctx);
    configMap(chart, ctx, { name: n.config, component: 'config', data: files });

    const internalEnv = (envName: string, key: string): k8s.EnvVar => ({
      name: envName,
      valueFrom: { secretKeyRef: { name: n.internal, key } },
    });
    const env: k8s.EnvVar[] = [
      fieldEnv('POD_NAME', 'metadata.name'),
      credentialEnv(ctx, 'KAFKA_USERNAME', 'username'),
      credentialEnv(ctx, 'KAFKA_PASSWORD', 'password'),
      internalEnv('CLUSTER_ID', CLUSTER_ID_KEY),
      internalEnv('CLUSTER_PASSWORD', CLUSTER_PASSWORD_KEY),
      // Heap follows the memory limit; the rest is page cache, which Kafka relies on.
      { name: 'KAFKA_HEAP_OPTS', value: '-XX:InitialRAMPercentage=50.0 -XX:MaxRAMPercentage=50.0' },
      { name: 'KAFKA_OPTS', value: '-XX:+ExitOnOutOfMemoryError' },
      { name: 'KAFKA_LOG4J_OPTS', value: `-Dlog4j.configuration=file:${CONFIG_DIR}/log4j.properties` },
      // kafka-run-class.sh creates LOG_DIR; no file is written there with the console-only log4j.
      { name: 'LOG_DIR', value: '/tmp/kafka-logs' },
      // kafka-server-start.sh defaults to '-name kafkaServer -loggc': no GC log files in the pod.
      { name: 'EXTRA_ARGS', value: '-name kafkaServer' },
    ];

    statefulSet(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      persistent: true,
      // All voters must start together to elect a leader; OrderedReady would wait for pod 0 to
      // be ready, which it cannot be without a quorum.
      podManagementPolicy: 'Parallel',
      uid: KAFKA_UID,
      annotations: { 'mqop.dev/config-hash': configHash(files) },
      // Controlled shutdown moves partition leadership away before the broker stops.
      terminationGracePeriodSeconds: 120,
      volumes: [
        { name: 'config', configMap: { name: n.config, defaultMode: 0o555 } },
        { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: q('16Mi') } },
        { name: 'tmp', emptyDir: { sizeLimit: q('256Mi') } },
      ],
      containers: [
        {
          name: 'kafka',
          image: ctx.image,
          command: ['sh', `${CONFIG_DIR}/start.sh`],
          env,
          ports: [
            { name: 'client', containerPort: CLIENT_PORT, protocol: 'TCP' },
            { name: 'controller', containerPort: CONTROLLER_PORT, protocol: 'TCP' },
            { name: 'replication', containerPort: REPLICATION_PORT, protocol: 'TCP' },
          ],
          resources: containerResources(ctx, {
            requests: { cpu: '500m', memory: '1Gi' },
            limits: { memory: '2Gi' },
          }),
          // The controller port opens once the JVM runs (and storage is formatted); log recovery
          // and quorum election come after and are covered by readiness, not by restarts.
          startupProbe: {
            tcpSocket: { port: port(CONTROLLER_PORT) },
            periodSeconds: 5,
            failureThreshold: 60,
          },
          readinessProbe: {
            exec: { command: ['bash', `${CONFIG_DIR}/ready.sh`] },
            periodSeconds: 10,
            timeoutSeconds: 5,
            failureThreshold: 3,
          },
          livenessProbe: {
            tcpSocket: { port: port(CONTROLLER_PORT) },
            periodSeconds: 10,
            timeoutSeconds: 5,
            failureThreshold: 6,
          },
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: DATA_VOLUME, mountPath: DATA_DIR },
            { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
            { name: 'run', mountPath: RUN_DIR },
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
      ports: [{ name: 'client', port: CLIENT_PORT, appProtocol: 'kafka' }],
      peerPorts: [
        { name: 'controller', port: CONTROLLER_PORT },
        { name: 'replication', port: REPLICATION_PORT },
      ],
    });
  },
};
