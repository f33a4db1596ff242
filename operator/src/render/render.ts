/**
 * The render entry: the pure function from a resolved MessageQueue (and its Secrets' values) to
 * the Kubernetes objects mqop applies. Engine modules add their own objects; this module adds what
 * every engine shares (the connection Secret, the NetworkPolicy, owner references) and returns
 * plain JSON.
 */
import { App, Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { objectLabels } from '../api/labels.ts';
import type { ResolvedQueue } from '../api/resolve.ts';
import type { MessageQueue } from '../api/types.ts';
import { engineModule } from '../engines/index.ts';
import {
  type RenderContext,
  type RenderInputs,
  renderContext,
  type SecretInputs,
  withSecrets,
} from './context.ts';
import { ownerReferences } from './owner.ts';
import { PATCH_ANNOTATION } from './patch.ts';
import { secret } from './workload.ts';

/** A rendered Kubernetes object as plain JSON. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface Rendered {
  /** Objects mqop owns: applied with owner references, pruned when no longer desired. */
  objects: K8sObject[];
  /**
   * Partial objects server-side applied into objects mqop does not own (the ZeroMQ sidecar in a
   * user's Deployment). No owner reference: deleting the MessageQueue must not delete them.
   */
  patches: K8sObject[];
}

export { PATCH_ANNOTATION };

/** servicebinding.io connection Secret: type, provider, host, port, username, password, uri. */
function connectionSecret(chart: Chart, ctx: RenderContext): void {
  const ep = ctx.endpoint;
  const b = engineModule(ctx.engine).binding(ctx);
  const data: Record<string, string> = {
    type: b.type,
    provider: 'mqop',
    host: ep.host,
    port: String(ep.port),
    uri: b.uri,
    ...(b.extra ?? {}),
  };
  if (ctx.credentials.username || ctx.credentials.password) {
    data.username = ctx.credentials.username;
    data.password = ctx.credentials.password;
  }
  secret(chart, ctx, {
    name: ctx.names.connection,
    component: 'connection',
    data,
    type: `servicebinding.io/${b.type}`,
  });
}

/**
 * Optional NetworkPolicy: pods of this MessageQueue talk to each other freely; clients reach them
 * from the listed peers (default: the same namespace) and from the operator's namespace.
 */
function networkPolicy(chart: Chart, ctx: RenderContext): void {
  if (!ctx.networkPolicy.enabled) return;
  const instance = { 'app.kubernetes.io/instance': ctx.name, 'app.kubernetes.io/name': ctx.engine };
  const peers: k8s.NetworkPolicyPeer[] = [{ podSelector: { matchLabels: instance } }];
  const allow = ctx.networkPolicy.allowFrom ?? [];
  if (allow.length === 0) peers.push({ podSelector: {} });
  for (const p of allow) peers.push({ namespaceSelector: p.namespaceSelector, podSelector: p.podSelector });
  if (ctx.operatorNamespace) {
    peers.push({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ctx.operatorNamespace } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'mqop' } },
    });
  }
  new k8s.KubeNetworkPolicy(chart, `${ctx.names.networkPolicy}-netpol`, {
    metadata: { name: ctx.names.networkPolicy, labels: objectLabels(ctx, 'network-policy') },
    spec: {
      podSelector: { matchLabels: instance },
      policyTypes: ['Ingress'],
      ingress: [{ from: peers }],
    },
  });
}

/** Renders every object for a resolved MessageQueue. Pure: same input, same bytes. */
export function renderResolved(q: ResolvedQueue, secrets: SecretInputs = {}): Rendered {
  const ctx = withSecrets(q, secrets);
  const app = new App();
  const chart = new Chart(app, ctx.name, { namespace: ctx.namespace, disableResourceNameHashes: true });
  engineModule(ctx.engine).render(chart, ctx);
  connectionSecret(chart, ctx);
  networkPolicy(chart, ctx);
  const owners = ownerReferences(q.cr);
  const objects: K8sObject[] = [];
  const patches: K8sObject[] = [];
  for (const o of chart.toJson() as K8sObject[]) {
    if (o.metadata.annotations?.[PATCH_ANNOTATION]) {
      patches.push(o);
    } else {
      if (owners) o.metadata.ownerReferences = owners;
      objects.push(o);
    }
  }
  return { objects, patches };
}

/** Resolves and renders in one step (for the CLI and tests; the controller resolves once itself). */
export function render(cr: MessageQueue, inputs: RenderInputs = {}): Rendered {
  const ctx = renderContext(cr, inputs);
  return renderResolved(ctx, ctx);
}
