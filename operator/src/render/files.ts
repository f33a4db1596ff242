/**
 * Text files that engines ship in their ConfigMaps or container commands (start scripts, probes),
 * kept as real files under `operator/src/engines/files/<engine>/` so that shellcheck reads them.
 *
 * A file holds exactly the text that is rendered, except that each value the renderer fills in is
 * written as a placeholder `__NAME__` (NAME: an upper-case letter, then upper-case letters, digits
 * and single `_`s). To the shell `__NAME__` is an ordinary word, and inside `$(( ))` a variable,
 * so the file stays a script shellcheck can parse. Write a placeholder where a shell word can
 * stand, and never right after a `$name` (it would read as part of the variable name).
 * Substitution is literal: values are inserted as they are (no escaping, no recursion).
 * Every placeholder needs a value and every value a placeholder, so a typo on either side throws
 * at render time instead of shipping a broken script.
 *
 * Rendered bytes feed the `mqop.dev/config-hash` pod annotation: changing a file (even a comment)
 * rolls every pod that uses it, exactly as changing the text in TypeScript did.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `__NAME__`, the placeholder syntax of template files. */
const PLACEHOLDER = /__([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)__/g;

/** Placeholder values, by name without the underscores around it. */
export type TemplateValues = Readonly<Record<string, string | number>>;

/**
 * Replaces every `__NAME__` in `text` with `values[NAME]`. Throws, naming `source`, when a
 * placeholder has no value or a value has no placeholder. Pure.
 */
export function fillPlaceholders(text: string, values: TemplateValues, source = 'template'): string {
  const used = new Set<string>();
  const out = text.replace(PLACEHOLDER, (_match, name: string) => {
    if (!Object.hasOwn(values, name)) throw new Error(`${source}: placeholder __${name}__ has no value`);
    used.add(name);
    return String(values[name]);
  });
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0) {
    throw new Error(`${source}: no placeholder for ${unused.map((name) => `__${name}__`).join(', ')}`);
  }
  return out;
}

/** A template file, read once. */
export interface FileTemplate {
  /** Path of the file, for messages. */
  readonly path: string;
  /** The file's text with its placeholders filled in (see `fillPlaceholders`). */
  fill(values?: TemplateValues): string;
}

/**
 * Reads a template file once (when the engine module loads), so rendering does no I/O. Pass a URL
 * relative to the caller, e.g. `new URL('./files/kafka/start.sh', import.meta.url)`.
 */
export function fileTemplate(url: URL): FileTemplate {
  const path = fileURLToPath(url);
  const text = readFileSync(path, 'utf8');
  return { path, fill: (values = {}) => fillPlaceholders(text, values, path) };
}
