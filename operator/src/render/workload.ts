/**
 * Builders shared by every engine: StatefulSet/Deployment with the pod conventions mqop promises
 * (security context, `enableServiceLinks: false`, pod template overrides, anti-affinity, data
 * volume), headless and client Services, PodDisruptionBudget, ConfigMap and Secret.
 */
import { createHash } from 'node:crypto';
import type { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { OWNER_LABEL, objectLabels, selectorLabels } from '../api/labels.ts';
import type { RenderContext } from './context.ts';
import { restrictedPodSecurityContext } from './security.ts';

/** Name of the data volume (PVC template or emptyDir) in every data-keeping workload. */
export const DATA_VOLUME = 'data';

export interface PodSpecInput {
  component: string;
  containers: k8s.Container[];
  initContainers?: k8s.Container[];
  volumes?: k8s.Volume[];
  /** Run as this uid/gid (the image's own user), so volumes are writable through fsGroup. */
  uid: number;
  gid?: number;
  /** Set only for pods that call the Kubernetes API (RabbitMQ peer discovery). */
  serviceAccountName?: string;
  /** Pod annotations, e.g. a config hash that rolls the pods when configuration changes. */
  annotations?: Record<string, string>;
  terminationGracePeriodSeconds?: number;
}

export interface StatefulSetInput extends PodSpecInput {
  name: string;
  headless: string;
  replicas: number;
  /** Whether this StatefulSet keeps data in the `data` volume. */
  persistent: boolean;
  podManagementPolicy?: 'Parallel' | 'OrderedReady';
}

/** Quantity or IntOrString from a schema value. */
export const q = (v: string | number): k8s.Quantity =>
  typeof v === 'number' ? k8s.Quantity.fromNumber(v) : k8s.Quantity.fromString(v);
export const port = (v: number | string): k8s.IntOrString =>
  typeof v === 'number' ? k8s.IntOrString.fromNumber(v) : k8s.IntOrString.fromString(v);

/** Short stable digest of configuration, for a pod annotation that rolls pods on change. */
export function configHash(...parts: (string | Record<string, string>)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : JSON.stringify(p, Object.keys(p).sort()));
  return h.digest('hex').slice(0, 16);
}

/** Engine defaults with the user's `spec.resources` laid over them, key by key. */
export function containerResources(
  ctx: RenderContext,
  defaults: { requests: Record<string, string>; limits: Record<string, string> },
): k8s.ResourceRequirements {
  const merge = (base: Record<string, string>, over: Record<string, string | number> | undefined) => {
    const out: Record<string, k8s.Quantity> = {};
    for (const [k, v] of Object.entries({ ...base, ...(over ?? {}) })) out[k] = q(v);
    return out;
  };
  return {
    requests: merge(defaults.requests, ctx.resources?.requests),
    limits: merge(defaults.limits, ctx.resources?.limits),
  };
}

/** Preferred spreading of one component's pods over nodes, unless the user set affinity. */
function affinity(ctx: RenderContext, component: string): k8s.Affinity {
  if (ctx.podTemplate.affinity) return ctx.podTemplate.affinity as k8s.Affinity;
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: selectorLabels(ctx, component) },
          },
        },
      ],
    },
  };
}

/** The pod template every mqop workload shares. */
export function podTemplate(ctx: RenderContext, input: PodSpecInput): k8s.PodTemplateSpec {
  const pt = ctx.podTemplate;
  return {
    metadata: {
      labels: { ...(pt.labels ?? {}), ...objectLabels(ctx, input.component) },
      annotations: { ...(pt.annotations ?? {}), ...(input.annotations ?? {}) },
    },
    spec: {
      enableServiceLinks: false,
      automountServiceAccountToken: input.serviceAccountName !== undefined,
      serviceAccountName: input.serviceAccountName,
      securityContext: restrictedPodSecurityContext(input.uid, input.gid),
      terminationGracePeriodSeconds: input.terminationGracePeriodSeconds,
      initContainers: input.initContainers,
      containers: input.containers,
      volumes: input.volumes,
      nodeSelector: pt.nodeSelector,
      tolerations: pt.tolerations,
      priorityClassName: pt.priorityClassName,
      affinity: affinity(ctx, input.component),
    },
  };
}

