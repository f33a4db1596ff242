/**
 * The single source of truth for the MessageQueue schema. `crd.ts` wraps it into a
 * CustomResourceDefinition, `scripts/gen-crds.ts` writes that to `crds/`, and a test fails when
 * the checked-in file drifts from what this module produces.
 *
 * Every CEL rule carries a message a person understands; the bad-input table in
 * `operator/test/bad-input.ts` holds one refused MessageQueue per rule at least.
 */

import { CONFIG_POLICY, type ConfigPolicy, type RefusedKeys } from './config-policy.ts';
import { DATA_ENGINES, ENGINE_TRAITS, ENGINES, type EngineName, MAX_REPLICAS } from './engines.ts';
import { MAX_CR_NAME } from './names.ts';

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps mqop uses. */
export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  enum?: (string | number)[];
  default?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  anyOf?: JSONSchemaProps[];
  nullable?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: ValidationRule[];
}

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Kubernetes resource.Quantity, as the API server's own CRDs spell it. */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
/** A positive quantity (no sign, not zero-only is left to the renderer's defaults). */
const POSITIVE_QUANTITY_PATTERN = '^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[kMGTPE])?$';
/**
 * `spec.version`: `major.minor[.patch]` and an optional suffix. It becomes a label value and an
 * image tag, so no `+` (semver build metadata): neither may hold one.
 */
export const VERSION_PATTERN = '^[0-9]+\\.[0-9]+(\\.[0-9]+)?([-._][0-9A-Za-z_.-]*[0-9A-Za-z])?$';
/** RFC 1123 DNS subdomain, as used for object names. */
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const quantity = (description: string, positive = false): JSONSchemaProps => ({
  description,
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  'x-kubernetes-int-or-string': true,
  pattern: positive ? POSITIVE_QUANTITY_PATTERN : QUANTITY_PATTERN,
});

const stringMap = (description: string, maxProperties = 64): JSONSchemaProps => ({
  type: 'object',
  description,
  maxProperties,
  additionalProperties: { type: 'string', maxLength: 4096 },
});

/** Kubernetes qualified name (label and annotation keys): optional DNS prefix, then a name. */
const QUALIFIED_NAME =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';

/** A map of Kubernetes labels: qualified-name keys, label-value values. */
const labelMap = (description: string, what: string): JSONSchemaProps => ({
  type: 'object',
  description,
  maxProperties: 32,
  additionalProperties: {
    type: 'string',
    maxLength: 63,
    pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$',
  },
  'x-kubernetes-validations': [
    {
      rule: `self.all(k, k.size() <= 316 && k.matches(r'${QUALIFIED_NAME}'))`,
      message: `${what} keys must be Kubernetes label keys: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.'`,
    },
  ],
});

/** A map of Kubernetes annotations: qualified-name keys, any values. */
const annotationMap = (description: string, what: string): JSONSchemaProps => ({
  ...stringMap(description, 32),
  'x-kubernetes-validations': [
    {
      rule: `self.all(k, k.size() <= 316 && k.matches(r'${QUALIFIED_NAME}'))`,
      message: `${what} keys must be Kubernetes annotation keys: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' or '.'`,
    },
  ],
});

const labelSelector: JSONSchemaProps = {
  type: 'object',
  properties: { matchLabels: labelMap('Labels the peer must carry.', 'matchLabels') },
};

const list = (values: readonly (string | number)[]) => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;
const cel = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;

/** Per-engine replica rules, one rule per engine so each message speaks of that engine. */
function replicaRules(): ValidationRule[] {
  return ENGINES.filter((e) => ENGINE_TRAITS[e].replicas.allowed.length < MAX_REPLICAS).map((e) => {
    const { allowed, why } = ENGINE_TRAITS[e].replicas;
    return {
      rule: `self.engine != '${e}' || !has(self.replicas) || self.replicas in ${list(allowed)}`,
      message: `replicas for ${e} must be one of ${allowed.join(', ')}: ${why}`,
      fieldPath: '.replicas',
      reason: 'FieldValueInvalid',
    };
  });
}

