/**
 * TypeScript view of `mqop.dev/v1alpha1` MessageQueue. The OpenAPI schema in `schema.ts` is the
 * source of truth for what the API server accepts; these types mirror it for the code, and the
 * property tests generate objects from the schema and feed them through code typed by these.
 */
import type { EngineName } from './engines.ts';

export const GROUP = 'mqop.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'MessageQueue';
export const PLURAL = 'messagequeues';

export type Quantity = string | number;

export interface ResourceRequirements {
  limits?: Record<string, Quantity>;
  requests?: Record<string, Quantity>;
}

export interface StorageSpec {
  /** Size of each persistent volume claim, e.g. `10Gi`. */
  size?: Quantity;
  /** Storage class; empty means the cluster default. */
  storageClassName?: string;
  /** Delete the claims when the MessageQueue is deleted. */
  deleteClaim?: boolean;
  /** Use emptyDir instead of claims: data is lost when a pod goes. */
  ephemeral?: boolean;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface PodTemplateOverrides {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  /** corev1 Affinity, passed through unchanged. */
  affinity?: Record<string, unknown>;
  priorityClassName?: string;
}

export interface SmokeTestSpec {
  enabled?: boolean;
  intervalSeconds?: number;
  messages?: number;
  messageBytes?: number;
  timeoutSeconds?: number;
}

export interface NetworkPolicyPeerSpec {
  namespaceSelector?: { matchLabels?: Record<string, string> };
  podSelector?: { matchLabels?: Record<string, string> };
}

export interface NetworkPolicySpec {
  enabled?: boolean;
  /** Who may reach the client ports; empty means pods of the same namespace. */
  allowFrom?: NetworkPolicyPeerSpec[];
}

export type ZeroMQPattern = 'pubsub' | 'pipeline';

export interface ZeroMQSpec {
  pattern?: ZeroMQPattern;
  /** Deployments in the same namespace that get a forwarding sidecar. */
  sidecarFor?: string[];
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

export interface MessageQueueSpec {
  engine: EngineName;
  version?: string;
  image?: string;
  replicas?: number;
  resources?: ResourceRequirements;
  storage?: StorageSpec;
  auth?: { secretName?: string };
  config?: Record<string, string>;
  service?: { type?: ServiceType; annotations?: Record<string, string> };
  podTemplate?: PodTemplateOverrides;
  smokeTest?: SmokeTestSpec;
  networkPolicy?: NetworkPolicySpec;
  zeromq?: ZeroMQSpec;
}

export type Phase = 'Pending' | 'Provisioning' | 'Ready' | 'Degraded' | 'Failed' | 'Deleting';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface Endpoint {
  host: string;
  port: number;
  url: string;
}

export type SmokeResult = 'Passed' | 'Failed' | 'Skipped';

export interface SmokeTestStatus {
  lastRunTime?: string;
  result?: SmokeResult;
  produced?: number;
  consumed?: number;
  lost?: number;
  duplicated?: number;
  outOfOrder?: number;
  p50Millis?: number;
  p99Millis?: number;
  consecutiveFailures?: number;
  errorKind?: string;
  message?: string;
  /** The value of the run-smoke-test annotation this run answered. */
  trigger?: string;
}

export interface MessageQueueStatus {
  observedGeneration?: number;
  phase?: Phase;
  conditions?: Condition[];
  version?: string;
  replicas?: number;
  readyReplicas?: number;
  endpoint?: Endpoint;
  connectionSecret?: string;
  smokeTest?: SmokeTestStatus;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
}

export interface MessageQueue {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: MessageQueueSpec;
  status?: MessageQueueStatus;
}

/** Annotation whose every new value triggers one smoke test now. */
export const RUN_SMOKE_TEST_ANNOTATION = `${GROUP}/run-smoke-test`;
/** Label that, set to "true", stops reconciliation of that resource. */
export const PAUSED_LABEL = `${GROUP}/paused`;
