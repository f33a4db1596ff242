/**
 * REST paths of the kinds mqop reads and writes. A static table: mqop manages a fixed set of
 * kinds, so discovery would add a failure mode and nothing else.
 */
import { GROUP, PLURAL, VERSION } from '../api/types.ts';

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const T = (apiVersion: string, kind: string, plural: string, namespaced = true): ResourceType => ({
  apiVersion,
  kind,
  plural,
  namespaced,
});

export const MESSAGE_QUEUE = T(`${GROUP}/${VERSION}`, 'MessageQueue', PLURAL);
export const SECRET = T('v1', 'Secret', 'secrets');
export const EVENT = T('v1', 'Event', 'events');
export const PVC = T('v1', 'PersistentVolumeClaim', 'persistentvolumeclaims');
export const POD = T('v1', 'Pod', 'pods');
export const NAMESPACE = T('v1', 'Namespace', 'namespaces', false);
export const LEASE = T('coordination.k8s.io/v1', 'Lease', 'leases');
export const DEPLOYMENT = T('apps/v1', 'Deployment', 'deployments');

/** Every kind a renderer may produce; the controller watches each, by the owner label. */
export const OWNED_TYPES: readonly ResourceType[] = [
  T('v1', 'ConfigMap', 'configmaps'),
  SECRET,
  T('v1', 'Service', 'services'),
  T('v1', 'ServiceAccount', 'serviceaccounts'),
  T('apps/v1', 'StatefulSet', 'statefulsets'),
  DEPLOYMENT,
  T('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  T('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies'),
  T('rbac.authorization.k8s.io/v1', 'Role', 'roles'),
  T('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings'),
];

/**
 * Kinds only RabbitMQ before 4.1 renders (its peer discovery reads the Kubernetes API). An operator
 * started with `--manage-roles=false` neither watches nor writes them, so its RBAC needs no rights
 * on them (nor the rights such a Role grants). Pure.
 */
const ROLE_KINDS = new Set(['Role', 'RoleBinding', 'ServiceAccount']);
export function ownedTypes(manageRoles: boolean): readonly ResourceType[] {
  return manageRoles ? OWNED_TYPES : OWNED_TYPES.filter((t) => !ROLE_KINDS.has(t.kind));
}

const BY_KIND = new Map(
  [...OWNED_TYPES, MESSAGE_QUEUE, EVENT, PVC, POD, NAMESPACE, LEASE].map((t) => [
    `${t.apiVersion}/${t.kind}`,
    t,
  ]),
);

/** The resource type of an object, or an error naming it. */
export function typeOf(obj: { apiVersion: string; kind: string }): ResourceType {
  const t = BY_KIND.get(`${obj.apiVersion}/${obj.kind}`);
  if (!t) throw new Error(`mqop does not manage ${obj.apiVersion} ${obj.kind}`);
  return t;
}

/** `/api/v1/namespaces/ns/secrets[/name]` or `/apis/apps/v1/...`; namespace empty = all. */
export function resourcePath(t: ResourceType, namespace?: string, name?: string): string {
  const base = t.apiVersion.includes('/') ? `/apis/${t.apiVersion}` : `/api/${t.apiVersion}`;
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${t.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}
