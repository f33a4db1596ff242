/**
 * Offline admission check of a MessageQueue against the CRD that `crds/` holds: the OpenAPI part
 * through ajv (defaults applied first, unknown fields rejected as `kubectl --validate=strict`
 * does), then every CEL `x-kubernetes-validations` rule through a CEL interpreter (@bufbuild/cel),
 * with `self` bound as the API server binds it. Messages are phrased as the API server phrases
 * them, so the same bad-input table runs against a real API server too.
 *
 * This is a test aid, not the authority: the integration suite applies the table for real.
 */
import { run } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { Ajv, type ErrorObject } from 'ajv';
import type { JSONSchemaProps } from '../../src/api/schema.ts';
import { messageQueueSchema } from '../../src/api/schema.ts';

/** JSON schema for ajv: int-or-string kept as anyOf, unknown fields rejected. */
function toAjv(s: JSONSchemaProps): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'format' || k === 'nullable') continue;
    if (k === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(v as Record<string, JSONSchemaProps>).map(([pk, pv]) => [pk, toAjv(pv)]),
      );
    } else if (k === 'items' || (k === 'additionalProperties' && typeof v === 'object')) {
      out[k] = toAjv(v as JSONSchemaProps);
    } else if (k === 'anyOf') {
      out.anyOf = (v as JSONSchemaProps[]).map(toAjv);
    } else {
      out[k] = v;
    }
  }
  if (s.properties && s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

/** JSON to CEL input: objects become maps, integers become ints (bigint), as in Kubernetes. */
function toCel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toCel);
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (v !== null && typeof v === 'object') {
    return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toCel(x)]));
  }
  return v;
}

/** JSON pointer to the API server's field path: `/spec/list/0/x` -> `spec.list[0].x`. */
const dotted = (path: string) =>
  path
    .split('/')
    .slice(1)
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');

/** API-server phrasing of one ajv error. */
function phrase(e: ErrorObject, obj: unknown): string {
  const field = dotted(e.instancePath);
  const value = e.instancePath
    .split('/')
    .slice(1)
    .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${field ? `${field}.` : ''}${p.missingProperty}: Required value`;
    case 'enum':
      return `${field}: Unsupported value: ${JSON.stringify(value)}: supported values: ${(
        p.allowedValues as unknown[]
      )
        .map((x) => JSON.stringify(x))
        .join(', ')}`;
    case 'minimum':
      return `${field}: Invalid value: ${value}: ${field} in body should be greater than or equal to ${p.limit}`;
    case 'maximum':
      return `${field}: Invalid value: ${value}: ${field} in body should be less than or equal to ${p.limit}`;
    case 'pattern':
      return `${field}: Invalid value: ${JSON.stringify(value)}: ${field} in body should match '${p.pattern}'`;
    case 'maxLength':
      return `${field}: Too long: may not be more than ${p.limit} bytes`;
    case 'maxProperties':
      return `${field}: Too many: ${Object.keys(value as object).length}: must have at most ${p.limit} items`;
    case 'maxItems':
      return `${field}: Too many: ${(value as unknown[]).length}: must have at most ${p.limit} items`;
    case 'type':
      return `${field}: Invalid value: ${JSON.stringify(typeof value)}: ${field} in body must be of type ${p.type}: ${JSON.stringify(value)}`;
    case 'additionalProperties':
      return `unknown field "${field ? `${field}.` : ''}${p.additionalProperty}"`;
    default:
      return `${field}: ${e.message}`;
  }
}

interface Walk {
  schema: JSONSchemaProps;
  value: unknown;
  old: unknown;
  path: string;
}

/** Evaluates every CEL rule of the schema tree against the object, as on create or update. */
function celErrors(root: Walk): string[] {
  const errors: string[] = [];
  const stack: Walk[] = [root];
  while (stack.length) {
    const { schema, value, old, path } = stack.pop() as Walk;
    if (value === undefined) continue;
    for (const r of schema['x-kubernetes-validations'] ?? []) {
      const transition = r.rule.includes('oldSelf');
      if (transition && old === undefined) continue;
      let ok: unknown;
      try {
        ok = run(r.rule, { self: toCel(value), oldSelf: toCel(old) } as never, { funcs: strings });
      } catch (err) {
        errors.push(`${path}: CEL rule failed to evaluate: ${r.rule}: ${(err as Error).message}`);
        continue;
      }
      if (ok === true) continue;
      // As the API server does: the messageExpression's result, else the static message.
      let message = r.message;
      if (r.messageExpression) {
        try {
          message = String(
            run(r.messageExpression, { self: toCel(value), oldSelf: toCel(old) } as never, {
              funcs: strings,
            }),
          );
        } catch {}
      }
      errors.push(`${path}${r.fieldPath ?? ''}: Invalid value: ${message}`);
    }
    if (schema.properties && value && typeof value === 'object') {
      for (const [k, sub] of Object.entries(schema.properties)) {
        stack.push({
          schema: sub,
          value: (value as Record<string, unknown>)[k],
          old: (old as Record<string, unknown> | undefined)?.[k],
          path: path ? `${path}.${k}` : k,
        });
      }
    }
    if (schema.items && Array.isArray(value)) {
      value.forEach((v, i) => {
        stack.push({
          schema: schema.items as JSONSchemaProps,
          value: v,
          old: undefined,
          path: `${path}[${i}]`,
        });
      });
    }
    if (typeof schema.additionalProperties === 'object' && value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        stack.push({
          schema: schema.additionalProperties,
          value: v,
          old: (old as Record<string, unknown> | undefined)?.[k],
          path: `${path}[${k}]`,
        });
      }
    }
  }
  return errors;
}

const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, validateFormats: false });
const validateOpenApi = ajv.compile(toAjv(messageQueueSchema()));

/**
 * Admission errors for a MessageQueue (create, or update when `old` is given), as the API server
 * would list them. Empty when admitted. Does not modify its input.
 */
export function admissionErrors(obj: unknown, old?: unknown): string[] {
  const copy = structuredClone(obj);
  if (!validateOpenApi(copy)) return (validateOpenApi.errors ?? []).map((e) => phrase(e, copy));
  let oldCopy: unknown;
  if (old !== undefined) {
    oldCopy = structuredClone(old);
    validateOpenApi(oldCopy);
  }
  return celErrors({ schema: messageQueueSchema(), value: copy, old: oldCopy, path: '' });
}

/** The MessageQueue with schema defaults applied, as the API server would store it. */
export function withDefaults<T>(obj: T): T {
  const copy = structuredClone(obj);
  validateOpenApi(copy);
  return copy;
}
