/**
 * `mqop render -f <file>`: prints the manifests mqop would apply for each MessageQueue in a YAML
 * file. Without a credentials Secret at hand it uses placeholder credentials, clearly marked, so
 * the output shows structure, never a real secret.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { ENGINE_TRAITS, ENGINES } from '../api/engines.ts';
import type { MessageQueue } from '../api/types.ts';
import { API_VERSION, KIND } from '../api/types.ts';
import { engineModule } from '../engines/index.ts';
import type { RenderInputs } from '../render/context.ts';
import { render } from '../render/render.ts';

export interface RenderOptions {
  file: string;
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

/** Renders every MessageQueue of a file to multi-document YAML. */
export function renderFile(opts: RenderOptions): string {
  const docs: unknown[] = [];
  for (const cr of parseMessageQueues(readFileSync(opts.file, 'utf8'))) {
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
