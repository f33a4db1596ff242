/**
 * GitOps round trip: every example, server-side applied, reconciled by mqop, applied again, leaves
 * `kubectl diff --server-side` empty and the generation unchanged. mqop writes status, never
 * spec; a field the operator took over would show up as a diff or as a second manager of spec.
 * Each example goes into its own namespace: several examples share the name `orders`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import type { MessageQueue } from '../../src/api/types.ts';
import {
  createNamespace,
  deleteNamespace,
  describeMq,
  getJson,
  getMq,
  kubectl,
  kubectlStatus,
  ROOT,
  waitFor,
} from './e2e.ts';

interface ManagedField {
  manager: string;
  subresource?: string;
  fieldsV1?: object;
}

const files = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => `examples/${f}`)
  .concat('examples/kind/all-engines.yaml');
const namespaces: string[] = [];

after(() => {
  for (const ns of namespaces) deleteNamespace(ns);
});

describe('server-side applying every example twice leaves kubectl diff empty', () => {
  for (const file of files) {
    test(file, async () => {
      const ns = `e2e-ssa-${file
        .replace(/^examples\//, '')
        .replace(/\.yaml$/, '')
        .replace(/[^a-z0-9]+/g, '-')}`;
      namespaces.push(ns);
      createNamespace(ns);
      const docs = parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).map((d) => {
        const o = d.toJS() as MessageQueue;
        o.metadata.namespace = ns;
        return o;
      });
      const text = docs.map((o) => `---\n${stringify(o)}`).join('');
      const ssa = ['--server-side', '--field-manager=gitops', '-f', '-'];
      kubectl(['apply', ...ssa], text);
      const names = docs.map((o) => o.metadata.name);
      // mqop has reconciled each one (status written for this generation)
      const generations = await waitFor(
        () => {
          const ms = names.map((n) => getMq(ns, n));
          return ms.every((m) => m.status?.observedGeneration === m.metadata.generation)
            ? ms.map((m) => m.metadata.generation)
            : undefined;
        },
        120_000,
        () => names.map((n) => describeMq(ns, n)).join('\n'),
      );
      kubectl(['apply', ...ssa], text);
      const diff = kubectlStatus(['diff', ...ssa], text);
      assert.equal(
        diff.status,
        0,
        `kubectl diff is not empty (exit ${diff.status}):\n${diff.stdout}${diff.stderr}`,
      );
      for (const [i, n] of names.entries()) {
        const m = getJson<MessageQueue>(['get', 'messagequeue', n, '-n', ns, '--show-managed-fields']);
        const managed = (m.metadata as { managedFields?: ManagedField[] }).managedFields ?? [];
        assert.equal(m.metadata.generation, generations[i], `${n}: spec changed between the applies`);
        const specManagers = managed
          .filter((f) => JSON.stringify(f.fieldsV1 ?? {}).includes('"f:spec"'))
          .map((f) => f.manager);
        assert.deepEqual(specManagers, ['gitops'], `${n}: managers of spec`);
        const statusManagers = managed.filter((f) => f.subresource === 'status').map((f) => f.manager);
        assert.ok(statusManagers.length > 0, `${n}: mqop wrote status`);
      }
    });
  }
});
