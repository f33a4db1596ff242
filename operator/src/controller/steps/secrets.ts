/**
 * Step: Secrets. The two Secrets mqop creates once and never overwrites: the credentials Secret
 * (`username`, `password`; skipped when `spec.auth.secretName` names the user's own) and the
 * internal Secret with engine-generated values (Erlang cookie, Kafka cluster id ...). Missing keys are added;
 * existing values are never changed.
 *
 * Three guards (docs/credentials.md):
 * - ownership: a Secret under the derived name that mqop did not create for this MessageQueue is
 *   never used or written (NotManaged); one of a deleted MessageQueue of the same name is waited
 *   out, never adopted;
 * - lost credentials: before generating, the StatefulSets' claims are looked up (only when the
 *   Secret is missing, a rare path). Claims without their Secret mean data that new values would
 *   not match (a Kafka cluster id, the users a broker stored at its first start): CredentialsLost,
 *   unless the MessageQueue opts in with `mqop.dev/accept-new-credentials: "true"` and the engine
 *   can take new values over old data;
 * - valid values: usernames and passwords every engine's config syntax can carry
 *   (`credentialProblem`), else InvalidCredentials naming the Secret and key, never the value.
 */

import { randomBytes } from 'node:crypto';
import type { EngineName } from '../../api/engines.ts';
import { OWNER_LABEL, objectLabels } from '../../api/labels.ts';
import type { ResolvedQueue } from '../../api/resolve.ts';
import { engineModule } from '../../engines/index.ts';
import type { SecretInputs } from '../../render/context.ts';
import { ownerReferences } from '../../render/owner.ts';
import { Reasons } from '../../status/conditions.ts';
import { ApiError, type Client, type KubeObject } from '../kube-client.ts';
import { PVC, SECRET } from '../resources.ts';
import { isDataClaim } from './finalizer.ts';
import { Blocked, ownershipBlock } from './ownership.ts';

/** The opt-in to generate new credentials over existing data (see `CredentialsLost`). */
export const ACCEPT_NEW_CREDENTIALS = 'mqop.dev/accept-new-credentials';

/** How often to look again for a user Secret that does not exist yet. */
const CREDENTIALS_REQUEUE_MS = 15_000;

/** Raised when the user's Secret is missing or incomplete: waiting, not failing. */
export class CredentialsMissing extends Blocked {
  constructor(message: string) {
    super('waiting', Reasons.CredentialsMissing, message, CREDENTIALS_REQUEUE_MS);
  }
}

/** A generated Secret that is gone while its data is not. */
interface LostSecret {
  name: string;
  keys: string[];
  /** Whether `ACCEPT_NEW_CREDENTIALS` may regenerate it. */
  recreatable: boolean;
}

const list = (xs: readonly string[], max = 3) =>
  xs.length > max ? `${xs.slice(0, max).join(', ')} and ${xs.length - max} more` : xs.join(', ');

/** Raised instead of generating a Secret whose data still exists: Stalled, with the ways out. */
export class CredentialsLost extends Blocked {
  readonly lost: LostSecret[];
  readonly claims: string[];
  constructor(engine: string, lost: LostSecret[], claims: string[]) {
    const many = lost.length > 1;
    const names = lost.map((l) => `${l.name} (keys ${l.keys.join(', ')})`).join(' and ');
    const kept = lost.filter((l) => !l.recreatable).map((l) => l.name);
    const ways =
      `(a) recreating the Secret${many ? 's' : ''} with the old values from a backup (labels and owner ` +
      'reference: docs/credentials.md), (b) deleting the claims to start empty' +
      (kept.length
        ? `; the annotation ${ACCEPT_NEW_CREDENTIALS} cannot help: ${engine} keeps the values of ${kept.join(', ')} in its data`
        : `, or (c) annotating the MessageQueue ${ACCEPT_NEW_CREDENTIALS}="true" to generate new values knowingly`);
    super(
      'stalled',
      Reasons.CredentialsLost,
      `Secret${many ? 's' : ''} ${names} ${many ? 'are' : 'is'} gone but the data ${many ? 'they belong' : 'it belongs'} ` +
        `to is still there (claims ${list(claims)}); new values would not match it, so mqop generates none. ` +
        `Recover by ${ways}`,
    );
    this.lost = lost;
    this.claims = claims;
  }
}

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random password: letters and digits only, so no engine's config syntax needs escaping. */
export function generatePassword(length = 32): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (const b of bytes) {
    if (b < 248) out += ALPHANUM[b % 62];
    if (out.length === length) break;
  }
  return out;
}

