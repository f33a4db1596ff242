import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { API_DOC_PATH, apiDoc, CHART_CRD_PATH, CRD_PATH, crdYaml } from '../src/api/crd-file.ts';
import { ENGINE_TRAITS, ENGINES } from '../src/api/engines.ts';
import { DNS_LABEL_MAX, derivedNames, MAX_CR_NAME, STATEFULSET_MAX } from '../src/api/names.ts';
import { BAD_INPUTS } from './bad-input.ts';
import { admissionErrors } from './support/crd-validator.ts';

describe('CRD', () => {
  test('the checked-in CRD is what the TypeScript schema generates (run npm run gen:crds)', () => {
    assert.equal(readFileSync(CRD_PATH, 'utf8'), crdYaml());
  });

  test("the Helm chart's CRD (charts/mqop/crds/) is the same generated file (run npm run gen:crds)", () => {
    assert.equal(readFileSync(CHART_CRD_PATH, 'utf8'), crdYaml());
  });

  test('docs/api.md is what the TypeScript schema generates (run npm run gen:crds)', () => {
    assert.equal(readFileSync(API_DOC_PATH, 'utf8'), apiDoc());
  });

  test('has status subresource, short name, category and the printer columns', () => {
    const crd = parse(readFileSync(CRD_PATH, 'utf8'));
    const v = crd.spec.versions[0];
    assert.deepEqual(v.subresources, { status: {} });
    assert.deepEqual(crd.spec.names.shortNames, ['mq']);
    assert.ok(crd.spec.names.categories.includes('mqop'));
    const columns = v.additionalPrinterColumns.filter((c: { priority?: number }) => !c.priority);
    assert.deepEqual(
      columns.map((c: { name: string }) => c.name.toUpperCase()),
      ['ENGINE', 'VERSION', 'READY', 'SMOKE', 'LATENCY', 'ENDPOINT', 'AGE'],
    );
  });

  test('every CEL rule has a message', () => {
    const rules = [...readFileSync(CRD_PATH, 'utf8').matchAll(/- rule: /g)].length;
    const messages = [...readFileSync(CRD_PATH, 'utf8').matchAll(/\n\s+message: /g)].length;
    assert.ok(rules >= 20, `only ${rules} rules`);
    assert.equal(messages, rules);
  });
});

describe('derived names', () => {
  for (const e of ENGINES) {
    test(`${e}: a name of the maximum length keeps every derived name valid`, () => {
      const names = derivedNames('a'.repeat(MAX_CR_NAME[e]), e);
      for (const [key, n] of Object.entries(names)) {
        const limit = key === 'workload' || key === 'companion' ? STATEFULSET_MAX : DNS_LABEL_MAX;
        assert.ok(n.length <= limit, `${key} ${n} is ${n.length} > ${limit}`);
      }
      const longer = derivedNames('a'.repeat(MAX_CR_NAME[e] + 1), e);
      assert.ok(
        Object.entries(longer).some(
          ([k, n]) => n.length > (k === 'workload' || k === 'companion' ? STATEFULSET_MAX : DNS_LABEL_MAX),
        ),
        'the limit is not tight',
      );
    });
  }
});

describe('admission of valid MessageQueues', () => {
  for (const e of ENGINES) {
    test(`minimal ${e} is admitted`, () => {
      const obj = {
        apiVersion: 'mqop.dev/v1alpha1',
        kind: 'MessageQueue',
        metadata: { name: 'orders' },
        spec: { engine: e },
      };
      assert.deepEqual(admissionErrors(obj), []);
    });
    test(`${e}: every allowed replica count is admitted, the others are refused`, () => {
      for (let r = 1; r <= 9; r++) {
        const spec: Record<string, unknown> = { engine: e, replicas: r };
        if (e === 'zeromq') spec.zeromq = { pattern: 'pipeline' };
        const errs = admissionErrors({
          apiVersion: 'mqop.dev/v1alpha1',
          kind: 'MessageQueue',
          metadata: { name: 'q' },
          spec,
        });
        assert.equal(
          errs.length === 0,
          ENGINE_TRAITS[e].replicas.allowed.includes(r),
          `${e} replicas=${r}: ${errs}`,
        );
      }
    });
  }
});

describe('replica changes on update (transition rules)', () => {
  const m = (engine: string, replicas: number) => ({
    apiVersion: 'mqop.dev/v1alpha1',
    kind: 'MessageQueue',
    metadata: { name: 'q' },
    spec: { engine, replicas },
  });
  const cases: [string, number, number, boolean][] = [
    ['rabbitmq', 1, 3, true],
    ['rabbitmq', 3, 5, true],
    ['rabbitmq', 3, 1, false],
    ['kafka', 3, 3, true],
    ['kafka', 1, 3, false],
    ['kafka', 3, 1, false],
    ['redis', 3, 1, true],
    ['rocketmq', 1, 3, true],
  ];
  for (const [engine, from, to, ok] of cases) {
    test(`${engine} ${from} -> ${to}: ${ok ? 'admitted' : 'refused'}`, () => {
      const errs = admissionErrors(m(engine, to), m(engine, from));
      assert.equal(errs.length === 0, ok, errs.join('\n'));
    });
  }
});

describe('bad-input table (offline: OpenAPI via ajv, CEL via an interpreter)', () => {
  test('has at least 30 entries, both OpenAPI and CEL', () => {
    assert.ok(BAD_INPUTS.length >= 30);
    assert.ok(BAD_INPUTS.filter((b) => b.by === 'cel').length >= 15);
    assert.ok(BAD_INPUTS.filter((b) => b.by === 'openapi').length >= 15);
  });
  for (const bad of BAD_INPUTS) {
    test(`refused: ${bad.what}`, () => {
      const errors = admissionErrors(bad.object, bad.old);
      assert.ok(errors.length > 0, 'was admitted');
      const hit = errors.find((e) => e.includes(bad.message));
      assert.ok(hit, `no error says "${bad.message}"; got:\n${errors.join('\n')}`);
      if (bad.field)
        assert.ok(
          hit.startsWith(bad.field) || hit.includes(`"${bad.field}`),
          `error names another field: ${hit}`,
        );
    });
  }
});
