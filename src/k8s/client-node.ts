/**
 * The KubeClient over @kubernetes/client-node 1.x: the only file of tokenmeter that speaks HTTP to Kubernetes.
 *
 * - get/list/create/replace/delete/apply go through KubernetesObjectApi (paths from discovery, cached), with
 *   responses kept as plain JSON (client-node would turn known kinds into classes with Date fields).
 * - applyStatus uses the same request machinery (auth, TLS, middleware) for PATCH …/status, which
 *   KubernetesObjectApi has no method for.
 * - watch uses client-node's Watch (newline-delimited JSON events); events go to events.k8s.io/v1 via EventsV1Api.
 * - requests other than watches share keep-alive connections (api-configuration.ts, agent-pool.ts).
 */
import {
  ApiException,
  EventsV1Api,
  FetchError,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
  type Configuration,
  type ResponseContext,
  type V1APIResource,
} from '@kubernetes/client-node';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import { AgentPool } from './agent-pool.js';
import { pooledConfiguration } from './api-configuration.js';
import {
  KubeApiError,
  NO_KIND_MATCH,
  isKubeApiError,
  isNotFound,
  type ApplyOptions,
  type DeleteOptions,
  type EventRecord,
  type KubeClient,
  type KubeObject,
  type KubeObjectInput,
  type KubeStatus,
  type ListOptions,
  type ObjectList,
  type ObjectRef,
  type ResourceType,
  type WatchDone,
  type WatchEvent,
  type WatchHandle,
  type WatchOptions,
} from './client.js';
import { formatMicroTime } from './timers.js';

export type KubeConfigSource =
  | { kind: 'in-cluster' }
  | { kind: 'file'; path: string; context?: string }
  /** client-node's own search: KUBECONFIG, ~/.kube/config, then in-cluster. */
  | { kind: 'default' };

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (source.kind === 'in-cluster') kc.loadFromCluster();
    else if (source.kind === 'default') kc.loadFromDefault();
    else {
      kc.loadFromFile(source.path);
      if (source.context) kc.setCurrentContext(source.context);
    }
  } catch (err) {
    throw new TokenmeterError(ErrorCodes.KUBE_CONFIG_INVALID, `cannot load kubeconfig: ${String(err)}`, { cause: err });
  }
  if (!kc.getCurrentCluster()) throw new TokenmeterError(ErrorCodes.KUBE_CONFIG_INVALID, 'kubeconfig names no current cluster');
  return kc;
}

export interface KubeClientOptions {
  /** Sent on every request, watches included (e.g. "tokenmeter-operator/0.1.0"); default: node-fetch's own. */
  userAgent?: string;
}

export function createKubeClient(kc: KubeConfig, options: KubeClientOptions = {}): KubeClient {
  return new ClientNodeKubeClient(kc, options);
}

/** The client for a kubeconfig file, or for the in-cluster service account when `path` is empty. */
export function kubeClientFor(path: string, options: KubeClientOptions = {}): KubeClient {
  return createKubeClient(loadKubeConfig(path ? { kind: 'file', path } : { kind: 'in-cluster' }), options);
}

/**
 * The kubeconfig as client-node's Watch sees it, sending `userAgent`: Watch builds its own node-fetch request from
 * `applyToFetchOptions` and offers no other hook for headers.
 */
function watchConfig(kc: KubeConfig, userAgent: string | undefined): KubeConfig {
  if (!userAgent) return kc;
  const view = Object.create(kc) as KubeConfig;
  view.applyToFetchOptions = async (opts) => {
    const init = await kc.applyToFetchOptions(opts);
    (init.headers as { set(name: string, value: string): void }).set('User-Agent', userAgent);
    return init;
  };
  return view;
}

const APPLY = PatchStrategy.ServerSideApply;
const WATCH_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);

