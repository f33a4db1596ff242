/**
 * The one resolved view of a MessageQueue: every default applied, every name derived, the
 * endpoint and the smoke-test settings computed. The controller resolves each MessageQueue once
 * per reconcile and hands this value to every step (Secrets, render, prune, status, smoke tests),
 * so defaults and names live in exactly one place. Pure.
 */
import { type ConfigProblem, configProblems } from './config-policy.ts';
import { ENGINE_TRAITS, type EngineName } from './engines.ts';
import { type DerivedNames, derivedNames } from './names.ts';
import type {
  Endpoint,
  MessageQueue,
  NetworkPolicySpec,
  PodTemplateOverrides,
  ResourceRequirements,
  ServiceType,
  ZeroMQPattern,
} from './types.ts';

/** Operator settings that shape what a MessageQueue resolves to (flags of `mqop operator`). */
export interface OperatorSettings {
  /** mqop's own image, for the ZeroMQ proxy and sidecars. */
  image?: string;
  /** Namespace the operator runs in: its smoke tests must pass the NetworkPolicy. */
  namespace?: string;
  /** Registry that replaces `docker.io` in default engine images (air-gapped clusters). */
  imageRegistry?: string;
  /** Cluster DNS domain. */
  clusterDomain?: string;
  /**
   * Images a MessageQueue's `spec.image` may put into the ZeroMQ sidecar (which runs in the
   * user's pods, with their network and ServiceAccount token). Any other image runs the central
   * proxy only; the sidecar then runs mqop's own image.
   */
  sidecarImages?: readonly string[];
}

/** Default mqop image; the packaging step overrides it through the operator flag. */
export const DEFAULT_OPERATOR_IMAGE = 'ghcr.io/mqop/mqop:0.1.0';

export interface StorageContext {
  ephemeral: boolean;
  size: string;
  storageClassName?: string;
  deleteClaim: boolean;
}

/** Smoke-test settings with their defaults. */
export interface SmokeSettings {
  enabled: boolean;
  intervalSeconds: number;
  messages: number;
  messageBytes: number;
  timeoutSeconds: number;
}

export interface ResolvedQueue {
  cr: MessageQueue;
  name: string;
  namespace: string;
  engine: EngineName;
  names: DerivedNames;
  version: string;
  image: string;
  operatorImage: string;
  operatorNamespace?: string;
  replicas: number;
  resources?: ResourceRequirements;
  storage: StorageContext;
  config: Record<string, string>;
  podTemplate: PodTemplateOverrides;
  serviceType: ServiceType;
  serviceAnnotations: Record<string, string>;
  networkPolicy: NetworkPolicySpec;
  zeromq: {
    pattern: ZeroMQPattern;
    sidecarFor: string[];
    /** The sidecar's image: mqop's own, or `spec.image` when the operator allows it (sidecarImages). */
    sidecarImage: string;
  };
  /** Whether the engine has user/password authentication (a credentials Secret). */
  supportsAuth: boolean;
  /** The Secret with `username` and `password`: the user's (`spec.auth.secretName`) or mqop's. */
  credentialsSecret: string;
  clusterDomain: string;
  /** Where clients connect (status.endpoint, the connection Secret, the smoke tests). */
  endpoint: Endpoint;
  smokeTest: SmokeSettings;
  /**
   * What in the spec mqop refuses to run (the config policy, values that must fit a label), each
   * naming its field. The CRD refuses the same where CEL can say it; this is the operator's own
   * check, for what CEL cannot express and for clusters whose CRD is older than the operator.
   * Not empty: the MessageQueue stalls with these messages and nothing is applied.
   */
  problems: ConfigProblem[];
  /** `<svc>.<ns>.svc.<domain>` for a Service name. */
  serviceHost(service: string): string;
  /** Stable DNS name of pod `ordinal` of a StatefulSet behind a headless Service. */
  podHost(statefulSet: string, headless: string, ordinal: number): string;
}

/** Default PVC size per data-keeping engine: enough for a dev cluster, easy to raise. */
const DEFAULT_STORAGE_SIZE = '8Gi';

/** Rewrites the registry of a default image for air-gapped clusters; `docker.io/x` -> `<reg>/x`. */
export function rewriteRegistry(image: string, registry: string | undefined): string {
  if (!registry) return image;
  const slash = image.indexOf('/');
  const first = slash < 0 ? '' : image.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const path = hasRegistry ? image.slice(slash + 1) : image;
  return `${registry.replace(/\/+$/, '')}/${path}`;
}

/** Seconds between smoke tests when the spec sets none. */
export const DEFAULT_SMOKE_INTERVAL_SECONDS = 300;

