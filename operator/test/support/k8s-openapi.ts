/**
 * Validates Kubernetes objects against the real OpenAPI schema (swagger.json) of the minimum
 * Kubernetes version mqop supports, fetched by `scripts/fetch-k8s-openapi.sh` from the
 * k8s.io/kubernetes module. Strict like kubeconform's strict mode: unknown fields are errors.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';

/** Minimum supported Kubernetes version; keep in step with scripts/fetch-k8s-openapi.sh. */
export const K8S_MIN_VERSION = process.env.K8S_MIN_VERSION ?? 'v1.31.0';

type Schema = Record<string, unknown>;

function swaggerPath(): string {
  const cache = process.env.MQOP_CACHE ?? join(homedir(), '.cache', 'mqop');
  return join(cache, 'k8s-openapi', K8S_MIN_VERSION, 'swagger.json');
}

/**
 * Turns a swagger 2.0 definition into JSON Schema ajv understands: int-or-string and quantities
 * accept both types (as the API server does), and objects with declared properties reject
 * unknown fields.
 */
function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (node === null || typeof node !== 'object') return node;
  const s = node as Schema;
  if (s.format === 'int-or-string') {
    return { anyOf: [{ type: 'string' }, { type: 'integer' }] };
  }
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'format') continue;
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as Schema).map(([pk, pv]) => [pk, convert(pv)]))
        : convert(v);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export interface K8sValidator {
  /** Errors for one object; empty when valid. */
  validate(obj: { apiVersion: string; kind: string }): string[];
  /** Number of kinds known, for a sanity check. */
  kinds: number;
}

let cached: K8sValidator | undefined;

/** Loads the swagger once and compiles validators lazily per kind. */
export function k8sValidator(): K8sValidator {
  if (cached) return cached;
  const swagger = JSON.parse(readFileSync(swaggerPath(), 'utf8')) as { definitions: Record<string, Schema> };
  const definitions: Record<string, unknown> = {};
  const byGvk = new Map<string, string>();
  for (const [name, def] of Object.entries(swagger.definitions)) {
    definitions[name] = convert(def);
    for (const gvk of (def['x-kubernetes-group-version-kind'] as {
      group: string;
      version: string;
      kind: string;
    }[]) ?? []) {
      byGvk.set(`${gvk.group ? `${gvk.group}/` : ''}${gvk.version}/${gvk.kind}`, name);
    }
  }
  // Quantity is declared as a string, but the API server also takes JSON numbers.
  definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'] = {
    anyOf: [{ type: 'string' }, { type: 'number' }],
  };
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'k8s', definitions });
  const compiled = new Map<string, ValidateFunction>();
  cached = {
    kinds: byGvk.size,
    validate(obj) {
      const kind = obj.kind;
      const def = byGvk.get(`${obj.apiVersion}/${kind}`);
      if (!def) return [`unknown kind ${obj.apiVersion} ${obj.kind} in Kubernetes ${K8S_MIN_VERSION}`];
      let fn = compiled.get(def);
      if (!fn) {
        fn = ajv.compile({ $ref: `k8s#/definitions/${def}` });
        compiled.set(def, fn);
      }
      if (fn(obj as unknown)) return [];
      return (fn.errors ?? []).map(
        (e) =>
          `${kind}: ${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
      );
    },
  };
  return cached;
}
