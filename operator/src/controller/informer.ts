/**
 * A self-healing informer: list + watch into a cache, via client-node's ListWatch (which relists
 * on 410 Gone), restarted with exponential backoff after any other error, and a periodic resync
 * that hands every cached object to the callback again. Callbacks only receive objects; the
 * controller maps them to keys and enqueues.
 */
import { ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeClient, KubeObject } from './kube-client.ts';
import { type ResourceType, resourcePath } from './resources.ts';
import { backoffDelay } from './work-queue.ts';

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  resyncMs?: number;
  onError?: (type: ResourceType, err: unknown) => void;
  /**
   * What the cache keeps of each object (listed or watched), before anything else sees it: a
   * smaller copy keeps memory down where only a few fields are read (pods).
   */
  transform?: (o: KubeObject) => KubeObject;
}

/** A Watch whose added, modified and deleted objects pass through `transform` first. */
class TransformingWatch extends Watch {
  private readonly transform: (o: KubeObject) => KubeObject;
  constructor(kc: KubeClient['kc'], transform: (o: KubeObject) => KubeObject) {
    super(kc);
    this.transform = transform;
  }
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    // biome-ignore lint/suspicious/noExplicitAny: client-node's signature
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    // biome-ignore lint/suspicious/noExplicitAny: client-node's signature
    done: (err: any) => void,
  ): Promise<AbortController> {
    const objects = new Set(['ADDED', 'MODIFIED', 'DELETED']);
    return super.watch(
      path,
      queryParams,
      (phase, obj, watchObj) =>
        callback(phase, objects.has(phase) && obj ? this.transform(obj as KubeObject) : obj, watchObj),
      done,
    );
  }
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly type: ResourceType;
  // client-node's object type is looser than ours; the cache holds our KubeObjects.
  // biome-ignore lint/suspicious/noExplicitAny: see above
  private readonly lw: ListWatch<any>;
  private failures = 0;
  private synced = false;
  private stopped = false;
  private resync?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private readonly opts: InformerOptions;
  private readonly onChange: (obj: T, deleted: boolean) => void;

  constructor(
    client: KubeClient,
    type: ResourceType,
    onChange: (obj: T, deleted: boolean) => void,
    opts: InformerOptions = {},
  ) {
    this.type = type;
    this.opts = opts;
    this.onChange = onChange;
    const path = resourcePath(type, opts.namespace);
    const list = async () => {
      const l = await client.list<T>(type, opts.namespace, opts.labelSelector);
      // List items come without apiVersion/kind; the cache and the controller want them.
      for (const i of l.items) Object.assign(i, { apiVersion: type.apiVersion, kind: type.kind });
      if (opts.transform) l.items = l.items.map((i) => opts.transform?.(i) as T);
      this.failures = 0;
      this.synced = true;
      return l as never;
    };
    const watch = opts.transform ? new TransformingWatch(client.kc, opts.transform) : new Watch(client.kc);
    this.lw = new ListWatch(path, watch, list, false, opts.labelSelector);
    const changed = (o: T) => {
      this.failures = 0;
      this.onChange(o, false);
    };
    this.lw.on('add', changed);
    this.lw.on('update', changed);
    this.lw.on('delete', (o: T) => this.onChange(o, true));
    this.lw.on('error', (err: unknown) => this.restartLater(err));
  }

  /** Starts list+watch; never throws (errors restart it with backoff). */
  start(): void {
    this.stopped = false;
    this.lw.start().catch((err) => this.restartLater(err));
    if (this.opts.resyncMs && !this.resync) {
      this.resync = setInterval(() => {
        for (const o of this.lw.list()) this.onChange(o as T, false);
      }, this.opts.resyncMs);
      this.resync.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    if (this.retry) clearTimeout(this.retry);
    this.resync = undefined;
    void this.lw.stop().catch(() => {});
  }

  /** Whether the first list has completed. */
  hasSynced(): boolean {
    return this.synced;
  }

  list(namespace?: string): T[] {
    return [...this.lw.list(namespace)] as T[];
  }

  get(namespace: string, name: string): T | undefined {
    return this.lw.get(name, namespace) as T | undefined;
  }

  private restartLater(err: unknown): void {
    if (this.stopped) return;
    this.failures++;
    this.opts.onError?.(this.type, err);
    const delay = backoffDelay(this.failures, 500, 30_000);
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.stopped) return;
      this.lw.start().catch((e) => this.restartLater(e));
    }, delay);
    this.retry.unref();
  }
}