/** A smoke test's timeout when the spec sets none: a minute, but never more than half the interval. */
export function smokeTimeoutSeconds(cr: MessageQueue): number {
  const s = cr.spec.smokeTest ?? {};
  return (
    s.timeoutSeconds ??
    Math.max(1, Math.min(60, Math.floor((s.intervalSeconds ?? DEFAULT_SMOKE_INTERVAL_SECONDS) / 2)))
  );
}

/**
 * The ZeroMQ sidecar's image. The sidecar runs inside someone else's pod, so a tenant's
 * `spec.image` goes there only when the operator's allow-list names it exactly; otherwise the
 * sidecar runs mqop's own image (the central proxy, the tenant's own pod, still runs `spec.image`).
 */
export function sidecarImage(
  specImage: string | undefined,
  operatorImage: string,
  allowed: readonly string[] = [],
): string {
  return specImage && allowed.includes(specImage) ? specImage : operatorImage;
}

/** Resolves a MessageQueue; throws only on programming errors, never on valid specs. */
export function resolve(cr: MessageQueue, operator: OperatorSettings = {}): ResolvedQueue {
  const spec = cr.spec;
  const engine = spec.engine;
  const traits = ENGINE_TRAITS[engine];
  const name = cr.metadata.name;
  const namespace = cr.metadata.namespace ?? 'default';
  const operatorImage = operator.image ?? DEFAULT_OPERATOR_IMAGE;
  const version = spec.version || traits.defaultVersion || operatorImage.split(':').pop() || '';
  const defaultImage = traits.image
    ? rewriteRegistry(traits.image(version), operator.imageRegistry)
    : operatorImage;
  const clusterDomain = operator.clusterDomain ?? 'cluster.local';
  const names = derivedNames(name, engine);
  const st = spec.storage ?? {};
  const serviceHost = (svc: string) => `${svc}.${namespace}.svc.${clusterDomain}`;
  const replicas = spec.replicas ?? 1;
  const rule = traits.endpoint(replicas);
  const host = serviceHost(rule.service === 'companion' ? names.companion : names.workload);
  const smoke = spec.smokeTest ?? {};
  return {
    cr,
    name,
    namespace,
    engine,
    names,
    version,
    image: spec.image || defaultImage,
    operatorImage,
    operatorNamespace: operator.namespace,
    replicas,
    resources: spec.resources,
    storage: {
      ephemeral: st.ephemeral === true || !traits.keepsData,
      size: st.size === undefined ? DEFAULT_STORAGE_SIZE : String(st.size),
      storageClassName: st.storageClassName || undefined,
      deleteClaim: st.deleteClaim === true,
    },
    config: spec.config ?? {},
    podTemplate: spec.podTemplate ?? {},
    serviceType: spec.service?.type ?? 'ClusterIP',
    serviceAnnotations: spec.service?.annotations ?? {},
    networkPolicy: spec.networkPolicy ?? {},
    zeromq: {
      pattern: spec.zeromq?.pattern ?? 'pubsub',
      sidecarFor: spec.zeromq?.sidecarFor ?? [],
      sidecarImage: sidecarImage(spec.image, operatorImage, operator.sidecarImages),
    },
    supportsAuth: traits.supportsAuth,
    credentialsSecret: spec.auth?.secretName || names.credentials,
    clusterDomain,
    endpoint: { host, port: rule.port, url: `${rule.scheme}://${host}:${rule.port}${rule.path ?? ''}` },
    smokeTest: {
      enabled: smoke.enabled !== false,
      intervalSeconds: smoke.intervalSeconds ?? DEFAULT_SMOKE_INTERVAL_SECONDS,
      messages: smoke.messages ?? 10,
      messageBytes: smoke.messageBytes ?? 1024,
      timeoutSeconds: smokeTimeoutSeconds(cr),
    },
    problems: specProblems(engine, version, spec.config ?? {}),
    serviceHost,
    podHost: (sts, headless, ordinal) => `${sts}-${ordinal}.${serviceHost(headless)}`,
  };
}

/** A Kubernetes label value: what `app.kubernetes.io/version` can hold. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The operator's own check of a spec (see `ResolvedQueue.problems`). Pure. */
export function specProblems(
  engine: EngineName,
  version: string,
  config: Readonly<Record<string, string>>,
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (version.length > 63 || !LABEL_VALUE.test(version))
    out.push({
      field: 'spec.version',
      message: `version "${version}" cannot be a label value or an image tag: use letters, digits, '.', '-' and '_' only, at most 63`,
    });
  return [...out, ...configProblems(engine, config)];
}
