/**
 * Writes crds/messagequeues.mqop.dev.yaml, its copy in the Helm chart (charts/mqop/crds/) and
 * docs/api.md from the TypeScript schema. `--check`
 * exits 1 when a checked-in file differs (the drift test checks the same).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { API_DOC_PATH, apiDoc, CHART_CRD_PATH, CRD_PATH, crdYaml } from '../operator/src/api/crd-file.ts';

const check = process.argv.includes('--check');
let stale = false;
for (const [path, want] of [
  [CRD_PATH, crdYaml()],
  [CHART_CRD_PATH, crdYaml()],
  [API_DOC_PATH, apiDoc()],
] as const) {
  if (check) {
    if (readFileSync(path, 'utf8') !== want) {
      console.error(`${path} is out of date: run npm run gen:crds`);
      stale = true;
    }
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, want);
    console.log(`wrote ${path}`);
  }
}
if (stale) process.exit(1);
