/**
 * ActiveMQ Classic 6.1. One broker pod: Classic fails over only through shared storage (a shared
 * KahaDB lock), which mqop does not manage, so the CRD allows `replicas: 1` only. Clients speak
 * AMQP 1.0 on 5672 (what mqop's smoke tests use) or OpenWire on 61616; STOMP, MQTT and WebSocket
 * connectors are not opened.
 *
 * Image layout assumed (the upstream `docker.io/apache/activemq-classic` image, built from
 * `assembly/src/docker/Dockerfile` in apache/activemq; a local image must match it):
 * - an eclipse-temurin JRE with `java` and a POSIX `sh` on PATH;
 * - the distribution unpacked in `/opt/apache-activemq` (`bin/activemq`, `lib/`), readable by
 *   any user. The image declares no USER (it would run as root), so mqop runs it as uid/gid 1000;
 *   nothing under `/opt/apache-activemq` needs to be writable.
 * - the image's ENTRYPOINT (it `sed`s `conf/` in place) is bypassed: the command is spelled out.
 *
 * Paths mqop uses instead of the image's `conf/` and `data/`:
 * - `/etc/activemq` (ACTIVEMQ_CONF, read-only): a projected volume of the ConfigMap
 *   (`activemq.xml`, `login.config`, `log4j2.properties`) and the config Secret
 *   (`users.properties`, `groups.properties`: username and password live only in the Secret);
 * - `/var/lib/activemq` (ACTIVEMQ_DATA): the `data` volume, a claim or an emptyDir when
 *   ephemeral. KahaDB, the scheduler store and the temp store live here; ephemeral still persists
 *   messages to disk, it only loses them with the pod;
 * - `/tmp` (ACTIVEMQ_TMP, emptyDir): `java.io.tmpdir`, JVM perf data, the launcher's pid file.
 * With those, the root filesystem stays read-only.
 *
 * Auth: JAAS `PropertiesLoginModule` with `reload=true`, so a rotated password (the Secret volume
 * is updated in place) applies to new connections without a restart; one `admins` group with
 * read/write/admin on every queue, topic and temporary destination.
 *
 * Not rendered, on purpose: the Jetty web console and its Jolokia endpoint (see `activemqXml`),
 * a remote JMX connector, and a Prometheus/JMX exporter (out of scope for now).
 */
import type { Chart } from 'cdk8s';
import type { k8s } from 'cdk8s-plus-34';
import type { RenderContext } from '../render/context.ts';
import { restrictedContainerSecurityContext } from '../render/security.ts';
import {
  componentServices,
  configHash,
  configMap,
  containerResources,
  DATA_VOLUME,
  podDisruptionBudget,
  q,
  secret,
  statefulSet,
  tcpProbe,
} from '../render/workload.ts';
import type { EngineModule } from './types.ts';

const OPENWIRE_PORT = 61616;
const AMQP_PORT = 5672;
/** uid/gid mqop runs the broker as (`ubuntu` in the eclipse-temurin base; the image sets no USER). */
const ACTIVEMQ_UID = 1000;

/** ActiveMQ distribution inside the image. */
const ACTIVEMQ_HOME = '/opt/apache-activemq';
/** Mounted configuration (ConfigMap + Secret), read-only. */
const CONF_DIR = '/etc/activemq';
/** The `data` volume. */
const DATA_DIR = '/var/lib/activemq';
/** Scratch space: java.io.tmpdir, hsperfdata, pid file. */
const TMP_DIR = '/tmp';
const PID_FILE = `${TMP_DIR}/activemq.pid`;

/** JAAS application name, referenced by `jaasAuthenticationPlugin`. */
const JAAS_REALM = 'activemq';
/** Group of the mqop user; it has every permission on every destination. */
export const ADMIN_GROUP = 'admins';

/** ActiveMQ's own connector defaults (DoS protection): 1000 connections, 100 MiB frames. */
const DEFAULT_MAX_CONNECTIONS = '1000';
const DEFAULT_MAX_FRAME_SIZE = String(100 * 1024 * 1024);
/** Share of the data volume the message store and the temp (non-persistent spool) store may use. */
const STORE_SHARE = 0.7;
const TEMP_SHARE = 0.2;
/** Share of the heap for in-flight messages when `memoryLimit` is unset (ActiveMQ's default). */
const MEMORY_PERCENT_OF_HEAP = 70;

/** Escapes a value for an XML attribute (every user value in `activemq.xml` goes through this). */
export function xmlAttr(v: string): string {
  return v
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** Bytes of a Kubernetes quantity such as `8Gi` or `500M`; undefined when it is not one. */
export function quantityBytes(v: string | number): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)([KMGTPE]i|[kMGTPE])?$/.exec(String(v).trim());
  if (!m) return undefined;
  const unit = m[2] ?? '';
  return Number(m[1]) * (BINARY[unit] ?? DECIMAL[unit] ?? 1);
}

