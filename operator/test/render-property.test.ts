/**
 * Property tests: for every engine, 1,000 random valid MessageQueues render without throwing, and
 * every object validates against the real OpenAPI schema of the minimum Kubernetes version.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ENGINES } from '../src/api/engines.ts';
import { engineModule } from '../src/engines/index.ts';
import type { K8sObject } from '../src/render/render.ts';
import { render } from '../src/render/render.ts';
import { credentials, messageQueueFor } from './support/arbitraries.ts';
import { admissionErrors } from './support/crd-validator.ts';
import { K8S_MIN_VERSION, k8sValidator } from './support/k8s-openapi.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1000);
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks Kubernetes' own OpenAPI does not cover: names and label syntax. */
function nameAndLabelErrors(o: K8sObject): string[] {
  const errs: string[] = [];
  const limit = o.kind === 'StatefulSet' ? 52 : 63;
  if (!DNS_LABEL.test(o.metadata.name) || o.metadata.name.length > limit) {
    errs.push(`${o.kind} name "${o.metadata.name}" is not a DNS label of at most ${limit}`);
  }
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    if (v.length > 63 || !LABEL_VALUE.test(v))
      errs.push(`${o.kind} ${o.metadata.name} label ${k}="${v}" is invalid`);
  }
  return errs;
}

describe(`render: random valid specs validate against Kubernetes ${K8S_MIN_VERSION} OpenAPI`, () => {
  const validator = k8sValidator();
  for (const engine of ENGINES) {
    test(`${engine}: ${RUNS} random MessageQueues`, () => {
      const internalKeys = Object.keys(engineModule(engine).internal);
      let objects = 0;
      fc.assert(
        fc.property(messageQueueFor(engine), credentials, (cr, creds) => {
          assert.deepEqual(admissionErrors(cr), [], 'generator produced an object the CRD refuses');
          const internal = Object.fromEntries(internalKeys.map((k) => [k, `${k}-value`]));
          const { objects: owned, patches } = render(cr, { credentials: creds, internal });
          assert.ok(owned.length >= 3, 'too few objects');
          for (const o of owned) {
            const errs = [...validator.validate(o), ...nameAndLabelErrors(o)];
            assert.deepEqual(errs, [], `${o.kind}/${o.metadata.name}`);
            assert.equal(o.metadata.namespace, cr.metadata.namespace);
            assert.equal((o.metadata.ownerReferences as { uid: string }[])[0]?.uid, cr.metadata.uid);
          }
          for (const p of patches) {
            // A partial Deployment is not a whole object; its containers must each be valid.
            const containers = (p as unknown as { spec: { template: { spec: { containers: unknown[] } } } })
              .spec.template.spec.containers;
            for (const c of containers) {
              assert.deepEqual(
                validator.validate({
                  apiVersion: 'v1',
                  kind: 'Pod',
                  metadata: { name: 'p' },
                  spec: { containers: [c] },
                } as never),
                [],
              );
            }
          }
          objects += owned.length;
        }),
        { numRuns: RUNS },
      );
      assert.ok(objects >= RUNS * 3);
    });
  }
});
