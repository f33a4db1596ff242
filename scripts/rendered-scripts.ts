/**
 * Writes the shell scripts of the golden manifests (operator/test/golden/*.yaml, which the golden
 * test keeps byte-identical to what mqop renders) into a folder, for shellcheck
 * (scripts/lint-shell.sh):
 * - `<case>/<key>`: every ConfigMap data entry that starts with `#!`;
 * - `<case>/<kind>.<name>.<path>.sh`: every `sh -c` / `bash -c` command string (no shebang: check
 *   it as sh, or bash when the name ends in `.bash`).
 * Usage: node scripts/rendered-scripts.ts <out-dir>; prints how many files it wrote.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const GOLDEN = new URL('../operator/test/golden/', import.meta.url);
const SHELLS: Record<string, string> = { sh: 'sh', '/bin/sh': 'sh', bash: 'bash', '/bin/bash': 'bash' };

/** `[path, script, shell]` of every `<shell> -c <script>` array below `value`. */
function commandStrings(value: unknown, path: string): [string, string, string][] {
  if (Array.isArray(value)) {
    const [cmd, flag, script] = value;
    const shell = typeof cmd === 'string' ? SHELLS[cmd] : undefined;
    const own: [string, string, string][] =
      shell && flag === '-c' && typeof script === 'string' ? [[path, script, shell]] : [];
    return [...own, ...value.flatMap((v, i) => commandStrings(v, `${path}.${i}`))];
  }
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => commandStrings(v, path ? `${path}.${k}` : k));
  }
  return [];
}

const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/rendered-scripts.ts <out-dir>');
  process.exit(2);
}
let written = 0;
for (const file of readdirSync(GOLDEN).filter((f) => f.endsWith('.yaml'))) {
  const dir = join(out, file.replace(/\.yaml$/, ''));
  mkdirSync(dir, { recursive: true });
  for (const doc of parseAllDocuments(readFileSync(new URL(file, GOLDEN), 'utf8'))) {
    const obj = doc.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> };
    if (!obj) continue;
    if (obj.kind === 'ConfigMap') {
      for (const [key, text] of Object.entries(obj.data ?? {})) {
        if (!text.startsWith('#!')) continue;
        writeFileSync(join(dir, key), text);
        written++;
      }
    }
    for (const [path, script, shell] of commandStrings(obj, '')) {
      const suffix = shell === 'bash' ? 'bash' : 'sh';
      writeFileSync(join(dir, `${obj.kind}.${obj.metadata?.name}.${path}.${suffix}`), script);
      written++;
    }
  }
}
console.log(written);
