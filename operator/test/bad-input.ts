/**
 * The table of MessageQueues the API server must refuse, each with (a part of) the message it must
 * give. The unit suite checks it offline against the CRD (OpenAPI + CEL interpreter); the
 * integration suite applies it to a real API server. Messages are substrings that hold on every
 * supported Kubernetes version.
 */
import { MAX_CR_NAME } from '../src/api/names.ts';

export interface BadInput {
  /** What is wrong, for the test name. */
  what: string;
  /** The object to create. */
  object: Record<string, unknown>;
  /** For update rules: the object that exists before. */
  old?: Record<string, unknown>;
  /** The field the error names (dotted path as the API server prints it). */
  field: string;
  /** A substring of the message the API server gives. */
  message: string;
  /** Which part of the schema refuses it. */
  by: 'openapi' | 'cel';
}

const mq = (spec: Record<string, unknown> | undefined, name = 'orders'): Record<string, unknown> => ({
  apiVersion: 'mqop.dev/v1alpha1',
  kind: 'MessageQueue',
  metadata: { name },
  ...(spec === undefined ? {} : { spec }),
});

export const BAD_INPUTS: BadInput[] = [
  // OpenAPI: types, enums, bounds, patterns, unknown fields.
  { what: 'no spec', object: mq(undefined), field: 'spec', message: 'Required value', by: 'openapi' },
  {
    what: 'no engine',
    object: mq({ replicas: 1 }),
    field: 'spec.engine',
    message: 'Required value',
    by: 'openapi',
  },
  {
    what: 'unknown engine',
    object: mq({ engine: 'nats' }),
    field: 'spec.engine',
    message: 'Unsupported value: "nats"',
    by: 'openapi',
  },
  {
    what: 'zero replicas',
    object: mq({ engine: 'redis', replicas: 0 }),
    field: 'spec.replicas',
    message: 'should be greater than or equal to 1',
    by: 'openapi',
  },
  {
    what: 'too many replicas',
    object: mq({ engine: 'redis', replicas: 12 }),
    field: 'spec.replicas',
    message: 'should be less than or equal to 9',
    by: 'openapi',
  },
  {
    what: 'replicas as a string',
    object: mq({ engine: 'redis', replicas: 'three' }),
    field: 'spec.replicas',
    message: 'must be of type integer',
    by: 'openapi',
  },
  {
    what: 'version "latest"',
    object: mq({ engine: 'kafka', version: 'latest' }),
    field: 'spec.version',
    message: 'should match',
    by: 'openapi',
  },
  {
    what: 'image with spaces',
    object: mq({ engine: 'redis', image: 'redis 7' }),
    field: 'spec.image',
    message: 'should match',
    by: 'openapi',
  },
  {
    what: 'smoke messages 0',
    object: mq({ engine: 'redis', smokeTest: { messages: 0 } }),
    field: 'spec.smokeTest.messages',
    message: 'should be greater than or equal to 1',
    by: 'openapi',
  },
  {
    what: 'smoke messages 10001',
    object: mq({ engine: 'redis', smokeTest: { messages: 10001 } }),
    field: 'spec.smokeTest.messages',
    message: 'should be less than or equal to 10000',
    by: 'openapi',
  },
  {
    what: 'smoke messageBytes 0',
    object: mq({ engine: 'redis', smokeTest: { messageBytes: 0 } }),
    field: 'spec.smokeTest.messageBytes',
    message: 'should be greater than or equal to 1',
    by: 'openapi',
  },
  {
    what: 'smoke messageBytes over 1 MiB',
    object: mq({ engine: 'redis', smokeTest: { messageBytes: 1048577 } }),
    field: 'spec.smokeTest.messageBytes',
    message: 'should be less than or equal to 1048576',
    by: 'openapi',
  },
  {
    what: 'smoke interval 5 s',
    object: mq({ engine: 'redis', smokeTest: { intervalSeconds: 5 } }),
    field: 'spec.smokeTest.intervalSeconds',
    message: 'should be greater than or equal to 10',
    by: 'openapi',
  },
  {
    what: 'smoke timeout 0',
    object: mq({ engine: 'redis', smokeTest: { timeoutSeconds: 0 } }),
    field: 'spec.smokeTest.timeoutSeconds',
    message: 'should be greater than or equal to 1',
    by: 'openapi',
  },
  {
    what: 'storage size not a quantity',
    object: mq({ engine: 'kafka', storage: { size: 'ten gigs' } }),
    field: 'spec.storage.size',
    message: 'should match',
    by: 'openapi',
  },
  {
    what: 'negative storage size',
    object: mq({ engine: 'kafka', storage: { size: '-1Gi' } }),
    field: 'spec.storage.size',
    message: 'should match',
    by: 'openapi',
  },
  {
    what: 'memory limit not a quantity',
    object: mq({ engine: 'redis', resources: { limits: { memory: 'lots' } } }),
    field: 'spec.resources.limits.memory',
    message: 'should match',
    by: 'openapi',
  },
  {
    what: 'service type ExternalName',
    object: mq({ engine: 'redis', service: { type: 'ExternalName' } }),
    field: 'spec.service.type',
    message: 'Unsupported value: "ExternalName"',
    by: 'openapi',
  },
  {
    what: 'zeromq pattern reqrep',
    object: mq({ engine: 'zeromq', zeromq: { pattern: 'reqrep' } }),
    field: 'spec.zeromq.pattern',
    message: 'Unsupported value: "reqrep"',
    by: 'openapi',
  },
  {
    what: 'secret name with capitals',
    object: mq({ engine: 'redis', auth: { secretName: 'My_Secret' } }),
    field: 'spec.auth.secretName',
    message: 'should match',
    by: 'openapi',
  },
  {
    what: 'toleration operator Maybe',
    object: mq({ engine: 'redis', podTemplate: { tolerations: [{ key: 'a', operator: 'Maybe' }] } }),
    field: 'spec.podTemplate.tolerations[0].operator',
    message: 'Unsupported value: "Maybe"',
    by: 'openapi',
  },
  {
    what: 'config value with a newline',
    object: mq({ engine: 'redis', config: { maxmemory: '1gb\nrequirepass x' } }),
    field: 'spec.config.maxmemory',
    message: 'should match',
    by: 'openapi',
  },
  {
    what: 'label value too long',
    object: mq({ engine: 'redis', podTemplate: { labels: { team: 'x'.repeat(64) } } }),
    field: 'spec.podTemplate.labels.team',
    message: 'may not be more than 63',
    by: 'openapi',
  },
  // CEL: rules across fields, per engine, on names and on updates.
  {
    what: 'engine changed',
    object: mq({ engine: 'kafka' }),
    old: mq({ engine: 'redis' }),
    field: 'spec.engine',
    message: 'engine is immutable',
    by: 'cel',
  },
  {
    what: 'rabbitmq scaled down',
    object: mq({ engine: 'rabbitmq', replicas: 1 }),
    old: mq({ engine: 'rabbitmq', replicas: 3 }),
    field: 'spec.replicas',
    message: 'replicas for rabbitmq may grow but not shrink',
    by: 'cel',
  },
  {
    what: 'kafka resized',
    object: mq({ engine: 'kafka', replicas: 3 }),
    old: mq({ engine: 'kafka', replicas: 1 }),
    field: 'spec.replicas',
    message: 'replicas for kafka cannot change',
    by: 'cel',
  },
  {
    what: 'kafka with 2 replicas',
    object: mq({ engine: 'kafka', replicas: 2 }),
    field: 'spec.replicas',
    message: 'replicas for kafka must be one of 1, 3, 5, 7, 9',
    by: 'cel',
  },
  {
    what: 'rabbitmq with 4 replicas',
    object: mq({ engine: 'rabbitmq', replicas: 4 }),
    field: 'spec.replicas',
    message: 'replicas for rabbitmq must be one of 1, 3, 5, 7, 9',
    by: 'cel',
  },
  {
    what: 'activemq with 3 replicas',
    object: mq({ engine: 'activemq', replicas: 3 }),
    field: 'spec.replicas',
    message: 'replicas for activemq must be one of 1',
    by: 'cel',
  },
  {
    what: 'zeromq with 2 replicas',
    object: mq({ engine: 'zeromq', replicas: 2, zeromq: { pattern: 'pipeline' } }),
    field: 'spec.replicas',
    message: 'replicas for zeromq must be one of 1',
    by: 'cel',
  },
  {
    what: 'zeromq block on kafka',
    object: mq({ engine: 'kafka', zeromq: { pattern: 'pubsub' } }),
    field: 'spec.zeromq',
    message: 'the zeromq block is allowed only when engine is zeromq',
    by: 'cel',
  },
  {
    what: 'storage on zeromq',
    object: mq({ engine: 'zeromq', storage: { size: '1Gi' } }),
    field: 'spec.storage',
    message: 'storage is allowed only for engines that keep data',
    by: 'cel',
  },
  {
    what: 'auth on zeromq',
    object: mq({ engine: 'zeromq', auth: { secretName: 'creds' } }),
    field: 'spec.auth',
    message: 'auth is not supported by zeromq',
    by: 'cel',
  },
  {
    what: 'ephemeral with a size',
    object: mq({ engine: 'redis', storage: { ephemeral: true, size: '1Gi' } }),
    field: 'spec.storage',
    message: 'storage.ephemeral cannot be combined with size',
    by: 'cel',
  },
  {
    what: 'smoke timeout not below interval',
    object: mq({ engine: 'redis', smokeTest: { intervalSeconds: 30, timeoutSeconds: 30 } }),
    field: 'spec.smokeTest',
    message: 'timeoutSeconds must be shorter than smokeTest.intervalSeconds',
    by: 'cel',
  },
  {
    what: 'redis requirepass in config',
    object: mq({ engine: 'redis', config: { requirepass: 'x' } }),
    field: 'spec.config',
    message: 'config key "requirepass" is refused for redis',
    by: 'cel',
  },
  {
    what: 'kafka listeners in config',
    object: mq({ engine: 'kafka', config: { listeners: 'PLAINTEXT://:9092' } }),
    field: 'spec.config',
    message: 'config key "listeners" is refused for kafka',
    by: 'cel',
  },
  {
    what: 'rabbitmq default_pass in config',
    object: mq({ engine: 'rabbitmq', config: { default_pass: 'guest' } }),
    field: 'spec.config',
    message: 'config key "default_pass" is refused for rabbitmq',
    by: 'cel',
  },
  {
    what: 'rocketmq namesrvAddr in config',
    object: mq({ engine: 'rocketmq', config: { namesrvAddr: '10.0.0.1:9876' } }),
    field: 'spec.config',
    message: 'config key "namesrvAddr" is refused for rocketmq',
    by: 'cel',
  },
  {
    what: 'activemq unknown config key',
    object: mq({ engine: 'activemq', config: { useJmx: 'true' } }),
    field: 'spec.config',
    message: 'config for activemq accepts only these keys',
    by: 'cel',
  },
  {
    what: 'config key with a space',
    object: mq({ engine: 'redis', config: { 'max memory': '1gb' } }),
    field: 'spec.config',
    message: 'config keys must be 1 to 128 letters',
    by: 'cel',
  },
  {
    what: 'reserved pod label',
    object: mq({ engine: 'redis', podTemplate: { labels: { 'app.kubernetes.io/name': 'x' } } }),
    field: 'spec.podTemplate.labels',
    message: 'may not set app.kubernetes.io/ labels',
    by: 'cel',
  },
  {
    what: 'invalid node selector key',
    object: mq({ engine: 'redis', podTemplate: { nodeSelector: { 'a/b/c': 'x' } } }),
    field: 'spec.podTemplate.nodeSelector',
    message: 'podTemplate.nodeSelector keys must be Kubernetes label keys',
    by: 'cel',
  },
  {
    what: 'empty networkPolicy peer',
    object: mq({ engine: 'redis', networkPolicy: { enabled: true, allowFrom: [{}] } }),
    field: 'spec.networkPolicy.allowFrom[0]',
    message: 'needs a namespaceSelector or a podSelector',
    by: 'cel',
  },
  {
    what: 'name starting with a digit',
    object: mq({ engine: 'redis' }, '1orders'),
    field: '',
    message: 'metadata.name must start with a letter',
    by: 'cel',
  },
  {
    what: 'name with a dot',
    object: mq({ engine: 'redis' }, 'orders.v2'),
    field: '',
    message: 'metadata.name must start with a letter',
    by: 'cel',
  },
  {
    what: 'name too long for rocketmq',
    object: mq({ engine: 'rocketmq' }, `r${'x'.repeat(MAX_CR_NAME.rocketmq)}`),
    field: '',
    message: `metadata.name of a rocketmq MessageQueue may have at most ${MAX_CR_NAME.rocketmq} characters`,
    by: 'cel',
  },
];