/**
 * A size for ActiveMQ's `limit` attributes. ActiveMQ reads `<n>`, `<n> kb`, `<n> mb`, `<n> gb`
 * (binary, case-insensitive); Kubernetes-style `512Mi` / `2Gi` are translated, anything else is
 * passed on for the broker to judge.
 */
export function activemqSize(v: string): string {
  const m = /^\s*(\d+)\s*(Ki|Mi|Gi|Ti)\s*$/.exec(v);
  if (!m) return v.trim();
  const n = Number(m[1]);
  switch (m[2]) {
    case 'Ki':
      return `${n} kb`;
    case 'Mi':
      return `${n} mb`;
    case 'Gi':
      return `${n} gb`;
    default:
      return `${n * 1024} gb`;
  }
}

/**
 * A byte count for transport URI options (they take plain numbers): digits stay, ActiveMQ sizes
 * (`100 mb`) and Kubernetes binary quantities (`100Mi`) are converted; anything else is passed on.
 */
export function byteCount(v: string): string {
  const t = v.trim();
  const amq = /^(\d+)\s*([kmg])?b?$/i.exec(t);
  if (amq) {
    const exp = { '': 0, k: 1, m: 2, g: 3 }[(amq[2] ?? '').toLowerCase()] ?? 0;
    return String(Number(amq[1]) * 1024 ** exp);
  }
  const bin = /^(\d+)(Ki|Mi|Gi)$/.exec(t);
  if (bin) return String(Number(bin[1]) * (BINARY[bin[2] ?? ''] ?? 1));
  return t;
}

/** Megabytes (ActiveMQ syntax) of a share of the data volume, from `spec.storage.size`. */
function volumeShare(ctx: RenderContext, share: number): string | undefined {
  const bytes = quantityBytes(ctx.storage.size);
  if (bytes === undefined) return undefined;
  return `${Math.max(1, Math.floor((bytes * share) / 2 ** 20))} mb`;
}

