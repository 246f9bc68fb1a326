/**
 * List-and-watch informer over the KubeClient: a local cache of one kind (by "namespace/name") kept current from a
 * list and then a watch from the list's resourceVersion, with add/update/delete handlers.
 *
 * Watch semantics (client-go's reflector):
 * - every event and BOOKMARK advances the resourceVersion the next watch starts from;
 * - a watch that ends normally (server timeout, dropped connection) is re-opened from the last resourceVersion, at
 *   once (or after backoff when watches keep ending within a second);
 * - 410 Gone — as an HTTP status or as an ERROR event with code 410 — means that resourceVersion is compacted away:
 *   list again (the cache is replaced; objects missing from the new list are reported deleted);
 * - any other error is retried with exponential backoff, reset by the next success.
 * Namespaces: all (one list-watch), or a list of namespaces (one list-watch each, one shared cache).
 */
import {
  KubeApiError,
  isGone,
  objectKey,
  type KubeClient,
  type KubeObject,
  type ResourceType,
  type WatchEvent,
  type WatchHandle,
} from './client.js';
import { backoffDelay, realTimers, type TimerHandle, type Timers } from './timers.js';

export interface InformerHandlers<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions {
  client: KubeClient;
  resource: ResourceType;
  /** Namespaces to watch; undefined or empty: all namespaces. */
  namespaces?: readonly string[];
  labelSelector?: string;
  /** Asked of the server for each watch (it ends the watch normally after that long). Default 300. */
  watchTimeoutSeconds?: number;
  /** Backoff after failures: initialMs·2^(n-1), at most maxMs. Default 500 ms … 30 s. */
  backoff?: { initialMs: number; maxMs: number };
  timers?: Timers;
  /** Failures that are retried (list errors, watch errors, handler exceptions); for logs and metrics. */
  onError?: (err: unknown, context: string) => void;
}

const SHORT_WATCH_MS = 1000;

export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly reflectors: Reflector<T>[];
  private readonly syncWaiters: (() => void)[] = [];

  constructor(readonly options: InformerOptions) {
    const namespaces = options.namespaces?.length ? options.namespaces : [undefined];
    this.reflectors = namespaces.map((ns) => new Reflector<T>(this, options, ns));
  }

  addHandlers(handlers: InformerHandlers<T>): this {
    this.handlers.push(handlers);
    return this;
  }

  start(): void {
    for (const r of this.reflectors) r.start();
  }

  stop(): void {
    for (const r of this.reflectors) r.stop();
  }

  /** True once every namespace has been listed (and stays true across relists). */
  hasSynced(): boolean {
    return this.reflectors.every((r) => r.synced);
  }

  waitForSync(): Promise<void> {
    if (this.hasSynced()) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  /** The resourceVersion each namespace's watch continues from ('' key for all namespaces). */
  resourceVersions(): Record<string, string> {
    return Object.fromEntries(this.reflectors.map((r) => [r.namespace ?? '', r.resourceVersion]));
  }

  /** @internal Reflectors report here. */
  upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    if (!old) this.notify('add', (h) => h.onAdd?.(obj));
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.notify('update', (h) => h.onUpdate?.(old, obj));
  }

  /** @internal */
  remove(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (!this.cache.delete(key)) return;
    this.notify('delete', (h) => h.onDelete?.(obj.metadata.resourceVersion ? obj : (old ?? obj)));
  }

  /** @internal A fresh list for one namespace (or all): reports adds, updates and the deletes it implies. */
  replace(namespace: string | undefined, items: T[]): void {
    const fresh = new Set(items.map(objectKey));
    for (const [key, obj] of this.cache) {
      if ((namespace === undefined || obj.metadata.namespace === namespace) && !fresh.has(key)) this.remove(obj);
    }
    for (const item of items) this.upsert(item);
  }

  /** @internal */
  synced(): void {
    if (!this.hasSynced()) return;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  /** @internal */
  reportError(err: unknown, context: string): void {
    this.options.onError?.(err, context);
  }

  private notify(what: string, call: (h: InformerHandlers<T>) => void): void {
    for (const h of this.handlers) {
      try {
        call(h);
      } catch (err) {
        this.reportError(err, `${what} handler`);
      }
    }
  }
}

/** One list-watch loop (for one namespace, or all). */
class Reflector<T extends KubeObject> {
  resourceVersion = '';
  synced = false;
  private stopped = true;
  private epoch = 0;
  private failures = 0;
  private watch: WatchHandle | undefined;
  private timer: TimerHandle | undefined;
  private watchStartedAt = 0;
  private readonly timers: Timers;

  constructor(
    private readonly informer: Informer<T>,
    private readonly options: InformerOptions,
    readonly namespace: string | undefined,
  ) {
    this.timers = options.timers ?? realTimers;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    this.epoch++;
    this.watch?.stop();
    this.watch = undefined;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async relist(): Promise<void> {
    this.closeWatch();
    const epoch = this.epoch;
    try {
      const { client, resource, labelSelector } = this.options;
      const list = await client.list<T>(resource, { namespace: this.namespace, labelSelector });
      if (this.stopped || epoch !== this.epoch) return;
      this.informer.replace(this.namespace, list.items);
      this.resourceVersion = list.resourceVersion;
      this.failures = 0;
      this.synced = true;
      this.informer.synced();
      this.startWatch();
    } catch (err) {
      if (this.stopped || epoch !== this.epoch) return;
      this.informer.reportError(err, 'list');
      this.retry(() => void this.relist());
    }
  }

  private startWatch(): void {
    const epoch = ++this.epoch;
    const { client, resource, labelSelector, watchTimeoutSeconds } = this.options;
    const options = {
      namespace: this.namespace,
      labelSelector,
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: watchTimeoutSeconds ?? 300,
    };
    this.watchStartedAt = this.timers.now();
    this.watch = client.watch(
      resource,
      options,
      (e) => epoch === this.epoch && this.onEvent(e as WatchEvent<T>),
      (err) => epoch === this.epoch && this.onWatchEnd(err),
    );
  }

  private onEvent(e: WatchEvent<T>): void {
    if (e.type === 'ERROR') {
      this.closeWatch();
      if (e.status.code === 410) return void this.relist();
      const { code, reason, message } = e.status;
      this.informer.reportError(new KubeApiError(code ?? 500, reason ?? 'Unknown', message ?? 'watch error event'), 'watch');
      return this.retry(() => this.startWatch());
    }
    const rv = e.object.metadata.resourceVersion;
    if (rv) this.resourceVersion = rv;
    this.failures = 0;
    if (e.type === 'BOOKMARK') return;
    if (e.type === 'DELETED') this.informer.remove(e.object);
    else this.informer.upsert(e.object);
  }

  private onWatchEnd(err: KubeApiError | undefined): void {
    this.watch = undefined;
    this.epoch++;
    if (isGone(err)) return void this.relist();
    if (err) {
      this.informer.reportError(err, 'watch');
      return this.retry(() => this.startWatch());
    }
    // A normal end: continue from the last resourceVersion; at once unless watches keep ending immediately.
    if (this.timers.now() - this.watchStartedAt >= SHORT_WATCH_MS) {
      this.failures = 0;
      return this.startWatch();
    }
    this.retry(() => this.startWatch());
  }

  private retry(run: () => void): void {
    if (this.stopped) return;
    this.failures++;
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 500, maxMs: 30_000 };
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) run();
    }, backoffDelay(this.failures, initialMs, maxMs));
  }

  private closeWatch(): void {
    this.epoch++;
    this.watch?.stop();
    this.watch = undefined;
  }
}
