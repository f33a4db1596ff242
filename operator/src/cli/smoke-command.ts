/**
 * `mqop smoke`: runs one produce/consume smoke test against a broker and prints the result.
 *
 *   mqop smoke --engine E --url U [--secret-file F] [--username U] [--messages N]
 *              [--message-bytes B] [--timeout S] [--run-id ID] [--output table|json]
 *
 * Credentials come from `--secret-file` (a servicebinding-style directory of files `username`,
 * `password`, …, or a YAML/JSON Secret manifest with `data` (base64) and/or `stringData`), or the
 * password from env MQOP_SMOKE_PASSWORD; never from the command line. Keys other than username
 * and password become the target's extras (e.g. `sentinel.master`); the Secret's `uri` and `type`
 * stand in for a missing `--url` / `--engine`. The password is never printed.
 *
 * Exit codes: 0 the smoke test passed, 1 it failed, 2 usage error (bad flags, unreadable secret).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { redact, smokeEngines, smokeTestFor } from '../../../smoke-tests/src/index.ts';
import type { SmokeOptions, SmokeResult, SmokeTarget } from '../../../smoke-tests/src/types.ts';

export const SMOKE_USAGE = `Usage: mqop smoke --engine E --url U [--secret-file F] [--username U] [--messages N]
                  [--message-bytes B] [--timeout S] [--run-id ID] [--output table|json]
  Produce N messages of B bytes to the run's own queue/stream/topic (mqop-smoke-<id>), consume
  them back, report counts and latency, and delete what the run created.
  --secret-file F   credentials: a directory of files (username, password, ...) or a Secret
                    manifest (YAML/JSON; data or stringData). Env MQOP_SMOKE_PASSWORD also works.
  defaults: --messages 1000 --message-bytes 1024 --timeout 60 --output table
  exit code: 0 passed, 1 failed, 2 usage error
`;

/** A usage error: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface SmokeCommand {
  engine: string;
  target: SmokeTarget;
  options: SmokeOptions;
  output: 'table' | 'json';
}

/** Keys of a credentials Secret that are not extras. */
const NOT_EXTRA = new Set(['username', 'password']);

function decodeBase64Strict(key: string, v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(v)) {
    throw new UsageError(`secret key "${key}": data is not base64`);
  }
  return Buffer.from(v, 'base64').toString('utf8');
}

/** Reads a Secret manifest's keys (data base64-decoded, stringData over it), or a plain map. */
export function secretFromManifest(text: string): Record<string, string> {
  let docs: unknown[];
  try {
    docs = parseAllDocuments(text).map((d) => {
      if (d.errors.length) throw new Error(d.errors[0]?.message);
      return d.toJS();
    });
  } catch (err) {
    throw new UsageError(`secret file is neither a directory nor valid YAML/JSON: ${(err as Error).message}`);
  }
  docs = docs.filter((d) => d !== null && d !== undefined);
  const obj = (docs.find((d) => (d as { kind?: unknown })?.kind === 'Secret') ?? docs[0]) as
    | Record<string, unknown>
    | undefined;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    throw new UsageError('secret file holds no Secret');
  const out: Record<string, string> = {};
  if (obj.kind !== undefined) {
    if (obj.kind !== 'Secret') throw new UsageError(`secret file holds a ${String(obj.kind)}, not a Secret`);
    const data = (obj.data ?? {}) as Record<string, unknown>;
    const stringData = (obj.stringData ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(data)) out[k] = decodeBase64Strict(k, v);
    for (const [k, v] of Object.entries(stringData)) out[k] = String(v);
  } else {
    // A plain key: value map.
    for (const [k, v] of Object.entries(obj)) {
      if (v !== null && typeof v !== 'object') out[k] = String(v);
    }
  }
  return out;
}

/**
 * Reads a servicebinding-style Secret: a directory with one file per key (hidden entries such as
 * Kubernetes' `..data` skipped; one trailing newline trimmed), or a Secret manifest file.
 */