/** Query string shared by both client connectors; the limits apply per connector. */
function connectorOptions(ctx: RenderContext): string {
  const c = ctx.config;
  const opts: [string, string][] = [
    ['maximumConnections', (c.maxConnections ?? DEFAULT_MAX_CONNECTIONS).trim()],
    [
      'wireFormat.maxFrameSize',
      c.maxFrameSize === undefined ? DEFAULT_MAX_FRAME_SIZE : byteCount(c.maxFrameSize),
    ],
  ];
  return opts.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

/** A `<xUsage>` element: an explicit limit, else the computed default. */
function usage(element: string, limit: string | undefined, fallback: string): string {
  const attr = limit === undefined ? fallback : `limit="${xmlAttr(activemqSize(limit))}"`;
  return `<${element}Usage><${element}Usage ${attr}/></${element}Usage>`;
}

/** Every permission on a destination pattern, for the admin group. */
const allowAll = `read="${ADMIN_GROUP}" write="${ADMIN_GROUP}" admin="${ADMIN_GROUP}"`;

/**
 * `activemq.xml`. No secrets: authentication goes through JAAS files in the Secret.
 *
 * The web console (Jetty on 8161, with Jolokia, i.e. JMX over HTTP) is not imported: it would run
 * a second HTTP server in the broker JVM whose history of remote-execution CVEs mostly goes
 * through Jolokia, and binding it to the messaging credentials would hand every application JMX
 * control of the broker. mqop checks the broker through AMQP; operators inspect it with
 * `kubectl exec` and the `activemq` CLI (local JMX, no connector).
 */
export function activemqXml(ctx: RenderContext): string {
  const c = ctx.config;
  const bool = (v: string | undefined, dflt: boolean) => xmlAttr((v ?? String(dflt)).trim());
  const storeDefault = volumeShare(ctx, STORE_SHARE);
  const tempDefault = volumeShare(ctx, TEMP_SHARE);
  const options = xmlAttr(connectorOptions(ctx));
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Rendered by mqop for MessageQueue ${xmlAttr(ctx.namespace)}/${xmlAttr(ctx.name)}: change the MessageQueue, not this file. -->
<beans
  xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">

  <broker xmlns="http://activemq.apache.org/schema/core"
          brokerName="${xmlAttr(ctx.name)}"
          dataDirectory="${DATA_DIR}"
          persistent="true"
          schedulerSupport="${bool(c.schedulerSupport, false)}"
          advisorySupport="${bool(c.advisorySupport, true)}">

    <destinationPolicy>
      <policyMap>
        <policyEntries>
          <!-- A slow topic subscriber may not hold more than 1000 pending messages. -->
          <policyEntry topic="&gt;">
            <pendingMessageLimitStrategy>
              <constantPendingMessageLimitStrategy limit="1000"/>
            </pendingMessageLimitStrategy>
          </policyEntry>
        </policyEntries>
      </policyMap>
    </destinationPolicy>

    <!-- JMX in-process only (the activemq CLI inside the pod); no remote connector. -->
    <managementContext>
      <managementContext createConnector="false"/>
    </managementContext>

    <persistenceAdapter>
      <kahaDB directory="${DATA_DIR}/kahadb"/>
    </persistenceAdapter>

    <plugins>
      <jaasAuthenticationPlugin configuration="${JAAS_REALM}"/>
      <authorizationPlugin>
        <map>
          <authorizationMap>
            <authorizationEntries>
              <authorizationEntry queue="&gt;" ${allowAll}/>
              <authorizationEntry topic="&gt;" ${allowAll}/>
            </authorizationEntries>
            <tempDestinationAuthorizationEntry>
              <tempDestinationAuthorizationEntry ${allowAll}/>
            </tempDestinationAuthorizationEntry>
          </authorizationMap>
        </map>
      </authorizationPlugin>
    </plugins>

    <!-- Producer flow control starts at these limits; store and temp default to shares of the data volume. -->
    <systemUsage>
      <systemUsage>
        ${usage('memory', c.memoryLimit, `percentOfJvmHeap="${MEMORY_PERCENT_OF_HEAP}"`)}
        ${usage('store', c.storeLimit, storeDefault ? `limit="${storeDefault}"` : `percentLimit="${STORE_SHARE * 100}"`)}
        ${usage('temp', c.tempLimit, tempDefault ? `limit="${tempDefault}"` : `percentLimit="${TEMP_SHARE * 100}"`)}
      </systemUsage>
    </systemUsage>

    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://0.0.0.0:${OPENWIRE_PORT}?${options}"/>
      <transportConnector name="amqp" uri="amqp://0.0.0.0:${AMQP_PORT}?${options}"/>
    </transportConnectors>
  </broker>
</beans>
`;
}

/** JAAS configuration: properties files next to it, re-read when the Secret changes. */
export function loginConfig(): string {
  return `${JAAS_REALM} {
    org.apache.activemq.jaas.PropertiesLoginModule required
        reload="true"
        baseDir="${CONF_DIR}"
        org.apache.activemq.jaas.properties.user="users.properties"
        org.apache.activemq.jaas.properties.group="groups.properties";
};
`;
}

/** Console-only logging: the container runtime keeps the logs, nothing is written to the data volume. */
const LOG4J2_PROPERTIES = `rootLogger.level = INFO
rootLogger.appenderRef.console.ref = Console

logger.spring.name = org.apache.activemq.spring
logger.spring.level = WARN
logger.springframework.name = org.springframework
logger.springframework.level = WARN
logger.xbean.name = org.apache.xbean
logger.xbean.level = WARN

appender.console.type = Console
appender.console.name = Console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} | %-5p | %m | %c | %t%n%throwable{full}
`;

/**
 * Escapes text for a java.util.Properties file read as ISO-8859-1 (how JAAS reads it): backslash
 * escapes for separators and whitespace, `\\uXXXX` for anything outside printable ASCII.
 */
export function propertiesEscape(s: string, key: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] ?? '';
    const code = s.charCodeAt(i);
    if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\f') out += '\\f';
    else if ((key || i === 0) && ch === ' ') out += '\\ ';
    else if ((key || i === 0) && (ch === '=' || ch === ':' || ch === '#' || ch === '!')) out += `\\${ch}`;
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/**
 * The JAAS files that name the user: both go in the Secret. (A username containing a comma cannot
 * be listed in `groups.properties`, whose values ActiveMQ splits on commas.)
 */
function jaasSecretFiles(ctx: RenderContext): Record<string, string> {
  const { username, password } = ctx.credentials;
  return {
    'users.properties': `${propertiesEscape(username, true)}=${propertiesEscape(password, false)}\n`,
    'groups.properties': `${ADMIN_GROUP}=${propertiesEscape(username, false)}\n`,
  };
}

export const activemq: EngineModule = {
  name: 'activemq',
  internal: {},

  binding(ctx) {
    const { host } = ctx.endpoint;
    const user = encodeURIComponent(ctx.credentials.username);
    const pw = encodeURIComponent(ctx.credentials.password);
    return {
      type: 'activemq',
      uri: `amqp://${user}:${pw}@${host}:${AMQP_PORT}`,
      extra: { 'openwire.url': `tcp://${host}:${OPENWIRE_PORT}` },
    };
  },

  render(chart: Chart, ctx: RenderContext) {
    const n = ctx.names;
    const files = {
      'activemq.xml': activemqXml(ctx),
      'login.config': loginConfig(),
      'log4j2.properties': LOG4J2_PROPERTIES,
    };
    configMap(chart, ctx, { name: n.config, component: 'config', data: files });
    secret(chart, ctx, { name: n.configSecret, component: 'config', data: jaasSecretFiles(ctx) });

    const env: k8s.EnvVar[] = [
      { name: 'ACTIVEMQ_HOME', value: ACTIVEMQ_HOME },
      { name: 'ACTIVEMQ_BASE', value: ACTIVEMQ_HOME },
      { name: 'ACTIVEMQ_CONF', value: CONF_DIR },
      { name: 'ACTIVEMQ_DATA', value: DATA_DIR },
      { name: 'ACTIVEMQ_TMP', value: TMP_DIR },
      { name: 'ACTIVEMQ_PIDFILE', value: PID_FILE },
      // Heap follows the container memory limit; the rest is metaspace, threads and buffers.
      // Exit on OOM so that the kubelet restarts a broker that can no longer work.
      {
        name: 'ACTIVEMQ_OPTS_MEMORY',
        value: '-XX:InitialRAMPercentage=25.0 -XX:MaxRAMPercentage=50.0 -XX:+ExitOnOutOfMemoryError',
      },
      // The image bakes ACTIVEMQ_OPTS (with -Xmx1G and conf/ paths) into its env, and bin/activemq
      // uses ACTIVEMQ_OPTS_MEMORY only when ACTIVEMQ_OPTS is empty: set both.
      {
        name: 'ACTIVEMQ_OPTS',
        value: [
          '$(ACTIVEMQ_OPTS_MEMORY)',
          `-Djava.security.auth.login.config=${CONF_DIR}/login.config`,
          `-Dlog4j2.configurationFile=${CONF_DIR}/log4j2.properties`,
          `-XX:ErrorFile=${TMP_DIR}/hs_err_pid%p.log`,
        ].join(' '),
      },
    ];

    const volumes: k8s.Volume[] = [
      {
        name: 'config',
        projected: {
          defaultMode: 0o440,
          sources: [{ configMap: { name: n.config } }, { secret: { name: n.configSecret } }],
        },
      },
      { name: 'tmp', emptyDir: { sizeLimit: q('256Mi') } },
    ];

    statefulSet(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      persistent: true,
      uid: ACTIVEMQ_UID,
      // Only the ConfigMap is hashed: the JAAS files in the Secret are re-read live, and a digest
      // of the password does not belong in a pod annotation.
      annotations: { 'mqop.dev/config-hash': configHash(files) },
      // Time for KahaDB to checkpoint and close its journal on SIGTERM.
      terminationGracePeriodSeconds: 60,
      volumes,
      containers: [
        {
          name: 'activemq',
          image: ctx.image,
          // A pid file surviving a container restart in the emptyDir would make the launcher refuse to start.
          command: [
            'sh',
            '-c',
            `rm -f "$ACTIVEMQ_PIDFILE" && exec ${ACTIVEMQ_HOME}/bin/activemq console xbean:file:${CONF_DIR}/activemq.xml`,
          ],
          env,
          ports: [
            { name: 'openwire', containerPort: OPENWIRE_PORT, protocol: 'TCP' },
            { name: 'amqp', containerPort: AMQP_PORT, protocol: 'TCP' },
          ],
          resources: containerResources(ctx, {
            requests: { cpu: '250m', memory: '1Gi' },
            limits: { memory: '1Gi' },
          }),
          // KahaDB replays its journal before the connectors open: up to 10 minutes after a crash.
          startupProbe: tcpProbe(AMQP_PORT, 5, 120, 5),
          readinessProbe: tcpProbe(AMQP_PORT, 10, 3, 5),
          livenessProbe: tcpProbe(OPENWIRE_PORT, 20, 6, 5),
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: DATA_VOLUME, mountPath: DATA_DIR },
            { name: 'config', mountPath: CONF_DIR, readOnly: true },
            { name: 'tmp', mountPath: TMP_DIR },
          ],
        },
      ],
    });

    const ports = [
      { name: 'openwire', port: OPENWIRE_PORT },
      { name: 'amqp', port: AMQP_PORT, appProtocol: 'amqp' },
    ];
    componentServices(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'broker',
      replicas: ctx.replicas,
      ports,
    });
    // Renders nothing for the single replica the CRD allows; kept so that shared storage can add more.
    podDisruptionBudget(chart, ctx, { name: n.workload, component: 'broker', replicas: ctx.replicas });
  },
};