/** Per-engine rules on changing replicas of an existing MessageQueue (transition rules). */
function replicaChangeRules(): ValidationRule[] {
  return ENGINES.flatMap((e) => {
    const change = ENGINE_TRAITS[e].replicaChange;
    if (!change) return [];
    const op = change.allowed === 'grow' ? '>=' : '==';
    return [
      {
        rule: `self.engine != '${e}' || !has(self.replicas) || !has(oldSelf.replicas) || self.replicas ${op} oldSelf.replicas`,
        message: `replicas for ${e} ${change.allowed === 'grow' ? 'may grow but not shrink' : 'cannot change'}: ${change.why}`,
        fieldPath: '.replicas',
        reason: 'FieldValueForbidden',
      },
    ];
  });
}

/** A CEL string literal. */
const celString = (s: string) => JSON.stringify(s);

/** An RE2 pattern matching every key of a refused group, in the engine's key case. */
export function refusedKeyPattern(policy: ConfigPolicy, group: RefusedKeys): string {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const alts = [
    ...(group.keys ?? []).map((k) => `^${esc(k)}$`),
    ...(group.prefixes ?? []).map((p) => `^${esc(p)}`),
    ...(group.suffixes ?? []).map((x) => `${esc(x)}$`),
  ];
  return `${policy.keyCase === 'insensitive' ? '(?i)' : ''}(${alts.join('|')})`;
}

/**
 * `spec.config` per engine, from the policy table (`config-policy.ts`): one rule per refused
 * group (its message names the key and the reason), the accepted keys and their values where an
 * engine takes a fixed list, and the engine's rule on values.
 */
function configRules(): ValidationRule[] {
  const rules: ValidationRule[] = [];
  for (const e of ENGINES) {
    const policy = CONFIG_POLICY[e];
    const guard = `self.engine != '${e}' || !has(self.config)`;
    for (const group of policy.refused) {
      const bad = `k.matches(${celString(refusedKeyPattern(policy, group))})`;
      rules.push({
        rule: `${guard} || self.config.all(k, !${bad})`,
        message: `config key refused for ${e}: ${group.why}`,
        messageExpression: `'config key "' + self.config.filter(k, ${bad})[0] + '" is refused for ${e}: ' + ${celString(group.why)}`,
        fieldPath: '.config',
        reason: 'FieldValueForbidden',
      });
    }
    if (policy.allowed) {
      const keys = Object.keys(policy.allowed);
      rules.push({
        rule: `${guard} || self.config.all(k, k in ${cel(keys)})`,
        message: `config for ${e} accepts only these keys: ${keys.join(', ')}`,
        fieldPath: '.config',
        reason: 'FieldValueInvalid',
      });
      for (const [key, v] of Object.entries(policy.allowed)) {
        rules.push({
          rule: `${guard} || !('${key}' in self.config) || self.config['${key}'].matches(${celString(v.pattern)})`,
          message: `config.${key} for ${e} must be ${v.what}`,
          fieldPath: '.config',
          reason: 'FieldValueInvalid',
        });
      }
    }
    if (policy.value) {
      rules.push({
        rule: `${guard} || self.config.all(k, self.config[k].matches(${celString(policy.value.pattern)}))`,
        message: `config values for ${e} must be ${policy.value.what}`,
        messageExpression: `'config key "' + self.config.filter(k, !self.config[k].matches(${celString(policy.value.pattern)}))[0] + '": values for ${e} must be ${policy.value.what}'`,
        fieldPath: '.config',
        reason: 'FieldValueInvalid',
      });
    }
  }
  return rules;
}

const nonDataEngines = ENGINES.filter((e) => !ENGINE_TRAITS[e].keepsData);
const noAuthEngines = ENGINES.filter((e) => !ENGINE_TRAITS[e].supportsAuth);

