/**
 * An in-memory stand-in for the API server, for unit tests of the reconcile steps only
 * (integration tests use a real kube-apiserver). It keeps objects, bumps resourceVersion, refuses
 * a stale resourceVersion in a merge patch with 409 as the API server does, records every call,
 * and can be told to fail a call. Server-side apply is approximated by a deep merge.
 */
import type { Cache, Caches } from '../../src/controller/cache.ts';
import {
  type ApiDetails,
  ApiError,
  type Client,
  type KubeList,
  type KubeObject,
} from '../../src/controller/kube-client.ts';
import { OWNED_TYPES, type ResourceType } from '../../src/controller/resources.ts';

export interface Call {
  verb: 'get' | 'list' | 'create' | 'apply' | 'patch' | 'delete';
  kind: string;
  namespace?: string;
  name?: string;
  body?: unknown;
  fieldManager?: string;
  subresource?: string;
}

const WRITES = new Set(['create', 'apply', 'patch', 'delete']);

type Obj = KubeObject & Record<string, unknown>;

function merge(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = merge(base[k], v);
  }
  return base;
}

const clone = <T>(v: T): T => structuredClone(v);

export class FakeClient implements Client {
  readonly calls: Call[] = [];
  private readonly objects = new Map<string, Obj>();
  private version = 1;
  private failures: { match: (c: Call) => boolean; error: ApiError }[] = [];

  private static key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}/${namespace ?? ''}/${name}`;
  }

  /** Puts an object in place without recording a call (the test's starting state). */
  seed<T extends KubeObject>(obj: T): T {
    const o = clone(obj) as Obj;
    o.metadata.resourceVersion = String(this.version++);
    o.metadata.uid ??= `uid-${o.metadata.name}`;
    o.metadata.generation ??= 1;
    this.objects.set(FakeClient.key(o.kind, o.metadata.namespace, o.metadata.name), o);
    return clone(o) as unknown as T;
  }

  /** The stored object, if any. */
  peek<T = Obj>(kind: string, namespace: string | undefined, name: string): T | undefined {
    const o = this.objects.get(FakeClient.key(kind, namespace, name));
    return o ? (clone(o) as unknown as T) : undefined;
  }

  /**
   * Makes every later call that matches fail with this status, until `clearFailures`. `details`
   * is the Status' details as the API server sends them (e.g. a 422's `causes` with the field).
   */
  failWhen(
    match: (c: Call) => boolean,
    status: number,
    message = `injected ${status}`,
    details?: ApiDetails,
  ): void {
    const reason = { 400: 'BadRequest', 403: 'Forbidden', 422: 'Invalid' }[status] ?? 'Injected';
    this.failures.push({ match, error: new ApiError(status, reason, message, details) });
  }

  clearFailures(): void {
    this.failures = [];
  }

  /** Calls that change something. */
  writes(): Call[] {
    return this.calls.filter((c) => WRITES.has(c.verb));
  }

  private record(c: Call): void {
    this.calls.push(c);
    const f = this.failures.find((x) => x.match(c));
    if (f) throw f.error;
  }

  private notFound(kind: string, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${kind} "${name}" not found`);
  }

  private store(o: Obj, previous?: Obj): Obj {
    o.metadata.resourceVersion = String(this.version++);
    if (previous && JSON.stringify(previous.spec) !== JSON.stringify(o.spec))
      o.metadata.generation = (previous.metadata.generation ?? 1) + 1;
    this.objects.set(FakeClient.key(o.kind, o.metadata.namespace, o.metadata.name), o);
    return clone(o);
  }

  async get<T = KubeObject>(t: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    this.record({ verb: 'get', kind: t.kind, namespace, name });
    const o = this.objects.get(FakeClient.key(t.kind, namespace, name));
    if (!o) throw this.notFound(t.kind, name);
    return clone(o) as unknown as T;
  }

  async getOrUndefined<T = KubeObject>(t: ResourceType, namespace: string | undefined, name: string) {
    try {
      return await this.get<T>(t, namespace, name);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async list<T = KubeObject>(
    t: ResourceType,
    namespace?: string,
    labelSelector?: string,
  ): Promise<KubeList<T>> {
    this.record({ verb: 'list', kind: t.kind, namespace });
    const [k, v] = (labelSelector ?? '').split('=');
    const items = [...this.objects.values()].filter(
      (o) =>
        o.kind === t.kind &&
        (!namespace || o.metadata.namespace === namespace) &&
        (!k || (v === undefined ? k in (o.metadata.labels ?? {}) : o.metadata.labels?.[k] === v)),
    );
    return { items: items.map(clone) as unknown as T[], metadata: {} };
  }

  async create<T = KubeObject>(obj: KubeObject): Promise<T> {
    this.record({
      verb: 'create',
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
      body: obj,
    });
    const key = FakeClient.key(obj.kind, obj.metadata.namespace, obj.metadata.name);
    if (this.objects.has(key) && obj.kind !== 'Event')
      throw new ApiError(409, 'AlreadyExists', `${obj.kind} "${obj.metadata.name}" already exists`);
    const o = clone(obj) as Obj;
    o.metadata.uid ??= `uid-${o.metadata.name}`;
    o.metadata.generation ??= 1;
    return this.store(o) as unknown as T;
  }

  async apply<T = KubeObject>(obj: KubeObject, fieldManager = 'mqop'): Promise<T> {
    this.record({
      verb: 'apply',
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
      body: obj,
      fieldManager,
    });
    const key = FakeClient.key(obj.kind, obj.metadata.namespace, obj.metadata.name);
    const previous = this.objects.get(key);
    const o = merge(
      previous ? clone(previous) : { metadata: { uid: `uid-${obj.metadata.name}`, generation: 1 } },
      obj,
    );
    return this.store(o as Obj, previous) as unknown as T;
  }

  async mergePatch<T = KubeObject>(
    t: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    subresource?: string,
  ): Promise<T> {
    this.record({ verb: 'patch', kind: t.kind, namespace, name, body, subresource });
    const key = FakeClient.key(t.kind, namespace, name);
    const previous = this.objects.get(key);
    if (!previous) throw this.notFound(t.kind, name);
    const rv = (body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    if (rv !== undefined && rv !== previous.metadata.resourceVersion)
      throw new ApiError(409, 'Conflict', `the object has been modified (resourceVersion ${rv})`);
    const part = subresource === 'status' ? { status: (body as { status?: unknown }).status } : body;
    return this.store(merge(clone(previous), part) as Obj, previous) as unknown as T;
  }

  async delete(t: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    this.record({ verb: 'delete', kind: t.kind, namespace, name });
    this.objects.delete(FakeClient.key(t.kind, namespace, name));
  }

  /** Caches that read the store directly: informers that are always up to date. */
  caches(): Caches {
    const cacheOf = <T extends KubeObject>(kind: string): Cache<T> => ({
      get: (ns, name) => this.peek<T>(kind, ns, name),
      list: (ns) =>
        [...this.objects.values()]
          .filter((o) => o.kind === kind && (!ns || o.metadata.namespace === ns))
          .map((o) => clone(o) as unknown as T),
    });
    return {
      messageQueues: cacheOf('MessageQueue'),
      owned: new Map(OWNED_TYPES.map((t) => [`${t.apiVersion}/${t.kind}`, cacheOf(t.kind)])),
      pods: cacheOf('Pod'),
      claims: cacheOf('PersistentVolumeClaim'),
    };
  }
}
