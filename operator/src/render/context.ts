/**
 * Resolves a MessageQueue plus render inputs into a RenderContext: every default applied, every
 * name derived. Engines read only the context, so defaults live in exactly one place.
 */
import { ENGINE_TRAITS, type EngineName } from '../api/engines.ts';
import type {
  MessageQueue,
  NetworkPolicySpec,
  PodTemplateOverrides,
  ResourceRequirements,
  ServiceType,
  ZeroMQPattern,
} from '../api/types.ts';
import { type DerivedNames, derivedNames } from './names.ts';

/** Values that come from outside the CR: Secrets the controller keeps, operator settings. */
export interface RenderInputs {
  /** Username and password from the credentials Secret (absent for engines without auth). */
  credentials?: { username: string; password: string };
  /** Generated engine-internal values from the internal Secret, by key (e.g. `erlang-cookie`). */
  internal?: Record<string, string>;
  /** Operator settings. */
  operator?: {
    /** mqop's own image, for the ZeroMQ proxy and sidecars. */
    image?: string;
    /** Namespace the operator runs in: its smoke tests must pass the NetworkPolicy. */
    namespace?: string;
    /** Registry that replaces `docker.io` in default engine images (air-gapped clusters). */
    imageRegistry?: string;
    /** Cluster DNS domain. */
    clusterDomain?: string;
  };
}

/** Default mqop image; the packaging step overrides it through the operator flag. */
export const DEFAULT_OPERATOR_IMAGE = 'ghcr.io/mqop/mqop:0.1.0';

export interface StorageContext {
  ephemeral: boolean;
  size: string;
  storageClassName?: string;
  deleteClaim: boolean;
}

export interface RenderContext {
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
  zeromq: { pattern: ZeroMQPattern; sidecarFor: string[] };
  credentials: { username: string; password: string };
  credentialsSecret: string;
  internal: Record<string, string>;
  clusterDomain: string;
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

/** Builds the context; throws only on programming errors, never on valid specs. */
export function renderContext(cr: MessageQueue, inputs: RenderInputs = {}): RenderContext {
  const spec = cr.spec;
  const engine = spec.engine;
  const traits = ENGINE_TRAITS[engine];
  const name = cr.metadata.name;
  const namespace = cr.metadata.namespace ?? 'default';
  const operatorImage = inputs.operator?.image ?? DEFAULT_OPERATOR_IMAGE;
  const version = spec.version || traits.defaultVersion || operatorImage.split(':').pop() || '';
  const defaultImage = traits.image
    ? rewriteRegistry(traits.image(version), inputs.operator?.imageRegistry)
    : operatorImage;
  const clusterDomain = inputs.operator?.clusterDomain ?? 'cluster.local';
  const names = derivedNames(name, engine);
  const st = spec.storage ?? {};
  const serviceHost = (svc: string) => `${svc}.${namespace}.svc.${clusterDomain}`;
  return {
    cr,
    name,
    namespace,
    engine,
    names,
    version,
    image: spec.image || defaultImage,
    operatorImage,
    operatorNamespace: inputs.operator?.namespace,
    replicas: spec.replicas ?? 1,
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
    zeromq: { pattern: spec.zeromq?.pattern ?? 'pubsub', sidecarFor: spec.zeromq?.sidecarFor ?? [] },
    credentials: inputs.credentials ?? { username: '', password: '' },
    credentialsSecret: spec.auth?.secretName || names.credentials,
    internal: inputs.internal ?? {},
    clusterDomain,
    serviceHost,
    podHost: (sts, headless, ordinal) => `${sts}-${ordinal}.${serviceHost(headless)}`,
  };
}
