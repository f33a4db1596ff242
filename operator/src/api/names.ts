/**
 * Explicit, stable object names: `<cr>-<engine>` and friends, never a hash suffix. The CRD's
 * name-length rule is computed from this table, so a name that passes admission always yields
 * valid object names.
 */
import { ENGINES, type EngineName } from './engines.ts';

/** Kubernetes limit for names that end up in a DNS label (Services, most objects). */
const DNS_LABEL_MAX = 63;
/**
 * StatefulSet names are capped lower: the controller-revision-hash label value is
 * `<statefulset>-<hash of up to 10 chars>` and must itself fit in 63.
 */
const STATEFULSET_MAX = 52;

export interface DerivedNames {
  /** StatefulSet or Deployment of the main workload, also its client Service, PDB, SA. */
  workload: string;
  /** Headless Service giving each pod a stable DNS name. */
  headless: string;
  /** ConfigMap with non-secret configuration. */
  config: string;
  /** Secret with configuration files that embed credentials. */
  configSecret: string;
  /** Secret with the username and password, created once, never overwritten. */
  credentials: string;
  /** Secret with engine-internal generated values (Erlang cookie, Kafka cluster id). */
  internal: string;
  /** servicebinding.io Secret for applications. */
  connection: string;
  /** NetworkPolicy. */
  networkPolicy: string;
  /** Second StatefulSet where an engine has one (Redis Sentinel, RocketMQ namesrv). */
  companion: string;
  /** Headless Service of the companion StatefulSet. */
  companionHeadless: string;
}

const COMPANION: Record<EngineName, string> = {
  rabbitmq: 'aux',
  redis: 'sentinel',
  kafka: 'aux',
  activemq: 'aux',
  rocketmq: 'namesrv',
  zeromq: 'aux',
};

/** All names mqop derives for one MessageQueue. Pure; same input, same names. */
export function derivedNames(cr: string, engine: EngineName): DerivedNames {
  const base = `${cr}-${engine}`;
  const companion = `${base}-${COMPANION[engine]}`;
  return {
    workload: base,
    headless: `${base}-headless`,
    config: `${base}-config`,
    configSecret: `${base}-config-secret`,
    credentials: `${cr}-credentials`,
    internal: `${base}-internal`,
    connection: `${cr}-connection`,
    networkPolicy: base,
    companion,
    companionHeadless: `${companion}-headless`,
  };
}

/** Which derived names are StatefulSet names (and so have the lower limit). */
const STATEFULSET_KEYS: ReadonlySet<keyof DerivedNames> = new Set(['workload', 'companion']);

/** The longest MessageQueue name for an engine such that every derived name stays valid. */
export function maxCrNameLength(engine: EngineName): number {
  const suffixes = derivedNames('', engine);
  let max = DNS_LABEL_MAX;
  for (const [key, suffix] of Object.entries(suffixes) as [keyof DerivedNames, string][]) {
    const limit = STATEFULSET_KEYS.has(key) ? STATEFULSET_MAX : DNS_LABEL_MAX;
    max = Math.min(max, limit - suffix.length);
  }
  return max;
}

/** Name limits by engine, for the CRD's CEL rule and for tests. */
export const MAX_CR_NAME: Record<EngineName, number> = Object.fromEntries(
  ENGINES.map((e) => [e, maxCrNameLength(e)]),
) as Record<EngineName, number>;

/** The label-value limit every name must meet on its own (app.kubernetes.io/instance). */
export { DNS_LABEL_MAX, STATEFULSET_MAX };