/** `spec` of MessageQueue. */
export const specSchema: JSONSchemaProps = {
  type: 'object',
  description: 'Desired state of a message broker managed by mqop.',
  required: ['engine'],
  properties: {
    engine: {
      type: 'string',
      description: 'Which broker to run. Immutable.',
      enum: [...ENGINES],
      'x-kubernetes-validations': [
        {
          rule: 'self == oldSelf',
          message: 'engine is immutable: create a new MessageQueue to change the engine',
        },
      ],
    },
    version: {
      type: 'string',
      description:
        "Broker version (image tag). Empty means the engine's tested default. It is also the value of the app.kubernetes.io/version label, so it holds only what both a label value and an image tag can: letters, digits, '.', '-' and '_', at most 63.",
      maxLength: 63,
      pattern: VERSION_PATTERN,
    },
    image: {
      type: 'string',
      description:
        'Full image reference overriding the default (for example a mirror in an air-gapped registry).',
      maxLength: 512,
      pattern: '^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$',
    },
    replicas: {
      type: 'integer',
      description: 'Number of broker pods; the allowed values depend on the engine.',
      minimum: 1,
      maximum: MAX_REPLICAS,
      default: 1,
    },
    resources: {
      type: 'object',
      description: 'Compute resources of the broker container (corev1 ResourceRequirements).',
      properties: {
        limits: {
          type: 'object',
          maxProperties: 16,
          additionalProperties: quantity('A resource limit.'),
        },
        requests: {
          type: 'object',
          maxProperties: 16,
          additionalProperties: quantity('A resource request.'),
        },
      },
    },
    storage: {
      type: 'object',
      description: 'Persistence. Only for engines that keep data.',
      properties: {
        size: quantity('Size of each persistent volume claim, for example 10Gi.', true),
        storageClassName: {
          type: 'string',
          maxLength: 253,
          pattern: DNS_SUBDOMAIN,
          description: 'Storage class; empty means the cluster default.',
        },
        deleteClaim: {
          type: 'boolean',
          description: 'Delete the claims when the MessageQueue is deleted.',
        },
        ephemeral: {
          type: 'boolean',
          description: 'Use emptyDir volumes instead of claims; data is lost when a pod goes.',
        },
      },
      'x-kubernetes-validations': [
        {
          rule: '!has(self.ephemeral) || !self.ephemeral || (!has(self.size) && !has(self.storageClassName) && !has(self.deleteClaim))',
          message: 'storage.ephemeral cannot be combined with size, storageClassName or deleteClaim',
        },
      ],
    },
    auth: {
      type: 'object',
      description: 'Credentials. Without secretName mqop generates a Secret once and never overwrites it.',
      properties: {
        secretName: {
          type: 'string',
          maxLength: 253,
          pattern: DNS_SUBDOMAIN,
          description: 'An existing Secret with the keys username and password.',
        },
      },
    },
    config: {
      type: 'object',
      description: 'Engine-native settings merged into the generated configuration file.',
      maxProperties: 64,
      // One line each: a newline in a value would smuggle extra directives into the config file.
      additionalProperties: { type: 'string', maxLength: 1024, pattern: '^[^\\r\\n]*$' },
      'x-kubernetes-validations': [
        {
          rule: 'self.all(k, k.size() <= 128 && k.matches("^[A-Za-z0-9][A-Za-z0-9._-]*$"))',
          message: 'config keys must be 1 to 128 letters, digits, dots, dashes or underscores',
        },
      ],
    },
    service: {
      type: 'object',
      description: 'The client Service.',
      properties: {
        type: { type: 'string', enum: ['ClusterIP', 'NodePort', 'LoadBalancer'], default: 'ClusterIP' },
        annotations: annotationMap('Annotations for the client Service.', 'service.annotations'),
      },
    },
    podTemplate: {
      type: 'object',
      description: 'Pod-level overrides applied to every broker pod.',
      properties: {
        labels: {
          ...labelMap('Extra pod labels.', 'podTemplate.labels'),
          'x-kubernetes-validations': [
            ...(labelMap('', 'podTemplate.labels')['x-kubernetes-validations'] ?? []),
            {
              rule: 'self.all(k, !k.startsWith("app.kubernetes.io/"))',
              message:
                'podTemplate.labels may not set app.kubernetes.io/ labels: mqop uses them to select pods',
            },
          ],
        },
        annotations: annotationMap('Extra pod annotations.', 'podTemplate.annotations'),
        nodeSelector: labelMap('Node selector.', 'podTemplate.nodeSelector'),
        tolerations: {
          type: 'array',
          maxItems: 32,
          'x-kubernetes-list-type': 'atomic',
          items: {
            type: 'object',
            properties: {
              key: { type: 'string', maxLength: 316 },
              operator: { type: 'string', enum: ['Exists', 'Equal'] },
              value: { type: 'string', maxLength: 63 },
              effect: { type: 'string', enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
              tolerationSeconds: { type: 'integer', format: 'int64' },
            },
          },
        },
        affinity: {
          type: 'object',
          description: 'corev1 Affinity, passed to the pods unchanged.',
          'x-kubernetes-preserve-unknown-fields': true,
        },
        priorityClassName: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN },
      },
    },
    smokeTest: {
      type: 'object',
      description: 'Produce/consume checks that mqop runs against the broker.',
      properties: {
        enabled: { type: 'boolean', default: true },
        intervalSeconds: {
          type: 'integer',
          minimum: 10,
          maximum: 86400,
          default: 300,
          description:
            'Seconds between runs after a pass; a failed run is retried after 10 s, doubling per consecutive failure up to this interval.',
        },
        messages: { type: 'integer', minimum: 1, maximum: 10000, default: 10 },
        messageBytes: { type: 'integer', minimum: 1, maximum: 1048576, default: 1024 },
        // No schema default: a fixed 60 would refuse a short interval. The smoke scheduler
        // uses min(60, intervalSeconds / 2) when it is unset.
        timeoutSeconds: {
          type: 'integer',
          minimum: 1,
          maximum: 600,
          description: 'Per-run timeout; default min(60, intervalSeconds / 2).',
        },
      },
      'x-kubernetes-validations': [
        {
          rule: '!has(self.timeoutSeconds) || !has(self.intervalSeconds) || self.timeoutSeconds < self.intervalSeconds',
          message: 'smokeTest.timeoutSeconds must be shorter than smokeTest.intervalSeconds',
        },
      ],
    },
    networkPolicy: {
      type: 'object',
      description: 'A NetworkPolicy that admits only the broker itself, mqop and the listed peers.',
      properties: {
        enabled: { type: 'boolean', default: false },
        allowFrom: {
          type: 'array',
          maxItems: 16,
          'x-kubernetes-list-type': 'atomic',
          items: {
            type: 'object',
            properties: { namespaceSelector: labelSelector, podSelector: labelSelector },
            'x-kubernetes-validations': [
              {
                rule: 'has(self.namespaceSelector) || has(self.podSelector)',
                message: 'each networkPolicy.allowFrom entry needs a namespaceSelector or a podSelector',
              },
            ],
          },
        },
      },
    },
    zeromq: {
      type: 'object',
      description: 'ZeroMQ proxy settings; only for engine zeromq.',
      properties: {
        pattern: { type: 'string', enum: ['pubsub', 'pipeline'], default: 'pubsub' },
        sidecarFor: {
          type: 'array',
          description:
            'Deployments in this namespace that get a forwarding sidecar; each must invite this MessageQueue with the annotation mqop.dev/zeromq-sidecar: <name>.',
          maxItems: 32,
          'x-kubernetes-list-type': 'set',
          items: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN },
        },
      },
    },
  },
  'x-kubernetes-validations': [
    ...replicaRules(),
    ...replicaChangeRules(),
    {
      rule: "!has(self.zeromq) || self.engine == 'zeromq'",
      message: 'the zeromq block is allowed only when engine is zeromq',
      fieldPath: '.zeromq',
      reason: 'FieldValueForbidden',
    },
    {
      rule: `!has(self.storage) || self.engine in ${cel(DATA_ENGINES)}`,
      message: `storage is allowed only for engines that keep data (${DATA_ENGINES.join(', ')}); ${nonDataEngines.join(', ')} keeps none`,
      fieldPath: '.storage',
      reason: 'FieldValueForbidden',
    },
    {
      rule: `!has(self.auth) || !(self.engine in ${cel(noAuthEngines)})`,
      message: `auth is not supported by ${noAuthEngines.join(', ')}: restrict access with networkPolicy instead`,
      fieldPath: '.auth',
      reason: 'FieldValueForbidden',
    },
    ...configRules(),
  ],
};

