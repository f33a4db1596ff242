/**
 * A small REST client over the KubeConfig's TLS and auth settings. mqop needs a handful of verbs
 * (get, list, server-side apply, merge patch, create, delete) with exact control over content
 * types and with every write counted, so it speaks REST directly rather than through generated
 * API classes.
 */
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { type ResourceType, resourcePath, typeOf } from './resources.ts';

/** One entry of a Status' `details.causes`: which field the API server (or admission) refused. */
export interface ApiCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** `details` of the API server's Status answer: the object it was about and why. */
export interface ApiDetails {
  kind?: string;
  name?: string;
  causes?: ApiCause[];
}

/** An error answer of the API server, with its HTTP status, Kubernetes reason and details. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly details: ApiDetails;
  constructor(status: number, reason: string, message: string, details: ApiDetails = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
    this.details = details;
  }
}

/** The `details` of a Status body, keeping only the strings mqop reports. */
function apiDetails(json: Record<string, unknown>): ApiDetails {
  const d = json.details as Record<string, unknown> | undefined;
  if (!d || typeof d !== 'object') return {};
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const causes = Array.isArray(d.causes)
    ? (d.causes as Record<string, unknown>[]).map((c) => ({
        reason: str(c?.reason),
        message: str(c?.message),
        field: str(c?.field),
      }))
    : undefined;
  return { kind: str(d.kind), name: str(d.name), causes };
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; kind: string; name: string; controller?: boolean }[];
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** User-Agent of every request mqop makes; audit logs tell mqop's writes apart by it. */
export const USER_AGENT = 'mqop-operator/0.1';

type Verb = 'get' | 'list' | 'create' | 'apply' | 'patch' | 'update' | 'delete';

/**
 * Called after every request with its answer's status and how long it took, in seconds; tests and
 * metrics count writes with it.
 */
export type RequestObserver = (verb: Verb, path: string, status: number, seconds: number) => void;

export class KubeClient {
  readonly kc: KubeConfig;
  private readonly server: URL;
  private readonly observers: RequestObserver[] = [];

  private readonly userAgent: string;
  /**
   * One keep-alive connection pool for every request. The kubeconfig's options come with a fresh
   * Agent per request (a TCP and TLS handshake each time, which at 1,000 MessageQueues cost more
   * CPU than the requests themselves); the TLS material stays per request, so the pool keys on it
   * and rotated certificates get new connections.
   */
  private readonly agent = new https.Agent({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo' });
  /** Field manager of every write: `mqop` for the operator, another name for tools and tests. */
  readonly fieldManager: string;

  constructor(kc: KubeConfig, userAgent = USER_AGENT, fieldManager = 'mqop') {
    this.kc = kc;
    this.userAgent = userAgent;
    this.fieldManager = fieldManager;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  onRequest(o: RequestObserver): void {
    this.observers.push(o);
  }

  /** One HTTP request; JSON in and out; non-2xx answers throw ApiError. */
  async request<T>(
    verb: Verb,
    method: string,
    path: string,
    opts: { body?: unknown; contentType?: string; query?: Record<string, string | undefined> } = {},
  ): Promise<T> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const options: https.RequestOptions = {
      method,
      headers: { Accept: 'application/json', 'User-Agent': this.userAgent } as Record<string, string>,
      timeout: 30_000,
    };
    await this.kc.applyToHTTPSOptions(options);
    // A plain Agent is replaced by the pool; a proxy agent (kubeconfig proxy-url) is kept.
    if (options.agent?.constructor === https.Agent) options.agent = this.agent;
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (payload !== undefined) {
      (options.headers as Record<string, string>)['Content-Type'] = opts.contentType ?? 'application/json';
      // A known length: no chunked request bodies on reused connections.
      (options.headers as Record<string, string>)['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const started = performance.now();
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`request to ${url.pathname} timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
    const seconds = (performance.now() - started) / 1000;
    for (const o of this.observers) o(verb, url.pathname, status, seconds);
    let json: Record<string, unknown> = {};
    try {
      if (text) json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ApiError(status, 'BadResponse', `${method} ${url.pathname}: not JSON: ${text.slice(0, 200)}`);
    }
    if (status < 200 || status >= 300) {
      throw new ApiError(
        status,
        String(json.reason ?? status),
        String(json.message ?? text.slice(0, 500)),
        apiDetails(json),
      );
    }
    return json as T;
  }

  get<T = KubeObject>(t: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('get', 'GET', resourcePath(t, namespace, name));
  }

  /** Reads an object, or undefined when it does not exist. */
  async getOrUndefined<T = KubeObject>(t: ResourceType, namespace: string | undefined, name: string) {
    try {
      return await this.get<T>(t, namespace, name);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  list<T = KubeObject>(t: ResourceType, namespace?: string, labelSelector?: string): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('list', 'GET', resourcePath(t, namespace), { query: { labelSelector } });
  }

  create<T = KubeObject>(obj: KubeObject): Promise<T> {
    const t = typeOf(obj);
    return this.request<T>('create', 'POST', resourcePath(t, obj.metadata.namespace), {
      body: obj,
      query: { fieldManager: this.fieldManager },
    });
  }

  /** Server-side apply with our field manager; `force` takes over fields other managers hold. */
  apply<T = KubeObject>(obj: KubeObject, fieldManager = this.fieldManager, force = true): Promise<T> {
    const t = typeOf(obj);
    return this.request<T>('apply', 'PATCH', resourcePath(t, obj.metadata.namespace, obj.metadata.name), {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force: force ? 'true' : undefined },
    });
  }

  /** JSON merge patch, optionally of a subresource (`status`). */
  mergePatch<T = KubeObject>(
    t: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    subresource?: string,
  ) {
    const path = resourcePath(t, namespace, name) + (subresource ? `/${subresource}` : '');
    return this.request<T>('patch', 'PATCH', path, {
      body,
      contentType: 'application/merge-patch+json',
      query: { fieldManager: this.fieldManager },
    });
  }

  /** JSON patch (RFC 6902), e.g. to add or remove one finalizer with a `test` guard. */
  jsonPatch<T = KubeObject>(t: ResourceType, namespace: string, name: string, ops: unknown[]) {
    return this.request<T>('patch', 'PATCH', resourcePath(t, namespace, name), {
      body: ops,
      contentType: 'application/json-patch+json',
      query: { fieldManager: this.fieldManager },
    });
  }

  update<T = KubeObject>(obj: KubeObject): Promise<T> {
    const t = typeOf(obj);
    return this.request<T>('update', 'PUT', resourcePath(t, obj.metadata.namespace, obj.metadata.name), {
      body: obj,
      query: { fieldManager: this.fieldManager },
    });
  }

  /** Deletes; a missing object is not an error. */
  async delete(t: ResourceType, namespace: string | undefined, name: string, propagation = 'Background') {
    try {
      await this.request('delete', 'DELETE', resourcePath(t, namespace, name), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: propagation },
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  }
}

/** The calls the reconcile steps make: what a unit test's fake client implements. */
export type Client = Pick<
  KubeClient,
  'get' | 'getOrUndefined' | 'list' | 'create' | 'apply' | 'mergePatch' | 'delete'
>;

/** Whether an error is worth retrying (network, 5xx, 429, 409) rather than a bad request. */
export function isTransient(e: unknown): boolean {
  if (e instanceof ApiError)
    return e.status >= 500 || e.status === 429 || e.status === 409 || e.status === 404;
  return true;
}
