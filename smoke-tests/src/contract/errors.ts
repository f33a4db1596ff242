/**
 * Failures: the {@link SmokeError} engines throw, the classification of any error into a
 * {@link SmokeErrorKind} (auth, unreachable, timeout, protocol), and redaction of secrets from
 * messages.
 */
import type { SmokeErrorKind } from '../types.ts';

/** An error that already knows its kind; engines throw it for conditions they recognise. */
export class SmokeError extends Error {
  readonly kind: SmokeErrorKind;
  constructor(kind: SmokeErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SmokeError';
    this.kind = kind;
  }
}

/** Socket error codes that mean "could not reach the broker". */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'ENOENT', // unix socket path
]);

/** Words brokers use when credentials are wrong. Engines may add their own. */
export const AUTH_PATTERN =
  /WRONGPASS|NOAUTH|invalid username|invalid password|ACCESS[-_ ]REFUSED|authentication (failed|failure|error)|SASL|not authori[sz]ed|unauthori[sz]ed|bad credentials|login failed|access denied|permission denied|NOPERM/i;

/**
 * Walks an error and what it wraps: its `cause` chain, `originalError` (KafkaJS wraps the
 * underlying error there) and the members of an `errors` array (AggregateError, and client
 * libraries' own aggregates). Each error once.
 */
function* errorChain(err: unknown, depth = 0, seen = new Set<unknown>()): Generator<unknown> {
  if (err === undefined || err === null || depth > 8 || seen.has(err)) return;
  seen.add(err);
  yield err;
  if (typeof err !== 'object') return;
  const o = err as { cause?: unknown; originalError?: unknown; errors?: unknown };
  if (Array.isArray(o.errors)) for (const e of o.errors) yield* errorChain(e, depth + 1, seen);
  if ('cause' in o) yield* errorChain(o.cause, depth + 1, seen);
  if ('originalError' in o) yield* errorChain(o.originalError, depth + 1, seen);
}

/** An error's `code` property, whatever its type (socket errors: strings; gRPC: numbers). */
export function rawCodeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err
    ? (err as { code: unknown }).code
    : undefined;
}

function codeOf(err: unknown): string | undefined {
  const c = rawCodeOf(err);
  return typeof c === 'string' ? c : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

export interface ClassifyOptions {
  /** Extra engine-specific test for an auth failure. */
  isAuth?: (err: unknown) => boolean;
  /** Extra engine-specific test for an unreachable broker. */
  isUnreachable?: (err: unknown) => boolean;
}

/**
 * The kind of a failure: a {@link SmokeError} keeps its own; otherwise auth words or the engine's
 * `isAuth` → 'auth'; socket codes of {@link UNREACHABLE_CODES} or `isUnreachable` →
 * 'unreachable'; anything else → 'protocol'.
 */
export function classifyError(err: unknown, opts: ClassifyOptions = {}): SmokeErrorKind {
  const chain = [...errorChain(err)];
  for (const e of chain) if (e instanceof SmokeError) return e.kind;
  for (const e of chain) if (opts.isAuth?.(e) || AUTH_PATTERN.test(messageOf(e))) return 'auth';
  for (const e of chain) {
    const code = codeOf(e);
    if ((code && UNREACHABLE_CODES.has(code)) || opts.isUnreachable?.(e)) return 'unreachable';
  }
  return 'protocol';
}

/**
 * Removes secrets from a message: every given secret of 4 characters or more (and its URL-encoded
 * form) becomes `***`, and so does the password part of any `scheme://user:password@` in the text.
 */
export function redact(text: string, secrets: Array<string | undefined> = []): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
  for (const s of secrets) {
    // Very short secrets would blank out ordinary digits and words; URLs are covered above.
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('***');
  }
  return out;
}

/** A one-line, secret-free description of an error (with its cause's message when it adds one). */
export function describeError(err: unknown, secrets: Array<string | undefined> = []): string {
  const chain = [...errorChain(err)];
  const parts: string[] = [];
  for (const e of chain) {
    const code = codeOf(e);
    let m = messageOf(e).trim();
    if (!m && code) m = code;
    else if (code && !m.includes(code)) m = `${m} (${code})`;
    if (m && !parts.some((p) => p.includes(m))) parts.push(m);
  }
  return redact(parts.join(': ') || 'unknown error', secrets)
    .replace(/\s+/g, ' ')
    .slice(0, 1000);
}
