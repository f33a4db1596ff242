/**
 * The engine table: every per-engine fact that the API schema (CEL rules) and the renderers both
 * need lives here, so the two can never disagree about what an engine allows.
 */

/** The six engines mqop runs. Order matters only for docs and printing. */
export const ENGINES = ['rabbitmq', 'redis', 'kafka', 'activemq', 'rocketmq', 'zeromq'] as const;
export type EngineName = (typeof ENGINES)[number];

/**
 * Where clients connect: a Service of the MessageQueue, a port, and the URL that status and the
 * smoke tests use. Never a secret.
 */
export interface EndpointRule {
  /** `workload`: the client Service `<cr>-<engine>`; `companion`: the companion's (Redis Sentinel). */
  service: 'workload' | 'companion';
  port: number;
  /** URL scheme, e.g. `amqp`, `redis+sentinel`. */
  scheme: string;
  /** URL path after `host:port`, e.g. `/mymaster`. */
  path?: string;
}

/** Static traits of one engine, independent of any MessageQueue. */
export interface EngineTraits {
  /** Whether the engine keeps data on disk (and so accepts `spec.storage`). */
  keepsData: boolean;
  /** Whether the engine has user/password authentication (and so accepts `spec.auth`). */
  supportsAuth: boolean;
  /** Allowed values of `spec.replicas`, and the reason a person reads when a value is refused. */
  replicas: { allowed: readonly number[]; why: string };
  /**
   * How `spec.replicas` may change on an existing MessageQueue (default: freely). `grow`: up only;
   * `fixed`: not at all. `why` is the message a person reads when a change is refused.
   */
  replicaChange?: { allowed: 'grow' | 'fixed'; why: string };
  /** Tested default version (image tag), used when `spec.version` is empty. */
  defaultVersion: string;
  /** Fully qualified default image for a version; `null` means mqop's own image. */
  image: ((version: string) => string) | null;
  /** The client endpoint for a replica count (the engine module renders a Service with that port). */
  endpoint(replicas: number): EndpointRule;
}

const ODD = [1, 3, 5, 7, 9] as const;
const ANY = [1, 2, 3, 4, 5, 6, 7, 8, 9] as const;

/** Upper bound of `spec.replicas` for every engine (the OpenAPI `maximum`). */
export const MAX_REPLICAS = 9;

export const ENGINE_TRAITS: Record<EngineName, EngineTraits> = {
  rabbitmq: {
    keepsData: true,
    supportsAuth: true,
    replicas: { allowed: ODD, why: 'quorum queues need a majority, so a RabbitMQ cluster has an odd size' },
    replicaChange: {
      allowed: 'grow',
      why: 'RabbitMQ nodes do not leave a cluster when their pods go (the remaining nodes wait for them and quorum queues keep their members), so mqop does not scale RabbitMQ down in place, like the RabbitMQ Cluster Operator; create a new, smaller MessageQueue and move the clients',
    },
    defaultVersion: '4.1.4',
    image: (v) => `docker.io/library/rabbitmq:${v}-management`,
    endpoint: () => ({ service: 'workload', port: 5672, scheme: 'amqp' }),
  },
  redis: {
    keepsData: true,
    supportsAuth: true,
    replicas: {
      allowed: ANY,
      why: 'one replica is standalone, more are a primary with replicas and Sentinel',
    },
    defaultVersion: '7.4.6',
    image: (v) => `docker.io/library/redis:${v}`,
    // More than one replica: clients find the primary through Sentinel, since any pod may become it.
    endpoint: (replicas) =>
      replicas > 1
        ? { service: 'companion', port: 26379, scheme: 'redis+sentinel', path: '/mymaster' }
        : { service: 'workload', port: 6379, scheme: 'redis' },
  },
  kafka: {
    keepsData: true,
    supportsAuth: true,
    replicas: {
      allowed: ODD,
      why: 'KRaft controllers need a majority, so a combined-mode cluster has an odd size',
    },
    replicaChange: {
      allowed: 'fixed',
      why: 'every Kafka pod is a KRaft voter and Kafka 3.9 cannot change a static voter set, so a Kafka cluster keeps the size it was created with; create a new MessageQueue of the new size and move the clients',
    },
    defaultVersion: '3.9.1',
    image: (v) => `docker.io/apache/kafka:${v}`,
    endpoint: () => ({ service: 'workload', port: 9092, scheme: 'kafka' }),
  },
  activemq: {
    keepsData: true,
    supportsAuth: true,
    replicas: {
      allowed: [1],
      why: 'ActiveMQ Classic fails over only through shared storage, which mqop does not manage yet',
    },
    defaultVersion: '6.1.7',
    image: (v) => `docker.io/apache/activemq-classic:${v}`,
    endpoint: () => ({ service: 'workload', port: 5672, scheme: 'amqp' }),
  },
  rocketmq: {
    keepsData: true,
    supportsAuth: true,
    replicas: { allowed: ANY, why: 'each replica is one broker group, a master with its own store' },
    defaultVersion: '5.3.3',
    image: (v) => `docker.io/apache/rocketmq:${v}`,
    endpoint: () => ({ service: 'workload', port: 8081, scheme: 'rocketmq' }),
  },
  zeromq: {
    keepsData: false,
    supportsAuth: false,
    replicas: {
      allowed: [1],
      why: 'a ZeroMQ proxy is one device: producers and consumers that reached different replicas would never meet',
    },
    defaultVersion: '',
    image: null,
    endpoint: () => ({ service: 'workload', port: 5555, scheme: 'tcp' }),
  },
};

/** Engines that keep data, in table order. */
export const DATA_ENGINES = ENGINES.filter((e) => ENGINE_TRAITS[e].keepsData);
