import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONFIG_POLICY, refusedBy } from '../src/api/config-policy.ts';
import { ENGINE_TRAITS, ENGINES } from '../src/api/engines.ts';
import { specProblems } from '../src/api/resolve.ts';
import { BAD_TENANTS, type BadTenant } from './bad-tenant.ts';
import { admissionErrors } from './support/crd-validator.ts';

const object = (b: Pick<BadTenant, 'engine' | 'spec'>) => ({
  apiVersion: 'mqop.dev/v1alpha1',
  kind: 'MessageQueue',
  metadata: { name: 'tenant' },
  spec: { engine: b.engine, ...b.spec },
});

const operatorProblems = (b: Pick<BadTenant, 'engine' | 'spec'>) =>
  specProblems(
    b.engine,
    (b.spec.version as string | undefined) ?? ENGINE_TRAITS[b.engine].defaultVersion,
    (b.spec.config as Record<string, string> | undefined) ?? {},
  );

describe('bad-tenant table (offline: CRD validator and the operator check)', () => {
  test('has at least 40 entries, for every engine, and says how they split', () => {
    assert.ok(BAD_TENANTS.length >= 40, `${BAD_TENANTS.length} entries`);
    const counts = new Map<string, number>();
    for (const b of BAD_TENANTS)
      counts.set(`${b.engine}/${b.attack}/${b.by}`, (counts.get(`${b.engine}/${b.attack}/${b.by}`) ?? 0) + 1);
    for (const e of ENGINES)
      assert.ok(
        BAD_TENANTS.some((b) => b.engine === e),
        `no entry for ${e}`,
      );
    console.log(
      [...counts]
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join('\n'),
    );
  });

  for (const b of BAD_TENANTS) {
    if (b.by === 'api') {
      test(`refused by the API server and by the operator: ${b.what}`, () => {
        const errors = admissionErrors(object(b));
        assert.ok(
          errors.some((e) => e.includes(b.message) && e.startsWith(b.field)),
          `no error on ${b.field} with "${b.message}": ${errors.join(' | ')}`,
        );
        // An older CRD in the cluster must not make mqop weaker.
        assert.ok(operatorProblems(b).length > 0, 'the operator would run it');
      });
    } else {
      test(`admitted, then stalled by the operator: ${b.what}`, () => {
        assert.deepEqual(admissionErrors(object(b)), []);
        const problems = operatorProblems(b);
        assert.ok(
          problems.some((p) => p.field === b.field && p.message.includes(b.message)),
          JSON.stringify(problems),
        );
      });
    }
  }
});

describe('the CEL rules and the operator check refuse the same keys', () => {
  for (const e of ENGINES) {
    const policy = CONFIG_POLICY[e];
    if (policy.allowed) continue;
    test(`${e}: every listed key, prefix and suffix, in several cases, and harmless keys`, () => {
      const keys = new Set<string>(['maxmemory', 'num.partitions', 'heartbeat', 'deleteWhen', 'x-y_z.1']);
      for (const g of policy.refused) {
        for (const k of g.keys ?? [])
          keys
            .add(k)
            .add(k.toUpperCase())
            .add(k[0]?.toUpperCase() + k.slice(1));
        for (const p of g.prefixes ?? [])
          keys.add(`${p}x1`).add(`${p.toUpperCase()}x1`).add(`a${p}x1`.replace(/^a\./, 'a'));
        for (const s of g.suffixes ?? []) keys.add(`x1${s}`).add(`x1${s.toUpperCase()}`);
      }
      for (const key of keys) {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(key)) continue;
        const admitted =
          admissionErrors(object({ engine: e, spec: { config: { [key]: 'v' } } })).length === 0;
        assert.equal(admitted, refusedBy(policy, key) === undefined, `${e} ${key}: CEL admits=${admitted}`);
        assert.equal(
          admitted,
          operatorProblems({ engine: e, spec: { config: { [key]: 'v' } } }).length === 0,
          key,
        );
      }
    });
  }
});
