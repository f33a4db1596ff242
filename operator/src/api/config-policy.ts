/**
 * What a MessageQueue author may write in `spec.config`, per engine. One table feeds three readers:
 * the CRD's CEL rules (`schema.ts`: the API server refuses what CEL can express), the operator's
 * own check (`configProblems`, run on every reconcile, so a cluster with an older CRD is no
 * weaker, and so what CEL cannot express still stops the MessageQueue with a message), and
 * `docs/api.md` (generated: the policy as a person reads it).
 *
 * Keys are compared the way each engine compares them: Redis lowercases directives, the others
 * match exactly. Groups of keys are refused with the reason a person reads; engines whose keys
 * are few (ActiveMQ, ZeroMQ) accept a fixed list instead, each key with the values it takes.
 * Values are one line (the OpenAPI pattern); each engine's renderer encodes them for its file
 * format, and values that no encoding can carry are refused here.
 */
import type { EngineName } from './engines.ts';

/** A group of keys refused for one reason. Keys and prefixes are in the engine's normal form. */
export interface RefusedKeys {
  keys?: readonly string[];
  prefixes?: readonly string[];
  suffixes?: readonly string[];
  why: string;
}

/** A rule on values: a pattern both RE2 (CEL) and JavaScript read the same way. */
export interface ValueRule {
  pattern: string;
  what: string;
}

export interface ConfigPolicy {
  /** The file `spec.config` lands in, and its format. */
  file: string;
  /** `insensitive`: the engine lowercases keys before it looks them up (Redis). */
  keyCase: 'sensitive' | 'insensitive';
  refused: readonly RefusedKeys[];
  /** When set, the only keys the engine accepts, each with its values. */
  allowed?: Readonly<Record<string, ValueRule>>;
  /** A rule every value must meet (beyond being one line). */
  value?: ValueRule;
  /** How the renderer writes values into the file. */
  encoding: string;
}

const AUTH_WHY =
  "authentication and authorization are mqop's: the user in the connection Secret stays the only way in, with a password";

/** A size in ActiveMQ's own syntax or as a Kubernetes binary quantity. */
const ACTIVEMQ_SIZE: ValueRule = {
  pattern: '^[0-9]{1,12} ?([kKmMgG][bB]|[KMGT]i)?$',
  what: 'a size: 512 mb, 1 gb, 512Mi',
};