const conditionSchema: JSONSchemaProps = {
  type: 'object',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    type: { type: 'string', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string', maxLength: 1024, minLength: 1 },
    message: { type: 'string', maxLength: 32768 },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
  },
};

/** `status` of MessageQueue. Written only by mqop, through the status subresource. */
export const statusSchema: JSONSchemaProps = {
  type: 'object',
  description: 'Observed state, written by mqop.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64' },
    phase: {
      type: 'string',
      enum: ['Pending', 'Provisioning', 'Ready', 'Degraded', 'Failed', 'Deleting'],
    },
    conditions: {
      type: 'array',
      items: conditionSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    version: { type: 'string' },
    replicas: { type: 'integer' },
    readyReplicas: { type: 'integer' },
    endpoint: {
      type: 'object',
      properties: { host: { type: 'string' }, port: { type: 'integer' }, url: { type: 'string' } },
    },
    connectionSecret: { type: 'string' },
    smokeTest: {
      type: 'object',
      properties: {
        lastRunTime: { type: 'string', format: 'date-time' },
        result: { type: 'string', enum: ['Passed', 'Failed', 'Skipped'] },
        produced: { type: 'integer' },
        consumed: { type: 'integer' },
        lost: { type: 'integer' },
        duplicated: { type: 'integer' },
        outOfOrder: { type: 'integer' },
        p50Millis: { type: 'number' },
        p99Millis: { type: 'number' },
        consecutiveFailures: { type: 'integer' },
        errorKind: { type: 'string' },
        message: { type: 'string' },
        trigger: { type: 'string' },
      },
    },
  },
};

/** Root-level rules: they can see metadata.name, which the spec rules cannot. */
export function rootRules(): ValidationRule[] {
  return [
    {
      rule: 'self.metadata.name.matches("^[a-z]([-a-z0-9]*[a-z0-9])?$")',
      message:
        'metadata.name must start with a letter and hold only lowercase letters, digits and dashes: it names Services',
    },
    ...ENGINES.map((e: EngineName) => ({
      rule: `self.spec.engine != '${e}' || self.metadata.name.size() <= ${MAX_CR_NAME[e]}`,
      message: `metadata.name of a ${e} MessageQueue may have at most ${MAX_CR_NAME[e]} characters, so that the names mqop derives from it stay within 63`,
    })),
  ];
}

/** The whole openAPIV3Schema of the MessageQueue version. */
export function messageQueueSchema(): JSONSchemaProps {
  return {
    type: 'object',
    description:
      'MessageQueue is a message broker (RabbitMQ, Redis, Kafka, ActiveMQ, RocketMQ or a ZeroMQ proxy) run and checked by mqop.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: specSchema,
      status: statusSchema,
    },
    'x-kubernetes-validations': rootRules(),
  };
}
