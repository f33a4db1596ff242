/**
 * The import-direction check: product code imports only downward through the layers of
 * docs/architecture.md, and no product file takes part in an import cycle.
 *
 *   node scripts/check-imports.ts      prints every violation, exits 1 if there is any
 *
 * Layers, bottom first (a file may import its own layer's files and any lower layer's):
 *   api, telemetry, smoke-tests   the API and the resolved value; logger and metrics; the smoke
 *                                 clients (a package of their own: they import no operator code)
 *   blocks                        render building blocks, apply helpers, pure status, the ZeroMQ device
 *   engines                       one module per engine
 *   render                        the render entry (render/render.ts)
 *   controller                    informers, work queue, the reconcile steps, the smoke scheduler
 *   cli                           subcommands of the `mqop` binary
 *   runtime                       flags, the operator's wiring, main
 *   bench                         development benchmarks: may use anything (the test harness
 *                                 too), nothing uses them
 * Groups that share a rank (api, telemetry, smoke-tests) may not import each other.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Layer of a path prefix; the longest matching prefix wins. */
export const LAYERS: readonly { prefix: string; group: string; rank: number }[] = [
  { prefix: 'operator/src/api/', group: 'api', rank: 0 },
  { prefix: 'operator/src/telemetry/', group: 'telemetry', rank: 0 },
  { prefix: 'smoke-tests/src/', group: 'smoke-tests', rank: 0 },
  { prefix: 'operator/src/render/', group: 'blocks', rank: 1 },
  { prefix: 'operator/src/apply/', group: 'blocks', rank: 1 },
  { prefix: 'operator/src/status/', group: 'blocks', rank: 1 },
  { prefix: 'operator/src/zmq/', group: 'blocks', rank: 1 },
  { prefix: 'operator/src/engines/', group: 'engines', rank: 2 },
  { prefix: 'operator/src/render/render.ts', group: 'render', rank: 3 },
  { prefix: 'operator/src/controller/', group: 'controller', rank: 4 },
  { prefix: 'operator/src/cli/', group: 'cli', rank: 5 },
  { prefix: 'operator/src/runtime/', group: 'runtime', rank: 6 },
  { prefix: 'bench/', group: 'bench', rank: 7 },
];

/** Product folders: every `.ts` below them except tests is checked. */
const ROOTS = ['operator/src', 'smoke-tests/src', 'bench'];

const isTest = (p: string) => p.endsWith('.test.ts');

export function layerOf(path: string): { group: string; rank: number } | undefined {
  let best: (typeof LAYERS)[number] | undefined;
  for (const l of LAYERS)
    if (path.startsWith(l.prefix) && (!best || l.prefix.length > best.prefix.length)) best = l;
  return best;
}

function walk(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(join(ROOT, dir));
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = `${dir}/${e}`;
    if (e === 'node_modules' || e === 'results') return [];
    if (statSync(join(ROOT, p)).isDirectory()) return walk(p);
    return p.endsWith('.ts') && !isTest(p) ? [p] : [];
  });
}

/** Relative imports of one file (static, re-exports, dynamic), as repository paths. */
export function importsOf(path: string, text: string): string[] {
  const out: string[] = [];
  const re =
    /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec) out.push(relative(ROOT, resolve(ROOT, dirname(path), spec)));
  }
  return out;
}

export interface Violation {
  from: string;
  to: string;
  why: string;
}

/** Every import that runs up the layers, into tests, or out of the known layers. */
export function directionViolations(graph: ReadonlyMap<string, readonly string[]>): Violation[] {
  const out: Violation[] = [];
  for (const [from, tos] of graph) {
    const a = layerOf(from);
    for (const to of tos) {
      const b = layerOf(to);
      const testCode = isTest(to) || to.startsWith('operator/test/') || to.includes('/test/');
      // The benchmarks are development tools: they may start the test harness's control plane.
      if (testCode && a?.group !== 'bench') out.push({ from, to, why: 'product code imports test code' });
      else if (testCode) continue;
      else if (!a || !b) out.push({ from, to, why: `no layer for ${a ? to : from}` });
      else if (a.group !== b.group && b.rank >= a.rank)
        out.push({ from, to, why: `${a.group} (layer ${a.rank}) imports ${b.group} (layer ${b.rank})` });
    }
  }
  return out;
}

/** Import cycles (each as its files in order), by depth-first search. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (!graph.has(m)) continue;
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

/** The import graph of the product code as it is on disk. */
export function productGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const p of ROOTS.flatMap(walk)) graph.set(p, importsOf(p, readFileSync(join(ROOT, p), 'utf8')));
  return graph;
}

if (import.meta.main) {
  const graph = productGraph();
  const bad = directionViolations(graph);
  const loops = cycles(graph);
  for (const v of bad) console.error(`${v.from} -> ${v.to}: ${v.why}`);
  for (const c of loops) console.error(`cycle: ${c.join(' -> ')}`);
  console.log(
    `${graph.size} files, ${[...graph.values()].flat().length} imports: ${bad.length} upward, ${loops.length} cycles`,
  );
  process.exitCode = bad.length || loops.length ? 1 : 0;
}
