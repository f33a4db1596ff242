/**
 * Golden manifests: each engine's example (and a replicated variant) rendered with fixed inputs
 * and compared byte for byte with `operator/test/golden/<case>.yaml`, which a person reviews.
 * Regenerate after an intended change with `UPDATE_GOLDEN=1 npm run test:unit`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ENGINE_TRAITS, ENGINES } from '../src/api/engines.ts';
import type { MessageQueue } from '../src/api/types.ts';
import { parseMessageQueues } from '../src/cli/render-command.ts';
import { engineModule } from '../src/engines/index.ts';
import { render } from '../src/render/render.ts';
import { admissionErrors } from './support/crd-validator.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const goldenDir = `${root}operator/test/golden`;
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Case {
  name: string;
  cr: MessageQueue;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const engine of ENGINES) {
    const [example] = parseMessageQueues(readFileSync(`${root}examples/${engine}.yaml`, 'utf8'));
    assert.ok(example, `examples/${engine}.yaml holds no MessageQueue`);
    const cr = { ...example, metadata: { ...example.metadata, uid: '11111111-2222-4333-8444-555555555555' } };
    out.push({ name: engine, cr });
    const other = ENGINE_TRAITS[engine].replicas.allowed.find((r) => r !== (cr.spec.replicas ?? 1) && r <= 3);
    if (other && engine !== 'zeromq') {
      out.push({ name: `${engine}-${other}-replicas`, cr: { ...cr, spec: { ...cr.spec, replicas: other } } });
    }
  }
  return out;
}

function goldenYaml(c: Case): string {
  const mod = engineModule(c.cr.spec.engine);
  const internal = Object.fromEntries(Object.keys(mod.internal).map((k) => [k, `golden-${k}`]));
  const { objects, patches } = render(c.cr, {
    credentials: ENGINE_TRAITS[c.cr.spec.engine].supportsAuth
      ? { username: 'mqop', password: 'golden-password' }
      : undefined,
    internal,
    operator: { image: 'mqop:golden', namespace: 'mqop-system' },
  });
  const header = `# Golden manifest for ${c.name}: rendered from examples/${c.cr.spec.engine}.yaml. Reviewed by a person.\n`;
  return (
    header +
    [...objects, ...patches]
      .map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }))
      .join('---\n')
  );
}

describe('golden manifests', () => {
  for (const c of cases()) {
    test(c.name, () => {
      assert.deepEqual(admissionErrors(c.cr), [], 'the example is refused by the CRD');
      const file = `${goldenDir}/${c.name}.yaml`;
      const want = goldenYaml(c);
      if (UPDATE) {
        mkdirSync(goldenDir, { recursive: true });
        writeFileSync(file, want);
      }
      assert.ok(existsSync(file), `${file} is missing: run UPDATE_GOLDEN=1 npm run test:unit`);
      assert.equal(readFileSync(file, 'utf8'), want);
    });
  }
});

describe('examples', () => {
  test('the kind preset has one MessageQueue per engine, one replica, ephemeral storage, all admitted', () => {
    const crs = parseMessageQueues(readFileSync(`${root}examples/kind/all-engines.yaml`, 'utf8'));
    assert.deepEqual(crs.map((c) => c.spec.engine).sort(), [...ENGINES].sort());
    for (const cr of crs) {
      assert.equal(cr.spec.replicas, 1);
      if (ENGINE_TRAITS[cr.spec.engine].keepsData) assert.equal(cr.spec.storage?.ephemeral, true);
      assert.deepEqual(admissionErrors(cr), [], cr.metadata.name);
    }
  });
});
