/**
 * fast-check generators of valid MessageQueues, one engine at a time. "Valid" is not assumed:
 * the property tests also run every generated object through the offline admission check, so a
 * generator that drifts from the CRD fails loudly instead of testing nothing.
 */
import fc from 'fast-check';
import { CONFIG_POLICY, redisArgs, refusedBy } from '../../src/api/config-policy.ts';
import { ENGINE_TRAITS, type EngineName } from '../../src/api/engines.ts';
import { MAX_CR_NAME } from '../../src/api/names.ts';
import type { MessageQueue, MessageQueueSpec } from '../../src/api/types.ts';

const dnsLabel = (max: number) =>
  fc.stringMatching(/^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$/).filter((s) => s.length <= max && !s.endsWith('-'));

const quantity = fc
  .tuple(fc.integer({ min: 1, max: 4096 }), fc.constantFrom('', 'm', 'k', 'M', 'G', 'Ki', 'Mi', 'Gi'))
  .map(([n, u]) => `${n}${u}`);
const sizeQuantity = fc
  .tuple(fc.integer({ min: 1, max: 512 }), fc.constantFrom('Mi', 'Gi', 'Ti', 'G'))
  .map(([n, u]) => `${n}${u}`);

const labelKey = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9]{0,15}$/),
  fc
    .tuple(
      fc.stringMatching(/^[a-z]{1,8}\.example\.com$/),
      fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/),
    )
    .map(([p, n]) => `${p}/${n}`),
);
const labelValue = fc.stringMatching(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?)?$/);
const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 4 });
const annotations = fc.dictionary(labelKey, fc.string({ maxLength: 40 }), { maxKeys: 3 });
/** One-line printable values: what a config value or a password looks like. */
const printable = fc.stringMatching(/^[ -~]{1,30}$/);

/** Plausible user config per engine (refused keys are left out; the CRD refuses them). */
function configFor(engine: EngineName): fc.Arbitrary<Record<string, string>> {
  const policy = CONFIG_POLICY[engine];
  if (policy.allowed) {
    const numeric = fc.integer({ min: 1, max: 100000 }).map(String);
    const keys = Object.keys(policy.allowed);
    return fc
      .dictionary(fc.constantFrom(...keys), fc.oneof(numeric, fc.constantFrom('true', 'false', '64 mb')), {
        maxKeys: 3,
      })
      .map((c) =>
        Object.fromEntries(
          Object.entries(c).filter(([k, v]) => new RegExp(policy.allowed?.[k]?.pattern ?? '^$').test(v)),
        ),
      );
  }
  const key = fc.stringMatching(/^[a-z][a-z0-9._-]{0,30}$/).filter((k) => !refusedBy(policy, k));
  // Values as each engine's file format takes them: no quotes for Redis (quoting has its own rule).
  const value = printable
    .filter((v) => !policy.value || new RegExp(policy.value.pattern).test(v))
    .filter((v) => engine !== 'redis' || redisArgs(v) !== undefined);
  return fc.dictionary(key, value, { maxKeys: 4 });
}

const toleration = fc.record(
  {
    key: fc.stringMatching(/^[a-z][a-z0-9./-]{0,20}$/),
    operator: fc.constantFrom('Exists' as const, 'Equal' as const),
    value: fc.stringMatching(/^[a-z0-9]{0,10}$/),
    effect: fc.constantFrom('NoSchedule' as const, 'PreferNoSchedule' as const, 'NoExecute' as const),
  },
  { requiredKeys: ['key'] },
);

const smokeTest = fc
  .record(
    {
      enabled: fc.boolean(),
      intervalSeconds: fc.integer({ min: 10, max: 86400 }),
      messages: fc.integer({ min: 1, max: 10000 }),
      messageBytes: fc.integer({ min: 1, max: 1048576 }),
      timeoutSeconds: fc.integer({ min: 1, max: 600 }),
    },
    { requiredKeys: [] },
  )
  .filter((s) => s.timeoutSeconds === undefined || s.timeoutSeconds < (s.intervalSeconds ?? 300));

const peer = fc
  .record(
    {
      namespaceSelector: fc.record({ matchLabels: labels }),
      podSelector: fc.record({ matchLabels: labels }),
    },
    {
      requiredKeys: [],
    },
  )
  .filter((p) => p.namespaceSelector !== undefined || p.podSelector !== undefined);

