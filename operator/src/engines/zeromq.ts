/**
 * ZeroMQ is brokerless, so mqop runs its own device: a Deployment of `mqop zmq-proxy` (XSUB/XPUB
 * forwarder for `pubsub`, PULL/PUSH streamer for `pipeline`) behind a Service. Producers connect
 * to the frontend (5555), consumers to the backend (5556).
 *
 * `zeromq.sidecarFor` names Deployments of the user's; each that invites the MessageQueue (the
 * annotation `mqop.dev/zeromq-sidecar: <messagequeue>` on the Deployment, see SIDECAR_INVITATION)
 * gets a forwarding sidecar container through server-side apply (a partial Deployment, see
 * PATCH_ANNOTATION); nothing else of the Deployment is written. The sidecar runs mqop's own image
 * unless the operator's allow-list names `spec.image` (`ctx.zeromq.sidecarImage`). The application talks
 * to the sidecar on localhost (publish/push to 5557, subscribe/pull from 5558); the sidecar relays
 * to the central proxy. ZeroMQ has no user/password scheme here: restrict access with
 * `spec.networkPolicy`.
 *
 * Image: mqop's own (the `mqop` CLI on PATH), running as uid 65532 with a read-only root.
 */
import type { Chart } from 'cdk8s';
import { ApiObject } from 'cdk8s';
import type { k8s } from 'cdk8s-plus-34';
import type { ResolvedQueue } from '../api/resolve.ts';
import type { RenderContext } from '../render/context.ts';
import { PATCH_ANNOTATION } from '../render/patch.ts';
import { restrictedContainerSecurityContext } from '../render/security.ts';
import { componentServices, containerResources, deployment, port } from '../render/workload.ts';
import type { EngineModule } from './types.ts';

export const FRONTEND_PORT = 5555;
export const BACKEND_PORT = 5556;
/** Ports the sidecar binds on the pod's loopback for the application. */
export const SIDECAR_FRONTEND_PORT = 5557;
export const SIDECAR_BACKEND_PORT = 5558;
const HEALTH_PORT = 8080;
/** High port for the sidecar's health endpoint, unlikely to clash with the application's. */
const SIDECAR_HEALTH_PORT = 18080;
/** uid/gid of the non-root user in the mqop image. */
export const MQOP_UID = 65532;
/** Name of the container mqop adds to the user's Deployments. */
export const SIDECAR_CONTAINER = 'mqop-zmq-sidecar';
/**
 * The annotation a Deployment carries to invite one MessageQueue's sidecar, its value the
 * MessageQueue's name. One name, not a list: the sidecar binds fixed loopback ports (5557, 5558),
 * so a pod holds at most one.
 */
export const SIDECAR_INVITATION = 'mqop.dev/zeromq-sidecar';

/** Whether a Deployment's annotations invite this MessageQueue's sidecar. Pure. */
export function invitesSidecar(
  annotations: Record<string, string> | undefined,
  q: Pick<ResolvedQueue, 'name'>,
): boolean {
  return annotations?.[SIDECAR_INVITATION]?.trim() === q.name;
}

/** `spec.config` tuning keys become flags of `mqop zmq-proxy`. */
function tuningFlags(ctx: RenderContext): string[] {
  return Object.entries(ctx.config).flatMap(([k, v]) => [`--${k}`, v]);
}

const healthProbe = (p: number): k8s.Probe => ({
  httpGet: { path: '/healthz', port: port(p) },
  periodSeconds: 10,
  timeoutSeconds: 2,
  failureThreshold: 3,
});

/** Marks the sidecar patches of one MessageQueue in the user's Deployments. */
const sidecarMarker = (q: { name: string }) => `zeromq-sidecar/${q.name}`;