export const CONFIG_POLICY: Record<EngineName, ConfigPolicy> = {
  rabbitmq: {
    file: 'rabbitmq.conf (sysctl-like `key = value`)',
    keyCase: 'sensitive',
    refused: [
      {
        keys: [
          'default_user',
          'default_pass',
          'default_vhost',
          'loopback_users',
          'anonymous_login_user',
          'anonymous_login_pass',
        ],
        prefixes: [
          'default_user_tags.',
          'default_permissions.',
          'loopback_users.',
          'auth_',
          'default_users.',
        ],
        why: `${AUTH_WHY}; the connection Secret names the vhost /`,
      },
      {
        prefixes: [
          'listeners.',
          'num_acceptors.',
          'ssl_options.',
          'management.tcp.',
          'management.ssl.',
          'management.listener.',
          'prometheus.tcp.',
          'prometheus.ssl.',
          'distribution.',
          'mqtt.',
          'stomp.',
          'web_mqtt.',
          'web_stomp.',
          'stream.',
        ],
        keys: ['management.path_prefix'],
        why: "listeners, ports and TLS are mqop's: the Services, probes, smoke tests and the connection Secret point at them, and a plugin listener would be a second way in",
      },
      {
        prefixes: ['cluster_formation.', 'definitions.'],
        keys: ['cluster_partition_handling', 'load_definitions', 'management.load_definitions'],
        why: "cluster membership and partition handling are mqop's (a changed value splits the cluster or loses quorum majorities), and definitions files create users and permissions",
      },
    ],
    value: {
      pattern: '^\\S(.*\\S)?$',
      what: 'a value that is not empty and has no leading or trailing space',
    },
    encoding: 'written as `key = value`; rabbitmq.conf has no quoting, so the value is the rest of the line',
  },
  redis: {
    file: 'redis.conf (`directive arguments...`)',
    keyCase: 'insensitive',
    refused: [
      {
        keys: [
          'requirepass',
          'masterauth',
          'masteruser',
          'user',
          'aclfile',
          'acl-pubsub-default',
          'protected-mode',
        ],
        why: AUTH_WHY,
      },
      {
        keys: ['rename-command', 'loadmodule'],
        prefixes: ['enable-'],
        why: 'renaming commands, loading modules or enabling DEBUG, MODULE and protected CONFIG lets a client run code in the server or rewrite its files; the probes and Sentinel need the commands they call',
      },
      {
        keys: [
          'include',
          'dir',
          'logfile',
          'pidfile',
          'unixsocket',
          'unixsocketperm',
          'daemonize',
          'supervised',
        ],
        why: "files and the process are mqop's: include would load another file, the pod has one writable data directory, and the server must stay in the foreground",
      },
      {
        keys: [
          'port',
          'bind',
          'bind-source-addr',
          'replicaof',
          'slaveof',
          'replica-announce-ip',
          'slave-announce-ip',
          'replica-announce-port',
          'slave-announce-port',
          'replica-read-only',
          'slave-read-only',
          'sentinel',
        ],
        prefixes: ['tls-', 'cluster-'],
        why: "ports, TLS and replication are mqop's: the Services, probes, Sentinel and the connection Secret depend on them",
      },
    ],
    encoding:
      'written as `key value`; the value is Redis arguments: words, or "double-quoted" / \'single-quoted\' strings with balanced quotes, as redis.conf parses them',
  },
  kafka: {
    file: 'server.properties (Java properties)',
    keyCase: 'sensitive',
    refused: [
      {
        keys: ['super.users', 'allow.everyone.if.no.acl.found', 'principal.builder.class'],
        prefixes: ['authorizer.', 'sasl.', 'ssl.', 'delegation.token.'],
        why: AUTH_WHY,
      },
      {
        keys: [
          'listeners',
          'advertised.listeners',
          'listener.security.protocol.map',
          'inter.broker.listener.name',
          'security.inter.broker.protocol',
          'control.plane.listener.name',
          'early.start.listeners',
        ],
        prefixes: ['listener.name.'],
        why: "listeners are mqop's, and `listener.name.<listener>.<key>` overrides any key, security keys included, for one listener",
      },
      {
        keys: [
          'process.roles',
          'node.id',
          'broker.id',
          'controller.quorum.voters',
          'controller.quorum.bootstrap.servers',
          'controller.listener.names',
          'log.dirs',
          'log.dir',
          'metadata.log.dir',
        ],
        prefixes: ['zookeeper.'],
        why: "KRaft roles, voters, ids and data paths are mqop's: a changed value forks or empties the cluster",
      },
      {
        keys: ['metric.reporters', 'kafka.metrics.reporters'],
        prefixes: ['config.providers'],
        suffixes: ['.class', '.class.name'],
        why: 'these name Java classes for the broker to load or files for it to read: mqop decides what code runs in the broker',
      },
    ],
    encoding: 'written as `key=value`, escaped for Java properties (backslash, leading space)',
  },
  activemq: {
    file: 'activemq.xml (Spring XML): each key sets one attribute mqop writes',
    keyCase: 'sensitive',
    refused: [],
    allowed: {
      memoryLimit: ACTIVEMQ_SIZE,
      storeLimit: ACTIVEMQ_SIZE,
      tempLimit: ACTIVEMQ_SIZE,
      schedulerSupport: { pattern: '^(true|false)$', what: 'true or false' },
      advisorySupport: { pattern: '^(true|false)$', what: 'true or false' },
      maxConnections: { pattern: '^[0-9]{1,9}$', what: 'a whole number' },
      maxFrameSize: {
        pattern: '^[0-9]{1,12} ?([kKmMgG][bB]?|[bB]|[KMG]i)?$',
        what: 'a size in bytes: 104857600, 100 mb, 100Mi',
      },
    },
    encoding:
      'each value is checked against its pattern, so no Spring expression (dollar or hash, then braces) and no XML markup can reach the file',
  },
  rocketmq: {
    file: 'broker.conf (Java properties)',
    keyCase: 'sensitive',
    refused: [
      {
        prefixes: [
          'auth',
          'initAuthentication',
          'innerClient',
          'acl',
          'migrateAuth',
          'userCache',
          'statefulAuthentication',
        ],
        why: `${AUTH_WHY} (this covers the auth providers and the authentication and authorization whitelists)`,
      },
      {
        keys: [
          'brokerClusterName',
          'brokerName',
          'brokerId',
          'brokerRole',
          'namesrvAddr',
          'listenPort',
          'haListenPort',
          'brokerIP1',
          'brokerIP2',
          'fetchNamesrvAddrByAddressServer',
          'enableControllerMode',
          'controllerAddr',
          'rocketmqHome',
        ],
        prefixes: ['storePath', 'rmqAddressServer', 'haMasterAddress'],
        why: "names, roles, addresses and store paths are mqop's: a changed value moves the broker out of its cluster or away from its data",
      },
    ],
    encoding:
      "written as `key=value`, escaped for Java properties (backslash, leading space); mqop writes its own keys after the user's",
  },
  zeromq: {
    file: 'flags of the mqop zmq-proxy process',
    keyCase: 'sensitive',
    refused: [],
    allowed: {
      sndhwm: { pattern: '^[0-9]{1,9}$', what: 'a whole number of messages' },
      rcvhwm: { pattern: '^[0-9]{1,9}$', what: 'a whole number of messages' },
      linger: { pattern: '^(-1|[0-9]{1,9})$', what: 'milliseconds, or -1 for forever' },
    },
    encoding: 'each value is a whole number, passed as one argument',
  },
};