/** KubernetesObjectApi with plain-JSON responses, KubeApiError for error statuses and a raw request method. */
class RawObjectApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig, configuration: Configuration): RawObjectApi {
    const api = new RawObjectApi(configuration);
    api.setDefaultNamespace(kc);
    return api;
  }

  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext): Promise<T> {
    const text = await response.body.text();
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) return (text ? JSON.parse(text) : {}) as T;
    throw statusError(response.httpStatusCode, parseJson(text));
  }

  /** The served resource for a kind, or undefined when the server does not serve it. */
  async kindInfo(apiVersion: string, kind: string, fresh = false): Promise<V1APIResource | undefined> {
    if (fresh) delete this.apiVersionResourceCache[apiVersion];
    try {
      return await this.resource(apiVersion, kind);
    } catch (err) {
      if (isKubeApiError(err) && err.status === 404) return undefined;
      throw err;
    }
  }

  async ensureKind(apiVersion: string, kind: string): Promise<void> {
    if (!(await this.kindInfo(apiVersion, kind))) {
      throw new KubeApiError(404, NO_KIND_MATCH, `the server does not serve ${kind} in ${apiVersion}`);
    }
  }

  async collectionPath(resource: ResourceType, namespace: string | undefined): Promise<string> {
    await this.ensureKind(resource.apiVersion, resource.kind);
    return this.specUriPath({ apiVersion: resource.apiVersion, kind: resource.kind, metadata: { namespace } }, 'list');
  }

  async objectPath(obj: KubernetesObject): Promise<string> {
    return this.specUriPath(obj, 'patch');
  }

  async send(method: HttpMethod, path: string, query: Record<string, string>, body: string): Promise<unknown> {
    const ctx = this.configuration.baseServer.makeRequestContext(path, method);
    ctx.setHeaderParam('Accept', 'application/json');
    for (const [name, value] of Object.entries(query)) ctx.setQueryParam(name, value);
    ctx.setHeaderParam('Content-Type', APPLY);
    ctx.setBody(body);
    return this.requestPromise(ctx);
  }
}

class ClientNodeKubeClient implements KubeClient {
  private readonly api: RawObjectApi;
  private readonly events: EventsV1Api;
  private readonly watcher: Watch;

  constructor(kc: KubeConfig, options: KubeClientOptions) {
    // One pool for both APIs: requests reuse keep-alive connections instead of opening one each.
    const configuration = pooledConfiguration(kc, new AgentPool(), options.userAgent);
    this.api = RawObjectApi.forConfig(kc, configuration);
    this.events = new EventsV1Api(configuration);
    this.watcher = new Watch(watchConfig(kc, options.userAgent));
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      await this.api.ensureKind(ref.apiVersion, ref.kind);
      return asObject<T>(await this.api.read(toSpec(ref)));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toKubeError(err);
    }
  }

  async list<T extends KubeObject = KubeObject>(resource: ResourceType, options: ListOptions = {}): Promise<ObjectList<T>> {
    const { apiVersion, kind } = resource;
    const raw = await call(async () => {
      await this.api.ensureKind(apiVersion, kind);
      return this.api.list(apiVersion, kind, options.namespace, undefined, undefined, undefined, undefined, options.labelSelector);
    });
    // List items of built-in kinds come without apiVersion and kind.
    const items = (raw.items as unknown[]).map((item) => Object.assign({ apiVersion, kind }, asObject<T>(item)));
    return { items, resourceVersion: raw.metadata?.resourceVersion ?? '' };
  }

  watch(resource: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent) => void, onDone: WatchDone): WatchHandle {
    let stopped = false;
    let finished = false;
    let controller: AbortController | undefined;
    const finish = (err?: KubeApiError): void => {
      if (stopped || finished) return;
      finished = true;
      onDone(err);
    };
    const deliver = (phase: string, obj: unknown): void => {
      if (stopped || finished) return;
      const event = toWatchEvent(phase, obj);
      if (event) onEvent(event);
    };
    const query: Record<string, string | number | boolean | undefined> = {
      resourceVersion: options.resourceVersion,
      allowWatchBookmarks: options.allowWatchBookmarks,
      timeoutSeconds: options.timeoutSeconds,
      labelSelector: options.labelSelector,
    };
    const start = async (): Promise<void> => {
      const path = await this.api.collectionPath(resource, options.namespace);
      if (stopped) return;
      controller = await this.watcher.watch(path, query, deliver, (err: unknown) => {
        finish(err ? toKubeError(err) : undefined);
      });
      if (stopped) controller.abort();
    };
    start().catch((err: unknown) => finish(toKubeError(err)));
    return {
      stop: (): void => {
        stopped = true;
        controller?.abort();
      },
    };
  }

  async create<T extends KubeObjectInput>(obj: T): Promise<T> {
    return asObject<T>(await call(() => this.withKind(obj, () => this.api.create(copy(obj)))));
  }

  async replace<T extends KubeObjectInput>(obj: T): Promise<T> {
    return asObject<T>(await call(() => this.withKind(obj, () => this.api.replace(copy(obj)))));
  }

  async apply<T extends KubeObjectInput>(obj: T, options: ApplyOptions): Promise<T> {
    const patch = (): Promise<KubernetesObject> =>
      this.api.patch(copy(obj), undefined, undefined, options.fieldManager, options.force, APPLY);
    return asObject<T>(await call(() => this.withKind(obj, patch)));
  }

  async applyStatus<T extends KubeObjectInput>(obj: T, options: ApplyOptions): Promise<T> {
    const query = { fieldManager: options.fieldManager, force: String(options.force) };
    const send = async (): Promise<unknown> => {
      const path = `${await this.api.objectPath(copy(obj))}/status`;
      return this.api.send(HttpMethod.PATCH, path, query, JSON.stringify(statusPatch(obj)));
    };
    return asObject<T>(await call(() => this.withKind(obj, send)));
  }

  async delete(ref: ObjectRef, options: DeleteOptions = {}): Promise<boolean> {
    try {
      await this.api.ensureKind(ref.apiVersion, ref.kind);
      await this.api.delete(toSpec(ref), undefined, undefined, undefined, undefined, options.propagationPolicy);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toKubeError(err);
    }
  }

  async createEvent(event: EventRecord): Promise<void> {
    const now = Date.now();
    const namespace = event.regarding.namespace ?? 'default';
    const suffix = `${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${event.regarding.name}.${suffix}`, namespace },
      eventTime: formatMicroTime(now) as unknown as Date, // MicroTime on the wire; client-node passes strings through
      type: event.type,
      reason: event.reason,
      action: event.action,
      note: event.note.slice(0, 1024),
      reportingController: event.reportingController,
      reportingInstance: event.reportingInstance,
      regarding: { ...event.regarding },
    };
    await call(() => this.events.createNamespacedEvent({ namespace, body }));
  }

  async resourceExists(apiVersion: string, kind: string): Promise<boolean> {
    return call(async () => (await this.api.kindInfo(apiVersion, kind, true)) !== undefined);
  }

  private async withKind<R>(obj: KubeObjectInput, run: () => Promise<R>): Promise<R> {
    await this.api.ensureKind(obj.apiVersion, obj.kind);
    return run();
  }
}

