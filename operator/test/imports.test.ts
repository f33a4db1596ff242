/** The layers of docs/architecture.md, checked over the real import graph (scripts/check-imports.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  cycles,
  directionViolations,
  importsOf,
  layerOf,
  productGraph,
} from '../../scripts/check-imports.ts';

describe('import direction', () => {
  test('product code imports only downward and has no import cycle', () => {
    const graph = productGraph();
    assert.ok(graph.size > 50, `only ${graph.size} files read: the walk is broken`);
    assert.ok(graph.has('operator/src/controller/reconciler.ts'));
    assert.deepEqual(directionViolations(graph), []);
    assert.deepEqual(cycles(graph), []);
  });

  test('an upward import, an import of test code and an unknown folder are each reported', () => {
    const graph = new Map([
      ['operator/src/api/types.ts', ['operator/src/render/workload.ts']],
      [
        'operator/src/engines/redis.ts',
        ['operator/src/render/render.ts', 'operator/test/support/arbitraries.ts'],
      ],
      ['operator/src/render/render.ts', ['operator/src/engines/index.ts']],
      ['operator/src/telemetry/logger.ts', ['operator/src/api/types.ts']],
      ['operator/src/elsewhere/x.ts', []],
      ['operator/src/runtime/main.ts', ['operator/src/elsewhere/x.ts']],
    ]);
    const why = directionViolations(graph).map((v) => `${v.from} -> ${v.to}`);
    assert.deepEqual(why.sort(), [
      'operator/src/api/types.ts -> operator/src/render/workload.ts',
      'operator/src/engines/redis.ts -> operator/src/render/render.ts',
      'operator/src/engines/redis.ts -> operator/test/support/arbitraries.ts',
      'operator/src/runtime/main.ts -> operator/src/elsewhere/x.ts',
      'operator/src/telemetry/logger.ts -> operator/src/api/types.ts',
    ]);
  });

  test('the render entry sits above the engines, the building blocks below them', () => {
    assert.equal(layerOf('operator/src/render/render.ts')?.group, 'render');
    assert.equal(layerOf('operator/src/render/workload.ts')?.group, 'blocks');
    assert.ok(
      (layerOf('operator/src/engines/kafka.ts')?.rank ?? -1) >
        (layerOf('operator/src/render/workload.ts')?.rank ?? 9),
    );
  });

  test('a cycle is found, with its files in order', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    assert.deepEqual(cycles(graph), [['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  test('every import form is read: type-only, re-export, dynamic, side effect; packages are not', () => {
    const text = [
      "import type { A } from '../api/types.ts';",
      "import {\n  b,\n  c,\n} from './b.ts';",
      "export { d } from '../render/d.ts';",
      "const e = await import('./e.ts');",
      "import './f.ts';",
      "import { parse } from 'yaml';",
      "import http from 'node:http';",
    ].join('\n');
    assert.deepEqual(importsOf('operator/src/controller/x.ts', text), [
      'operator/src/api/types.ts',
      'operator/src/controller/b.ts',
      'operator/src/render/d.ts',
      'operator/src/controller/e.ts',
      'operator/src/controller/f.ts',
    ]);
  });
});