/** The key as the engine looks it up. Pure. */
export function normalKey(policy: ConfigPolicy, key: string): string {
  return policy.keyCase === 'insensitive' ? key.toLowerCase() : key;
}

/** The refused group a key falls in, if any. Pure. */
export function refusedBy(policy: ConfigPolicy, key: string): RefusedKeys | undefined {
  const k = normalKey(policy, key);
  return policy.refused.find(
    (g) =>
      g.keys?.includes(k) ||
      g.prefixes?.some((p) => k.startsWith(p)) ||
      g.suffixes?.some((s) => k.endsWith(s)),
  );
}

/**
 * Splits a redis.conf argument list as Redis does (`sdssplitargs`): words separated by blanks,
 * double-quoted strings with backslash escapes, single-quoted strings with `\'`. A closing quote
 * must be followed by a blank or the end. Returns undefined when Redis would refuse the line
 * (unbalanced quotes), which would make the server exit at start. Pure.
 */
export function redisArgs(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const blank = (c: string | undefined) => c === ' ' || c === '\t';
  while (true) {
    while (blank(line[i])) i++;
    if (i >= line.length) return out;
    let cur = '';
    const q = line[i] === '"' ? '"' : line[i] === "'" ? "'" : undefined;
    if (q) {
      i++;
      while (true) {
        const c = line[i];
        if (c === undefined) return undefined; // unterminated quotes
        if (c === '\\' && q === '"' && i + 1 < line.length) {
          const n = line[i + 1] as string;
          if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
            cur += String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 4), 16));
            i += 4;
            continue;
          }
          cur += ({ n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' } as Record<string, string>)[n] ?? n;
          i += 2;
          continue;
        }
        if (c === '\\' && q === "'" && line[i + 1] === "'") {
          cur += "'";
          i += 2;
          continue;
        }
        if (c === q) {
          i++;
          // A closing quote must be followed by a space or nothing.
          if (i < line.length && !blank(line[i])) return undefined;
          break;
        }
        cur += c;
        i++;
      }
    } else {
      while (i < line.length && !blank(line[i])) cur += line[i++];
    }
    out.push(cur);
  }
}

/** One refused `spec.config` entry: the field and why. */
export interface ConfigProblem {
  field: string;
  message: string;
}

/**
 * Every problem with a MessageQueue's `spec.config`, as the operator checks it: the CEL rules'
 * checks (for clusters whose CRD is older than this operator) plus what CEL cannot express
 * (Redis quoting). Pure.
 */
export function configProblems(
  engine: EngineName,
  config: Readonly<Record<string, string>>,
): ConfigProblem[] {
  const policy = CONFIG_POLICY[engine];
  const out: ConfigProblem[] = [];
  for (const [key, value] of Object.entries(config)) {
    const field = `spec.config.${key}`;
    const refuse = (message: string) => out.push({ field, message: `config key "${key}": ${message}` });
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(key)) {
      refuse('keys are 1 to 128 letters, digits, dots, dashes or underscores');
      continue;
    }
    if (/[\r\n]/.test(value)) {
      refuse('values are one line');
      continue;
    }
    const group = refusedBy(policy, key);
    if (group) {
      refuse(`refused for ${engine}: ${group.why}`);
      continue;
    }
    if (policy.allowed) {
      const rule = policy.allowed[key];
      if (!rule) {
        refuse(`${engine} accepts only ${Object.keys(policy.allowed).join(', ')}`);
        continue;
      }
      if (!new RegExp(rule.pattern).test(value)) refuse(`the value must be ${rule.what}`);
      continue;
    }
    if (policy.value && !new RegExp(policy.value.pattern).test(value)) {
      refuse(`the value must be ${policy.value.what}`);
      continue;
    }
    if (engine === 'redis' && redisArgs(value) === undefined)
      refuse('the value has unbalanced quotes, which Redis refuses at start; quote each argument as a whole');
  }
  return out;
}
