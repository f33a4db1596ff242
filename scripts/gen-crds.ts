/**
 * Writes crds/messagequeues.mqop.dev.yaml from the TypeScript schema. `--check` exits 1 when the
 * checked-in file differs (used by CI through the drift test as well).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CRD_PATH, crdYaml } from '../operator/src/api/crd-file.ts';

const check = process.argv.includes('--check');
const want = crdYaml();
if (check) {
  const have = readFileSync(CRD_PATH, 'utf8');
  if (have !== want) {
    console.error(`${CRD_PATH} is out of date: run npm run gen:crds`);
    process.exit(1);
  }
  console.log(`${CRD_PATH} is up to date`);
} else {
  writeFileSync(CRD_PATH, want);
  console.log(`wrote ${CRD_PATH}`);
}