/** A StatefulSet with the `data` volume as a claim template, or as emptyDir when ephemeral. */
export function statefulSet(chart: Chart, ctx: RenderContext, input: StatefulSetInput): void {
  const persistent = input.persistent && !ctx.storage.ephemeral;
  // An ephemeral data-keeping workload gets its `data` volume as an emptyDir instead of a claim.
  const volumes =
    input.persistent && !persistent
      ? [...(input.volumes ?? []), { name: DATA_VOLUME, emptyDir: { sizeLimit: q(ctx.storage.size) } }]
      : input.volumes;
  const template = podTemplate(ctx, { ...input, volumes });
  new k8s.KubeStatefulSet(chart, `sts-${input.name}`, {
    metadata: { name: input.name, labels: objectLabels(ctx, input.component) },
    spec: {
      replicas: input.replicas,
      serviceName: input.headless,
      podManagementPolicy: input.podManagementPolicy ?? 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      selector: { matchLabels: selectorLabels(ctx, input.component) },
      template,
      ...(persistent
        ? {
            persistentVolumeClaimRetentionPolicy: {
              whenDeleted: ctx.storage.deleteClaim ? 'Delete' : 'Retain',
              whenScaled: 'Retain',
            },
            volumeClaimTemplates: [
              {
                // Claim templates are immutable: only labels that never change go here.
                metadata: {
                  name: DATA_VOLUME,
                  labels: { ...selectorLabels(ctx, input.component), [OWNER_LABEL]: ctx.name },
                },
                spec: {
                  accessModes: ['ReadWriteOnce'],
                  storageClassName: ctx.storage.storageClassName,
                  resources: { requests: { storage: q(ctx.storage.size) } },
                },
              },
            ],
          }
        : {}),
    },
  });
}

export interface DeploymentInput extends PodSpecInput {
  name: string;
  replicas: number;
}

/** A Deployment for stateless workloads (the ZeroMQ proxy). */
export function deployment(chart: Chart, ctx: RenderContext, input: DeploymentInput): void {
  new k8s.KubeDeployment(chart, `deploy-${input.name}`, {
    metadata: { name: input.name, labels: objectLabels(ctx, input.component) },
    spec: {
      replicas: input.replicas,
      selector: { matchLabels: selectorLabels(ctx, input.component) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: port(0), maxSurge: port(1) } },
      template: podTemplate(ctx, input),
    },
  });
}

export interface ServicePort {
  name: string;
  port: number;
  targetPort?: number;
  appProtocol?: string;
}

const servicePorts = (ports: ServicePort[]): k8s.ServicePort[] =>
  ports.map((p) => ({
    name: p.name,
    port: p.port,
    targetPort: port(p.targetPort ?? p.port),
    protocol: 'TCP',
    appProtocol: p.appProtocol,
  }));

/**
 * Headless Service for stable per-pod DNS. Publishes not-ready addresses so that peers can find
 * each other while forming a cluster (RabbitMQ, Kafka quorum, Sentinel).
 */
export function headlessService(
  chart: Chart,
  ctx: RenderContext,
  input: { name: string; component: string; ports: ServicePort[] },
): void {
  new k8s.KubeService(chart, `svc-${input.name}`, {
    metadata: { name: input.name, labels: objectLabels(ctx, input.component) },
    spec: {
      clusterIp: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(ctx, input.component),
      ports: servicePorts(input.ports),
    },
  });
}

/** Client Service of the type and annotations the user chose. */
export function clientService(
  chart: Chart,
  ctx: RenderContext,
  input: { name: string; component: string; ports: ServicePort[]; selector?: Record<string, string> },
): void {
  new k8s.KubeService(chart, `svc-${input.name}`, {
    metadata: {
      name: input.name,
      labels: objectLabels(ctx, input.component),
      annotations: Object.keys(ctx.serviceAnnotations).length ? ctx.serviceAnnotations : undefined,
    },
    spec: {
      type: ctx.serviceType,
      selector: input.selector ?? selectorLabels(ctx, input.component),
      ports: servicePorts(input.ports),
    },
  });
}