export function readSecretFile(path: string): Record<string, string> {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    throw new UsageError(
      `cannot read secret file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  if (st.isDirectory()) {
    const out: Record<string, string> = {};
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(path, name);
      if (!statSync(p).isFile()) continue;
      out[name] = readFileSync(p, 'utf8').replace(/\r?\n$/, '');
    }
    return out;
  }
  return secretFromManifest(readFileSync(path, 'utf8'));
}

function intFlag(name: string, v: string | undefined, def: number, min: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`--${name} must be a whole number, got "${v}"`);
  const n = Number(v);
  if (n < min) throw new UsageError(`--${name} must be >= ${min}`);
  return n;
}

/** Parses the flags (and reads the secret file); throws UsageError on anything wrong. */
export function parseSmokeArgs(args: string[], env: NodeJS.ProcessEnv = process.env): SmokeCommand {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        engine: { type: 'string', short: 'e' },
        url: { type: 'string', short: 'u' },
        'secret-file': { type: 'string' },
        username: { type: 'string' },
        messages: { type: 'string', short: 'n' },
        'message-bytes': { type: 'string' },
        timeout: { type: 'string' },
        'run-id': { type: 'string' },
        output: { type: 'string', short: 'o' },
      },
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const secret = values['secret-file'] ? readSecretFile(values['secret-file']) : {};
  const engine = values.engine ?? secret.type;
  if (!engine) throw new UsageError('--engine is required');
  if (!smokeEngines().includes(engine)) {
    throw new UsageError(`--engine must be one of ${smokeEngines().join(', ')}; got "${engine}"`);
  }
  const url = values.url ?? secret.uri ?? secret.url;
  if (!url) throw new UsageError('--url is required (or a uri in the secret file)');
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new UsageError('--output must be table or json');
  const timeoutRaw = values.timeout;
  let timeoutSeconds = 60;
  if (timeoutRaw !== undefined) {
    timeoutSeconds = Number(timeoutRaw.replace(/s$/, ''));
    if (!(timeoutSeconds > 0) || !Number.isFinite(timeoutSeconds)) {
      throw new UsageError(`--timeout must be a positive number of seconds, got "${timeoutRaw}"`);
    }
  }
  const options: SmokeOptions = {
    messages: intFlag('messages', values.messages, 1000, 1),
    messageBytes: intFlag('message-bytes', values['message-bytes'], 1024, 0),
    timeoutSeconds,
  };
  if (values['run-id'] !== undefined) {
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(values['run-id'])) {
      throw new UsageError('--run-id must be 1-100 characters of A-Z a-z 0-9 . _ -');
    }
    options.runId = values['run-id'];
  }
  const target: SmokeTarget = { url };
  const username = values.username ?? secret.username;
  const password = secret.password ?? env.MQOP_SMOKE_PASSWORD;
  if (username) target.username = username;
  if (password) target.password = password;
  const extra = Object.fromEntries(Object.entries(secret).filter(([k]) => !NOT_EXTRA.has(k)));
  if (Object.keys(extra).length) target.extra = extra;
  return { engine, target, options, output };
}

/** The result as a two-column table. */
export function formatTable(cmd: SmokeCommand, r: SmokeResult): string {
  const rate = r.durationMillis > 0 ? Math.round(r.consumed / (r.durationMillis / 1000)) : 0;
  const rows: Array<[string, string]> = [
    ['engine', cmd.engine],
    ['url', cmd.target.url],
    ['result', r.ok ? 'PASS' : `FAIL${r.errorKind ? ` (${r.errorKind})` : ''}`],
    ['messages', `${cmd.options.messages} x ${cmd.options.messageBytes} bytes`],
    ['produced', String(r.produced)],
    ['consumed', String(r.consumed)],
    ['lost', String(r.lost)],
    ['duplicated', String(r.duplicated)],
    ['out of order', String(r.outOfOrder)],
    ['latency p50', `${r.p50Millis} ms`],
    ['latency p99', `${r.p99Millis} ms`],
    ['duration', `${r.durationMillis} ms`],
    ['throughput', `${rate} msg/s`],
  ];
  if (r.message) rows.push(['message', r.message]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`;
}

export function formatJson(cmd: SmokeCommand, r: SmokeResult): string {
  return `${JSON.stringify({ engine: cmd.engine, url: cmd.target.url, ...cmd.options, ...r }, null, 2)}\n`;
}

export interface SmokeIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

const DEFAULT_IO: SmokeIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
};

/** Runs `mqop smoke`; returns the exit code (0 passed, 1 failed, 2 usage error). */
export async function smokeCommand(args: string[], io: SmokeIo = DEFAULT_IO): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(SMOKE_USAGE);
    return 0;
  }
  let cmd: SmokeCommand;
  try {
    cmd = parseSmokeArgs(args, io.env);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`mqop smoke: ${err.message}\n\n${SMOKE_USAGE}`);
      return 2;
    }
    throw err;
  }
  const secrets = [cmd.target.password, cmd.target.extra?.['sentinel.password']];
  const result = await smokeTestFor(cmd.engine).run(cmd.target, cmd.options);
  const text = cmd.output === 'json' ? formatJson(cmd, result) : formatTable(cmd, result);
  io.stdout(redact(text, secrets));
  return result.ok ? 0 : 1;
}
