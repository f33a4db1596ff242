/**
 * Step: Secrets. The two Secrets mqop creates once and never overwrites: the credentials Secret
 * (`username`, `password`; skipped when `spec.auth.secretName` names the user's own) and the
 * internal Secret with engine-generated values (Erlang cookie, Kafka cluster id ...). Missing keys are added;
 * existing values are never changed.
 */
import { randomBytes } from 'node:crypto';
import { objectLabels } from '../../api/labels.ts';
import type { ResolvedQueue } from '../../api/resolve.ts';
import { engineModule } from '../../engines/index.ts';
import type { SecretInputs } from '../../render/context.ts';
import { ownerReferences } from '../../render/owner.ts';
import { ApiError, type Client, type KubeObject } from '../kube-client.ts';
import { SECRET } from '../resources.ts';

/** Raised when the user's Secret is missing or incomplete: waiting, not failing. */
export class CredentialsMissing extends Error {}

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

/**
 * Creates a generated Secret unless it exists: a cache miss goes straight to create (one round
 * trip for a new MessageQueue), and 409 means another replica or an earlier, crashed run made it,
 * so theirs is read and kept, never overwritten.
 */
async function createOnce(client: Client, secret: Secret): Promise<Secret> {
  try {
    return await client.create<Secret>(secret);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
    return client.get<Secret>(SECRET, secret.metadata.namespace as string, secret.metadata.name);
  }
}

/** Reads or creates the credentials; returns undefined for engines without auth. */
export async function ensureCredentials(
  client: Client,
  q: ResolvedQueue,
  cache: SecretCache = () => undefined,
): Promise<{ username: string; password: string } | undefined> {
  if (!q.supportsAuth) return undefined;
  const ns = q.namespace;
  const userSecret = q.cr.spec.auth?.secretName;
  const name = q.credentialsSecret;
  let s: Secret | undefined;
  if (userSecret) {
    s = await client.getOrUndefined<Secret>(SECRET, ns, name);
    if (!s) throw new CredentialsMissing(`Secret ${userSecret} (spec.auth.secretName) does not exist yet`);
  } else {
    s =
      (cache(name) as Secret | undefined) ??
      (await createOnce(
        client,
        owned(q, name, 'credentials', { username: 'mqop', password: generatePassword() }),
      ));
  }
  const username = decode(s, 'username');
  const password = decode(s, 'password');
  if (!username || !password)
    throw new CredentialsMissing(`Secret ${name} needs the keys username and password`);
  return { username, password };
}

/** Reads or creates the internal Secret; adds missing keys, never changes existing values. */
export async function ensureInternal(
  client: Client,
  q: ResolvedQueue,
  cache: SecretCache = () => undefined,
): Promise<Record<string, string>> {
  const gens = engineModule(q.engine).internal;
  const keys = Object.keys(gens);
  if (keys.length === 0) return {};
  const ns = q.namespace;
  const name = q.names.internal;
  const fresh = () =>
    Object.fromEntries(keys.map((k) => [k, (gens[k] as (r: Uint8Array) => string)(randomBytes(32))]));
  let s =
    (cache(name) as Secret | undefined) ?? (await createOnce(client, owned(q, name, 'internal', fresh())));
  const missing = keys.filter((k) => !s?.data?.[k]);
  if (missing.length) {
    const add = fresh();
    s = await client.mergePatch<Secret>(SECRET, ns, name, {
      metadata: { resourceVersion: s.metadata.resourceVersion },
      data: Object.fromEntries(missing.map((k) => [k, encode(add[k] as string)])),
    });
  }
  return Object.fromEntries(keys.map((k) => [k, decode(s as Secret, k) as string]));
}

/** Both Secrets, read or created together (one round trip for a new MessageQueue). */
export async function ensureSecrets(
  client: Client,
  q: ResolvedQueue,
  cache: SecretCache,
): Promise<SecretInputs> {
  const [credentials, internal] = await Promise.all([
    ensureCredentials(client, q, cache),
    ensureInternal(client, q, cache),
  ]);
  return { credentials, internal };
}

/** Secrets that mqop creates once and prune must keep, as `Kind/name`. */
export const keptSecrets = (q: ResolvedQueue): ReadonlySet<string> =>
  new Set([`Secret/${q.names.credentials}`, `Secret/${q.names.internal}`]);