/**
 * The Services and disruption budget of one component, in this order: the headless Service (client
 * ports plus the peer ports only pods use), the client Service (unless `client: false`), and the
 * PodDisruptionBudget when there is more than one pod.
 */
export function componentServices(
  chart: Chart,
  ctx: RenderContext,
  input: {
    name: string;
    headless: string;
    component: string;
    replicas: number;
    ports: ServicePort[];
    peerPorts?: ServicePort[];
    client?: boolean;
  },
): void {
  const { name, component } = input;
  headlessService(chart, ctx, {
    name: input.headless,
    component,
    ports: [...input.ports, ...(input.peerPorts ?? [])],
  });
  if (input.client !== false) clientService(chart, ctx, { name, component, ports: input.ports });
  podDisruptionBudget(chart, ctx, { name, component, replicas: input.replicas });
}

/** A tcpSocket probe. */
export const tcpProbe = (
  p: number,
  periodSeconds: number,
  failureThreshold: number,
  timeoutSeconds: number,
): k8s.Probe => ({
  tcpSocket: { port: port(p) },
  periodSeconds,
  timeoutSeconds,
  failureThreshold,
});

/** A PodDisruptionBudget allowing one voluntary disruption, only when there is more than one pod. */
export function podDisruptionBudget(
  chart: Chart,
  ctx: RenderContext,
  input: { name: string; component: string; replicas: number },
): void {
  if (input.replicas <= 1) return;
  new k8s.KubePodDisruptionBudget(chart, `pdb-${input.name}`, {
    metadata: { name: input.name, labels: objectLabels(ctx, input.component) },
    spec: {
      maxUnavailable: port(1),
      selector: { matchLabels: selectorLabels(ctx, input.component) },
    },
  });
}

/** A ConfigMap for configuration without secrets. */
export function configMap(
  chart: Chart,
  ctx: RenderContext,
  input: { name: string; component: string; data: Record<string, string> },
): void {
  new k8s.KubeConfigMap(chart, `cm-${input.name}`, {
    metadata: { name: input.name, labels: objectLabels(ctx, input.component) },
    data: input.data,
  });
}

/**
 * A Secret rendered with base64 `data` (not `stringData`): the bytes are stable, so a re-apply of
 * the same content is a no-op for server-side apply.
 */
export function secret(
  chart: Chart,
  ctx: RenderContext,
  input: { name: string; component: string; data: Record<string, string>; type?: string },
): void {
  const data: Record<string, string> = {};
  for (const k of Object.keys(input.data).sort()) {
    data[k] = Buffer.from(input.data[k] ?? '', 'utf8').toString('base64');
  }
  new k8s.KubeSecret(chart, `secret-${input.name}`, {
    metadata: { name: input.name, labels: objectLabels(ctx, input.component) },
    type: input.type ?? 'Opaque',
    data,
  });
}

/** Env var read from the credentials Secret (user-supplied or generated). */
export function credentialEnv(ctx: RenderContext, envName: string, key: 'username' | 'password'): k8s.EnvVar {
  return { name: envName, valueFrom: { secretKeyRef: { name: ctx.credentialsSecret, key } } };
}

/** Env var with the pod's own name, namespace or IP (downward API). */
export function fieldEnv(envName: string, fieldPath: string): k8s.EnvVar {
  return { name: envName, valueFrom: { fieldRef: { fieldPath } } };
}

/** Renders `key = value` lines (rabbitmq.conf, server.properties, broker.conf share the shape). */
export function keyValueLines(entries: Record<string, string>, sep = ' = '): string {
  return `${Object.entries(entries)
    .map(([k, v]) => `${k}${sep}${v}`)
    .join('\n')}\n`;
}

/**
 * Escapes a value for a Java properties file: backslashes, line breaks and a leading space would
 * otherwise change the value (a trailing backslash joins the next line) or, for a line break,
 * inject another key.
 */
export function propertiesValue(v: string): string {
  return v
    .replace(/\\/g, '\\\\')
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')
    .replace(/\f/g, '\\f')
    .replace(/^ /, '\\ ');
}

/** `key=value` lines of a Java properties file, values escaped. */
export function propertiesLines(entries: Record<string, string>): string {
  return keyValueLines(
    Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, propertiesValue(v)])),
    '=',
  );
}