/** A valid spec for one engine. */
export function specFor(engine: EngineName): fc.Arbitrary<MessageQueueSpec> {
  const t = ENGINE_TRAITS[engine];
  const storage = t.keepsData
    ? fc.option(
        fc.oneof(
          fc.constant({ ephemeral: true }),
          fc.record(
            {
              size: sizeQuantity,
              storageClassName: fc.stringMatching(/^[a-z][a-z0-9-]{0,15}[a-z0-9]$/),
              deleteClaim: fc.boolean(),
            },
            { requiredKeys: [] },
          ),
        ),
        { nil: undefined },
      )
    : fc.constant(undefined);
  const zeromq =
    engine === 'zeromq'
      ? fc.record(
          {
            pattern: fc.constantFrom('pubsub' as const, 'pipeline' as const),
            sidecarFor: fc.uniqueArray(dnsLabel(40), { maxLength: 3 }),
          },
          { requiredKeys: [] },
        )
      : fc.constant(undefined);
  return fc
    .record(
      {
        version: fc.option(fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}(\.[0-9]{1,2})?$/), { nil: undefined }),
        image: fc.option(
          fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}\/[a-z][a-z0-9/-]{0,20}:[a-z0-9.]{1,10}$/),
          {
            nil: undefined,
          },
        ),
        replicas: fc.constantFrom(...t.replicas.allowed),
        resources: fc.option(
          fc.record(
            {
              requests: fc.dictionary(fc.constantFrom('cpu', 'memory', 'ephemeral-storage'), quantity, {
                maxKeys: 3,
              }),
              limits: fc.dictionary(fc.constantFrom('cpu', 'memory'), quantity, { maxKeys: 2 }),
            },
            { requiredKeys: [] },
          ),
          { nil: undefined },
        ),
        storage,
        auth: t.supportsAuth
          ? fc.option(fc.record({ secretName: dnsLabel(60) }), { nil: undefined })
          : fc.constant(undefined),
        config: fc.option(configFor(engine), { nil: undefined }),
        service: fc.option(
          fc.record(
            {
              type: fc.constantFrom('ClusterIP' as const, 'NodePort' as const, 'LoadBalancer' as const),
              annotations,
            },
            { requiredKeys: [] },
          ),
          { nil: undefined },
        ),
        podTemplate: fc.option(
          fc.record(
            {
              labels,
              annotations,
              nodeSelector: labels,
              tolerations: fc.array(toleration, { maxLength: 2 }),
              priorityClassName: dnsLabel(30),
            },
            { requiredKeys: [] },
          ),
          { nil: undefined },
        ),
        smokeTest: fc.option(smokeTest, { nil: undefined }),
        networkPolicy: fc.option(
          fc.record(
            { enabled: fc.boolean(), allowFrom: fc.array(peer, { maxLength: 2 }) },
            { requiredKeys: [] },
          ),
          { nil: undefined },
        ),
        zeromq,
      },
      { requiredKeys: [] },
    )
    .map((s) => {
      const spec: MessageQueueSpec = { engine };
      for (const [k, v] of Object.entries(s))
        if (v !== undefined) (spec as unknown as Record<string, unknown>)[k] = v;
      return spec;
    });
}

/** A valid MessageQueue for one engine, with a uid as a stored object has. */
export function messageQueueFor(engine: EngineName): fc.Arbitrary<MessageQueue> {
  return fc
    .record({
      name: dnsLabel(MAX_CR_NAME[engine]),
      namespace: dnsLabel(63),
      uid: fc.uuid(),
      spec: specFor(engine),
    })
    .map(
      ({ name, namespace, uid, spec }): MessageQueue =>
        // A JSON round trip, as from the API server: plain prototypes, no undefined fields.
        JSON.parse(
          JSON.stringify({
            apiVersion: 'mqop.dev/v1alpha1',
            kind: 'MessageQueue',
            metadata: { name, namespace, uid },
            spec,
          }),
        ),
    );
}

/** Credentials as the controller would pass them: any printable password. */
export const credentials = fc.record({
  username: fc.stringMatching(/^[a-z][a-z0-9]{0,15}$/),
  password: printable,
});