/** Usernames every engine takes as they are: Redis ACL, RabbitMQ, Kafka SCRAM/JAAS, RocketMQ ACL. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/**
 * What is wrong with a username or password, or undefined. Passwords: 8 to 128 printable ASCII
 * characters (space to `~`, so `"`, `\`, `$` and quotes are fine: the start scripts escape them),
 * no leading or trailing space (Java properties and several CLIs trim them). Control characters
 * and line breaks would end a config line early; non-ASCII text is read differently by the
 * engines' config parsers (UTF-8 or ISO-8859-1). The answer never contains the value. Pure.
 */
export function credentialProblem(
  key: 'username' | 'password',
  value: string,
  engine?: EngineName,
): string | undefined {
  if (key === 'username') {
    return USERNAME_PATTERN.test(value)
      ? undefined
      : "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";
  }
  if (value.endsWith('\n') || value.endsWith('\r'))
    return 'ends with a line break (a file or `echo` without -n?)';
  const codes = [...value].map((c) => c.codePointAt(0) as number);
  if (codes.some((c) => c < 0x20 || c === 0x7f)) return 'contains a line break or another control character';
  if (codes.some((c) => c > 0x7e)) return 'contains a character outside printable ASCII';
  if (value.length < PASSWORD_MIN || value.length > PASSWORD_MAX)
    return `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long (it has ${value.length})`;
  if (value.startsWith(' ') || value.endsWith(' ')) return 'starts or ends with a space';
  // kafka-storage --add-scram (the first start of a Kafka pod) splits its argument on commas.
  if (engine === 'kafka' && value.includes(','))
    return "contains a comma, which Kafka's SCRAM set-up cannot take";
  return undefined;
}

type Secret = KubeObject & { data?: Record<string, string> };
const decode = (s: Secret, k: string) =>
  s.data?.[k] ? Buffer.from(s.data[k], 'base64').toString('utf8') : undefined;
const encode = (v: string) => Buffer.from(v, 'utf8').toString('base64');

function owned(q: ResolvedQueue, name: string, component: string, data: Record<string, string>): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: q.namespace,
      labels: objectLabels(q, component),
      ownerReferences: ownerReferences(q.cr) as never,
    },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, encode(v)])),
  };
}

/** Looks a Secret up in the informer cache (only mqop-labelled Secrets are cached). */
export type SecretCache = (name: string) => KubeObject | undefined;

const ownerOfQueue = (q: ResolvedQueue) =>
  q.cr.metadata.uid ? { uid: q.cr.metadata.uid, name: q.name } : undefined;

/** Throws when a Secret under a derived name is not this MessageQueue's. */
function mustBeOurs(q: ResolvedQueue, s: Secret): Secret {
  const b = ownershipBlock([{ kind: 'Secret', metadata: { name: s.metadata.name } }], [s], ownerOfQueue(q));
  if (b) throw b;
  return s;
}

/**
 * The claims of this MessageQueue's StatefulSets that hold data (`isDataClaim`), found by the
 * owner label as `deleteClaims` finds them. Claims being deleted do not count.
 */
export async function dataClaims(client: Pick<Client, 'list'>, q: ResolvedQueue): Promise<string[]> {
  if (q.storage.ephemeral) return [];
  const claims = await client.list(PVC, q.namespace, `${OWNER_LABEL}=${q.name}`);
  return claims.items
    .filter((c) => !c.metadata.deletionTimestamp && isDataClaim(q, c.metadata.name))
    .map((c) => c.metadata.name)
    .sort();
}

/** What both Secrets share in one reconcile: the claims, listed at most once. */
export interface SecretsContext {
  claims(): Promise<string[]>;
}

