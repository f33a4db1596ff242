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
    },
  });
  const num = (v: string | undefined, d: number, what: string) => {
    if (v === undefined || v === '') return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got "${v}"`);
    return n;
  };
  const namespaces = (values.namespaces ?? env.MQOP_NAMESPACES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
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
  };
}