/** Only identity and status: fields sent to /status outside status would be claimed by our manager for nothing. */
function statusPatch(obj: KubeObjectInput): Record<string, unknown> {
  const { apiVersion, kind, metadata } = obj;
  return { apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace }, status: (obj as { status?: unknown }).status };
}

function toSpec(ref: ObjectRef): KubernetesObject & { apiVersion: string; kind: string; metadata: { name: string } } {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
}

/** client-node fills in defaults (namespace, apiVersion) on the object it is given; never on the caller's. */
function copy(obj: KubeObjectInput): KubernetesObject {
  return structuredClone(obj);
}

async function call<R>(run: () => Promise<R>): Promise<R> {
  try {
    return await run();
  } catch (err) {
    throw toKubeError(err);
  }
}

function toKubeError(err: unknown): KubeApiError {
  if (isKubeApiError(err)) return err;
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    return statusError(err.code, typeof body === 'string' ? parseJson(body) : body);
  }
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number') return statusError(statusCode, undefined);
  const message = err instanceof Error ? err.message : String(err);
  const reason = err instanceof FetchError ? 'Unreachable' : 'ClientError';
  return new KubeApiError(0, reason, `Kubernetes API request failed: ${message}`, { cause: err });
}

function statusError(status: number, body: unknown): KubeApiError {
  const s = (typeof body === 'object' && body !== null ? body : {}) as KubeStatus;
  const reason = typeof s.reason === 'string' && s.reason ? s.reason : defaultReason(status);
  const message = typeof s.message === 'string' && s.message ? s.message : `HTTP ${status}`;
  return new KubeApiError(status, reason, message);
}

function defaultReason(status: number): string {
  const reasons: Record<number, string> = { 404: 'NotFound', 409: 'Conflict', 410: 'Expired', 401: 'Unauthorized', 403: 'Forbidden' };
  return reasons[status] ?? 'Unknown';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function asObject<T extends KubeObjectInput>(value: unknown): T {
  const meta = (value as { metadata?: { name?: unknown } } | null)?.metadata;
  if (typeof meta?.name !== 'string') {
    throw new TokenmeterError(ErrorCodes.PROTOCOL_UNEXPECTED, 'the Kubernetes API returned an object without metadata.name');
  }
  return value as T;
}

function toWatchEvent(phase: string, obj: unknown): WatchEvent | undefined {
  if (phase === 'ERROR') {
    const s = (typeof obj === 'object' && obj !== null ? obj : {}) as KubeStatus;
    return { type: 'ERROR', status: { code: s.code, reason: s.reason, message: s.message } };
  }
  if (!WATCH_TYPES.has(phase) || typeof obj !== 'object' || obj === null) return undefined;
  return { type: phase as 'ADDED', object: obj as KubeObject };
}