export const zeromq: EngineModule = {
  name: 'zeromq',
  internal: {},
  patches: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    field: 'zeromq.sidecarFor',
    marker: sidecarMarker,
    wanted: (q) => q.zeromq.sidecarFor.length > 0,
    invitation: { annotation: SIDECAR_INVITATION, invites: invitesSidecar },
  },

  binding(ctx) {
    const host = ctx.serviceHost(ctx.names.workload);
    return {
      type: 'zeromq',
      uri: `tcp://${host}:${FRONTEND_PORT}`,
      extra: {
        pattern: ctx.zeromq.pattern,
        frontend: `tcp://${host}:${FRONTEND_PORT}`,
        backend: `tcp://${host}:${BACKEND_PORT}`,
      },
    };
  },

  render(chart: Chart, ctx: RenderContext) {
    const n = ctx.names;
    const ports = [
      { name: 'frontend', port: FRONTEND_PORT, appProtocol: 'zmtp' },
      { name: 'backend', port: BACKEND_PORT, appProtocol: 'zmtp' },
    ];
    deployment(chart, ctx, {
      name: n.workload,
      component: 'proxy',
      replicas: ctx.replicas,
      uid: MQOP_UID,
      terminationGracePeriodSeconds: 15,
      containers: [
        {
          name: 'zmq-proxy',
          image: ctx.image,
          command: ['mqop'],
          args: [
            'zmq-proxy',
            '--role=central',
            `--pattern=${ctx.zeromq.pattern}`,
            `--frontend=tcp://*:${FRONTEND_PORT}`,
            `--backend=tcp://*:${BACKEND_PORT}`,
            `--health-port=${HEALTH_PORT}`,
            ...tuningFlags(ctx),
          ],
          ports: [
            { name: 'frontend', containerPort: FRONTEND_PORT, protocol: 'TCP' },
            { name: 'backend', containerPort: BACKEND_PORT, protocol: 'TCP' },
            { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
          ],
          // ephemeral-storage: the proxy writes nothing to disk (read-only root filesystem); what
          // counts is its log, which the kubelet rotates (by default 5 x 10Mi).
          resources: containerResources(ctx, {
            requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '16Mi' },
            limits: { memory: '256Mi', 'ephemeral-storage': '128Mi' },
          }),
          readinessProbe: healthProbe(HEALTH_PORT),
          livenessProbe: { ...healthProbe(HEALTH_PORT), initialDelaySeconds: 5 },
          securityContext: restrictedContainerSecurityContext(),
        },
      ],
    });
    componentServices(chart, ctx, {
      name: n.workload,
      headless: n.headless,
      component: 'proxy',
      replicas: ctx.replicas,
      ports,
    });

    const host = ctx.serviceHost(n.workload);
    for (const target of ctx.zeromq.sidecarFor) {
      new ApiObject(chart, `sidecar-${target}`, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: target,
          annotations: { [PATCH_ANNOTATION]: sidecarMarker(ctx) },
        },
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: SIDECAR_CONTAINER,
                  // Never a tenant's arbitrary image in someone else's pod (resolve.ts sidecarImage).
                  image: ctx.zeromq.sidecarImage,
                  command: ['mqop'],
                  args: [
                    'zmq-proxy',
                    '--role=sidecar',
                    `--pattern=${ctx.zeromq.pattern}`,
                    `--frontend=tcp://127.0.0.1:${SIDECAR_FRONTEND_PORT}`,
                    `--backend=tcp://127.0.0.1:${SIDECAR_BACKEND_PORT}`,
                    `--upstream-frontend=tcp://${host}:${FRONTEND_PORT}`,
                    `--upstream-backend=tcp://${host}:${BACKEND_PORT}`,
                    `--health-port=${SIDECAR_HEALTH_PORT}`,
                    ...tuningFlags(ctx),
                  ],
                  resources: {
                    requests: { cpu: '10m', memory: '32Mi', 'ephemeral-storage': '16Mi' },
                    limits: { memory: '128Mi', 'ephemeral-storage': '128Mi' },
                  },
                  readinessProbe: toJsonProbe(SIDECAR_HEALTH_PORT),
                  livenessProbe: { ...toJsonProbe(SIDECAR_HEALTH_PORT), initialDelaySeconds: 5 },
                  // The pod is the user's: set non-root on the container itself.
                  securityContext: {
                    ...restrictedContainerSecurityContext(),
                    runAsUser: MQOP_UID,
                    runAsGroup: MQOP_UID,
                  },
                },
              ],
            },
          },
        },
      });
    }
  },
};

/** Probe as plain JSON (ApiObject takes JSON, not cdk8s L1 props). */
function toJsonProbe(p: number) {
  return {
    httpGet: { path: '/healthz', port: p },
    periodSeconds: 10,
    timeoutSeconds: 2,
    failureThreshold: 3,
  };
}