export function secretsContext(client: Pick<Client, 'list'>, q: ResolvedQueue): SecretsContext {
  let p: Promise<string[]> | undefined;
  return {
    claims: () => {
      p ??= dataClaims(client, q);
      return p;
    },
  };
}

/**
 * Creates a generated Secret. 409 means another replica or an earlier, crashed run made it in
 * the meantime (theirs is read and kept, never overwritten) or a user did (NotManaged).
 */
async function createOnce(client: Client, q: ResolvedQueue, secret: Secret): Promise<Secret> {
  try {
    return await client.create<Secret>(secret);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
    return mustBeOurs(q, await client.get<Secret>(SECRET, q.namespace, secret.metadata.name));
  }
}

/** A Secret mqop generates: its name, keys and how to fill it. */
interface Wanted {
  name: string;
  component: string;
  keys: string[];
  /** Whether `ACCEPT_NEW_CREDENTIALS` may generate it anew over existing data. */
  recreatable: boolean;
  fresh: () => Record<string, string>;
}

function wantedSecrets(q: ResolvedQueue): { credentials?: Wanted; internal?: Wanted } {
  const out: { credentials?: Wanted; internal?: Wanted } = {};
  if (q.supportsAuth && !q.cr.spec.auth?.secretName) {
    out.credentials = {
      name: q.names.credentials,
      component: 'credentials',
      keys: ['username', 'password'],
      // Every engine can take new credentials over old data, some only after a manual step
      // (docs/credentials.md): the stored users of RabbitMQ and RocketMQ keep the old password.
      recreatable: true,
      fresh: () => ({ username: 'mqop', password: generatePassword() }),
    };
  }
  const mod = engineModule(q.engine);
  const keys = Object.keys(mod.internal);
  if (keys.length) {
    out.internal = {
      name: q.names.internal,
      component: 'internal',
      keys,
      recreatable: mod.internalRecreatable === true,
      fresh: () =>
        Object.fromEntries(
          keys.map((k) => [k, (mod.internal[k] as (r: Uint8Array) => string)(randomBytes(32))]),
        ),
    };
  }
  return out;
}

/**
 * The generated Secrets, found or created. Found: from the cache, else from a GET (a miss is not
 * an absence), and only if this MessageQueue's. Missing: the claims are checked first, and when
 * data exists that a missing Secret belongs to, nothing at all is created (CredentialsLost naming
 * every such Secret), unless the opt-in annotation covers each of them.
 */
async function generatedSecrets(
  client: Client,
  q: ResolvedQueue,
  cache: SecretCache,
  ctx: SecretsContext,
  wanted: readonly Wanted[],
): Promise<{ secrets: Secret[]; regenerated: string[] }> {
  const found = await Promise.all(
    wanted.map(async (w) => {
      const s =
        (cache(w.name) as Secret | undefined) ??
        (await client.getOrUndefined<Secret>(SECRET, q.namespace, w.name));
      return s && mustBeOurs(q, s);
    }),
  );
  const missing = wanted.filter((_, i) => !found[i]);
  if (missing.length === 0) return { secrets: found as Secret[], regenerated: [] };
  const claims = await ctx.claims();
  if (claims.length > 0) {
    const accepted = q.cr.metadata.annotations?.[ACCEPT_NEW_CREDENTIALS] === 'true';
    if (!accepted || missing.some((w) => !w.recreatable))
      throw new CredentialsLost(
        q.engine,
        missing.map((w) => ({ name: w.name, keys: w.keys, recreatable: w.recreatable })),
        claims,
      );
  }
  const made = await Promise.all(
    missing.map((w) => createOnce(client, q, owned(q, w.name, w.component, w.fresh()))),
  );
  const secrets = found.map((s) => s ?? (made.shift() as Secret));
  return { secrets, regenerated: claims.length > 0 ? missing.map((w) => w.name) : [] };
}

