/** Operator settings from flags, falling back to environment variables. */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

export interface OperatorConfig {
  kubeconfig?: string;
  /** Namespaces to watch; empty means all. */
  namespaces: string[];
  concurrency: number;
  imageRegistry?: string;
  operatorImage?: string;
  operatorNamespace: string;
  leaderElect: boolean;
  leaseName: string;
  identity: string;
  healthPort: number;
  resyncSeconds: number;
  logLevel: string;
  /** Run smoke tests (off for control-plane-only tests where no pod ever runs). */
  smokeTests: boolean;
  /** Smoke tests running at once, in total and per namespace. */
  smokeConcurrency: number;
  smokeConcurrencyPerNamespace: number;
  /** At least this long between two runs triggered by the run-smoke-test annotation. */
  smokeTriggerMinIntervalSeconds: number;
  /** Images a MessageQueue's spec.image may put into a ZeroMQ sidecar (exact references). */
  sidecarImages: string[];
  /**
   * Whether mqop may write Roles and RoleBindings (RabbitMQ before 4.1 needs them for peer
   * discovery). Off: they are not watched, and a MessageQueue that would need one stalls.
   */
  manageRoles: boolean;
}

export const OPERATOR_USAGE = `mqop operator [flags]
  --kubeconfig PATH         (env KUBECONFIG; default: in-cluster)
  --namespaces a,b          namespaces to watch (env MQOP_NAMESPACES; default all)
  --concurrency N           parallel reconciles (env MQOP_CONCURRENCY; default 4)
  --image-registry R        rewrite docker.io in default engine images (env MQOP_IMAGE_REGISTRY)
  --operator-image I        image for the ZeroMQ proxy and sidecars (env MQOP_IMAGE)
  --operator-namespace N    namespace of the operator and its Lease (env POD_NAMESPACE; default mqop-system)
  --leader-elect=false      run without a Lease (env MQOP_LEADER_ELECT)
  --health-port P           /healthz /readyz /metrics (env MQOP_HEALTH_PORT; default 8081)
  --resync-seconds S        full resync period (env MQOP_RESYNC_SECONDS; default 300)
  --smoke-tests=false       do not run smoke tests (env MQOP_SMOKE_TESTS)
  --smoke-concurrency N     smoke tests at once, in total (env MQOP_SMOKE_CONCURRENCY; default 2)
  --smoke-concurrency-per-namespace N
                            smoke tests at once per namespace (env MQOP_SMOKE_CONCURRENCY_PER_NAMESPACE; default 1)
  --smoke-trigger-min-interval-seconds S
                            at least S between two annotation-triggered runs of one MessageQueue
                            (env MQOP_SMOKE_TRIGGER_MIN_INTERVAL_SECONDS; default 30)
  --sidecar-images a,b      spec.image values allowed in ZeroMQ sidecars; others get the operator
                            image (env MQOP_SIDECAR_IMAGES; default none)
  --manage-roles=false      do not watch or write Roles/RoleBindings (RabbitMQ < 4.1 then stalls)
                            (env MQOP_MANAGE_ROLES; default true)
  --log-level L             (env MQOP_LOG_LEVEL; default info)
`;

const bool = (v: string | undefined, dflt: boolean) =>
  v === undefined ? dflt : !['false', '0', 'no'].includes(v);

export function operatorConfig(args: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      namespaces: { type: 'string' },
      concurrency: { type: 'string' },
      'image-registry': { type: 'string' },
      'operator-image': { type: 'string' },
      'operator-namespace': { type: 'string' },
      'leader-elect': { type: 'string' },
      'lease-name': { type: 'string' },
      identity: { type: 'string' },
      'health-port': { type: 'string' },
      'resync-seconds': { type: 'string' },
      'smoke-tests': { type: 'string' },
      'log-level': { type: 'string' },
      'smoke-concurrency': { type: 'string' },
      'smoke-concurrency-per-namespace': { type: 'string' },
      'smoke-trigger-min-interval-seconds': { type: 'string' },
      'sidecar-images': { type: 'string' },
      'manage-roles': { type: 'string' },
    },
  });
  const num = (v: string | undefined, d: number, what: string) => {
    if (v === undefined || v === '') return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got "${v}"`);
    return n;
  };
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const namespaces = list(values.namespaces ?? env.MQOP_NAMESPACES);
  return {
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    namespaces,
    concurrency: Math.max(1, num(values.concurrency ?? env.MQOP_CONCURRENCY, 4, '--concurrency')),
    imageRegistry: values['image-registry'] ?? env.MQOP_IMAGE_REGISTRY,
    operatorImage: values['operator-image'] ?? env.MQOP_IMAGE,
    operatorNamespace: values['operator-namespace'] ?? env.POD_NAMESPACE ?? 'mqop-system',
    leaderElect: bool(values['leader-elect'] ?? env.MQOP_LEADER_ELECT, true),
    leaseName: values['lease-name'] ?? 'mqop-leader',
    identity: values.identity ?? env.POD_NAME ?? `${hostname()}-${process.pid}`,
    healthPort: num(values['health-port'] ?? env.MQOP_HEALTH_PORT, 8081, '--health-port'),
    resyncSeconds: Math.max(
      5,
      num(values['resync-seconds'] ?? env.MQOP_RESYNC_SECONDS, 300, '--resync-seconds'),
    ),
    logLevel: values['log-level'] ?? env.MQOP_LOG_LEVEL ?? 'info',
    smokeTests: bool(values['smoke-tests'] ?? env.MQOP_SMOKE_TESTS, true),
    smokeConcurrency: Math.max(
      1,
      num(values['smoke-concurrency'] ?? env.MQOP_SMOKE_CONCURRENCY, 2, '--smoke-concurrency'),
    ),
    smokeConcurrencyPerNamespace: Math.max(
      1,
      num(
        values['smoke-concurrency-per-namespace'] ?? env.MQOP_SMOKE_CONCURRENCY_PER_NAMESPACE,
        1,
        '--smoke-concurrency-per-namespace',
      ),
    ),
    smokeTriggerMinIntervalSeconds: num(
      values['smoke-trigger-min-interval-seconds'] ?? env.MQOP_SMOKE_TRIGGER_MIN_INTERVAL_SECONDS,
      30,
      '--smoke-trigger-min-interval-seconds',
    ),
    sidecarImages: list(values['sidecar-images'] ?? env.MQOP_SIDECAR_IMAGES),
    manageRoles: bool(values['manage-roles'] ?? env.MQOP_MANAGE_ROLES, true),
  };
}
