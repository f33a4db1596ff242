/**
 * `mqop render -f <file>`: prints the manifests mqop would apply for each MessageQueue in a YAML
 * file. Without a credentials Secret at hand it uses placeholder credentials, clearly marked, so
 * the output shows structure, never a real secret.
 *
 * `-f` follows kubectl: `-` is standard input, a folder stands for its `*.yaml`, `*.yml` and
 * `*.json` files (not its subfolders) in name order, and `-f` may be repeated (documents come in
 * the order of the flags).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ENGINE_TRAITS, ENGINES } from '../api/engines.ts';
import type { MessageQueue } from '../api/types.ts';
import { API_VERSION, KIND } from '../api/types.ts';
import { engineModule } from '../engines/index.ts';
import type { RenderInputs } from '../render/context.ts';
import { render } from '../render/render.ts';

export interface RenderOptions {
  /** `-f` values in order: files, folders, `-` for standard input. */
  files: string[];
  username?: string;
  password?: string;
  imageRegistry?: string;
  operatorImage?: string;
  operatorNamespace?: string;
  /** Include the Secrets the controller creates once (credentials, internal values). */
  withSecrets?: boolean;
}

/** Placeholder credentials for offline rendering. */
export const PLACEHOLDER_PASSWORD = 'CHANGE-ME-rendered-offline';

/** Reads MessageQueues from YAML text; throws with the document index on anything else. */
export function parseMessageQueues(text: string): MessageQueue[] {
  const out: MessageQueue[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length) throw new Error(`document ${i + 1}: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as MessageQueue | null;
    if (obj === null) return;
    if (obj.apiVersion !== API_VERSION || obj.kind !== KIND) {
      throw new Error(
        `document ${i + 1}: expected ${API_VERSION} ${KIND}, got ${obj.apiVersion} ${obj.kind}`,
      );
    }
    if (!obj.metadata?.name) throw new Error(`document ${i + 1}: metadata.name is required`);
    if (!obj.spec || !ENGINES.includes(obj.spec.engine)) {
      throw new Error(`document ${i + 1}: spec.engine must be one of ${ENGINES.join(', ')}`);
    }
    out.push(obj);
  });
  return out;
}

/** One input of `render`: where it came from (for messages) and its text. */
export interface RenderSource {
  name: string;
  text: string;
}

/** Manifest files kubectl reads from a folder. */
const MANIFEST_FILE = /\.(ya?ml|json)$/;

/**
 * The texts behind `-f` values, in order: `-` reads `readStdin` (once at most), a folder gives its
 * manifest files sorted by name, anything else is a file. Throws naming a path it cannot read.
 */
export function readSources(
  paths: string[],
  readStdin: () => string = () => readFileSync(0, 'utf8'),
): RenderSource[] {
  if (paths.length === 0) throw new Error('render needs -f <file|folder|->');
  if (paths.filter((p) => p === '-').length > 1) throw new Error('-f - (standard input) can be given once');
  const read = (path: string) => attempt(path, () => readFileSync(path, 'utf8'));
  return paths.flatMap((path): RenderSource[] => {
    if (path === '-') return [{ name: 'standard input', text: readStdin() }];
    if (!attempt(path, () => statSync(path).isDirectory())) return [{ name: path, text: read(path) }];
    const names = readdirSync(path, { withFileTypes: true })
      .filter((e) => !e.isDirectory() && MANIFEST_FILE.test(e.name))
      .map((e) => e.name)
      .sort();
    if (names.length === 0) throw new Error(`${path}: the folder holds no .yaml, .yml or .json file`);
    return names.map((n) => ({ name: join(path, n), text: read(join(path, n)) }));
  });
}

/** `f()`, or an error `cannot read <path>: no such file or directory` (without errno code and call). */
function attempt<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    const why = (err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    throw new Error(`cannot read ${path}: ${why}`);
  }
}

/** The MessageQueues of every source, in order; a parse error names its source. */
function messageQueues(sources: RenderSource[]): MessageQueue[] {
  return sources.flatMap((s) => {
    try {
      return parseMessageQueues(s.text);
    } catch (err) {
      throw new Error(`${s.name}: ${(err as Error).message}`);
    }
  });
}

/** Renders every MessageQueue of the `-f` inputs to multi-document YAML. */
export function renderFile(opts: RenderOptions, readStdin?: () => string): string {
  const docs: unknown[] = [];
  for (const cr of messageQueues(readSources(opts.files, readStdin))) {
    const engine = cr.spec.engine;
    const mod = engineModule(engine);
    const credentials = ENGINE_TRAITS[engine].supportsAuth
      ? { username: opts.username ?? 'mqop', password: opts.password ?? PLACEHOLDER_PASSWORD }
      : undefined;
    const internal = Object.fromEntries(Object.keys(mod.internal).map((k) => [k, `placeholder-${k}`]));
    const inputs: RenderInputs = {
      credentials,
      internal,
      operator: {
        imageRegistry: opts.imageRegistry,
        image: opts.operatorImage,
        namespace: opts.operatorNamespace,
      },
    };
    const { objects, patches } = render(cr, inputs);
    docs.push(...objects, ...patches);
  }
  return docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}