/** Username and password from a Secret, checked; Blocked when missing or refused. */
function readCredentials(
  s: Secret,
  what: string,
  engine: EngineName,
): { username: string; password: string } {
  const username = decode(s, 'username');
  const password = decode(s, 'password');
  if (!username || !password)
    throw new CredentialsMissing(`Secret ${what} needs the keys username and password`);
  for (const [key, value] of [
    ['username', username],
    ['password', password],
  ] as const) {
    const problem = credentialProblem(key, value, engine);
    if (problem)
      throw new Blocked(
        'stalled',
        Reasons.InvalidCredentials,
        `Secret ${what}: key ${key} ${problem}; see docs/credentials.md`,
      );
  }
  return { username, password };
}

/** The user's own Secret (`spec.auth.secretName`): read every time (not labelled, so not cached), never written. */
async function userCredentials(client: Client, q: ResolvedQueue, name: string) {
  const s = await client.getOrUndefined<Secret>(SECRET, q.namespace, name);
  if (!s) throw new CredentialsMissing(`Secret ${name} (spec.auth.secretName) does not exist yet`);
  return readCredentials(s, `${name} (spec.auth.secretName)`, q.engine);
}

/** Adds keys an internal Secret lacks (a newer mqop may know more); existing values stay. */
async function completeInternal(
  client: Client,
  q: ResolvedQueue,
  w: Wanted,
  s: Secret,
): Promise<Record<string, string>> {
  const missing = w.keys.filter((k) => !s.data?.[k]);
  if (missing.length) {
    const add = w.fresh();
    s = await client.mergePatch<Secret>(SECRET, q.namespace, w.name, {
      metadata: { resourceVersion: s.metadata.resourceVersion },
      data: Object.fromEntries(missing.map((k) => [k, encode(add[k] as string)])),
    });
  }
  return Object.fromEntries(w.keys.map((k) => [k, decode(s, k) as string]));
}

/**
 * Both Secrets, read or created together (one round trip for a new MessageQueue). When a
 * generated one misses the cache, the claims are listed at the same time as the GETs.
 * `regenerated` names the Secrets generated anew over existing data (the opt-in annotation), for
 * a Warning Event.
 */
export async function ensureSecrets(
  client: Client,
  q: ResolvedQueue,
  cache: SecretCache,
  only?: 'credentials' | 'internal',
): Promise<SecretInputs & { regenerated: string[] }> {
  const ctx = secretsContext(client, q);
  const all = wantedSecrets(q);
  const want = only ? { [only]: all[only] } : all;
  const wanted = [want.credentials, want.internal].filter((w): w is Wanted => w !== undefined);
  // Started early, awaited only if a Secret turns out to be missing.
  if (wanted.some((w) => !cache(w.name))) ctx.claims().catch(() => {});
  const userSecret = q.supportsAuth && only !== 'internal' ? q.cr.spec.auth?.secretName : undefined;
  const [user, generated] = await Promise.all([
    userSecret ? userCredentials(client, q, userSecret) : undefined,
    generatedSecrets(client, q, cache, ctx, wanted),
  ]);
  const secretOf = (w: Wanted | undefined) => (w ? generated.secrets[wanted.indexOf(w)] : undefined);
  const credSecret = secretOf(want.credentials);
  const intSecret = secretOf(want.internal);
  return {
    credentials:
      user ?? (credSecret ? readCredentials(credSecret, q.names.credentials, q.engine) : undefined),
    internal: want.internal && intSecret ? await completeInternal(client, q, want.internal, intSecret) : {},
    regenerated: generated.regenerated,
  };
}

/** Reads or creates the credentials; returns undefined for engines without auth. */
export async function ensureCredentials(
  client: Client,
  q: ResolvedQueue,
  cache: SecretCache = () => undefined,
): Promise<{ username: string; password: string } | undefined> {
  return (await ensureSecrets(client, q, cache, 'credentials')).credentials;
}

/** Reads or creates the internal Secret; adds missing keys, never changes existing values. */
export async function ensureInternal(
  client: Client,
  q: ResolvedQueue,
  cache: SecretCache = () => undefined,
): Promise<Record<string, string>> {
  return (await ensureSecrets(client, q, cache, 'internal')).internal ?? {};
}

/** Secrets that mqop creates once and prune must keep, as `Kind/name`. */
export const keptSecrets = (q: ResolvedQueue): ReadonlySet<string> =>
  new Set([`Secret/${q.names.credentials}`, `Secret/${q.names.internal}`]);
