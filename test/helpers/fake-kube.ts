/**
 * An in-memory KubeClient for the reconciler tests, closer to the API server than a map: uids, resourceVersions,
 * metadata.generation bumped when spec changes, server-side apply as a deep merge (fields of other managers kept,
 * status untouched), /status writes that need the object, label selectors, kinds that are not served (NoKindMatch,
 * resourceExists false), deletion with finalizers (deletionTimestamp) and owner-reference garbage collection.
 * Every call is recorded (verb, resource, subresource, apply options) so tests can assert on writes and on RBAC;
 * failures can be injected per verb and kind. Watches are not supported.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  KubeApiError, NO_KIND_MATCH,
  type ApplyOptions, type EventRecord, type KubeClient, type KubeObject, type KubeObjectInput, type ListOptions,
  type ObjectList, type ObjectRef, type ResourceType, type WatchHandle,
} from '../../src/k8s/client.js';

export type Verb = 'get' | 'list' | 'create' | 'replace' | 'apply' | 'applyStatus' | 'delete' | 'createEvent';

export interface Call {
  verb: Verb;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name?: string;
  subresource?: 'status';
  options?: ApplyOptions;
  labelSelector?: string;
}

export const WRITE_VERBS: readonly Verb[] = ['create', 'replace', 'apply', 'applyStatus', 'delete', 'createEvent'];

const DEFAULT_SERVED = [
  'v1/ConfigMap', 'tokenmeter.dev/v1alpha1/TokenPolicy', 'gateway.envoyproxy.io/v1alpha1/EnvoyExtensionPolicy',
  'gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy', 'gateway.networking.k8s.io/v1beta1/ReferenceGrant',
  'gateway.networking.k8s.io/v1/Gateway', 'gateway.networking.k8s.io/v1/HTTPRoute', 'gateway.networking.k8s.io/v1/GRPCRoute',
  'networking.istio.io/v1alpha3/EnvoyFilter', 'coordination.k8s.io/v1/Lease', 'discovery.k8s.io/v1/EndpointSlice',
];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Server-side apply, approximately: maps merged key by key, lists and scalars replaced. */
function merge(current: unknown, applied: unknown): unknown {
  if (!isRecord(current) || !isRecord(applied)) return structuredClone(applied);
  const out: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(applied)) out[k] = merge(current[k], v);
  return out;
}

function keyOf(o: ObjectRef | KubeObjectInput): string {
  const m = 'metadata' in o ? o.metadata : o;
  return `${o.apiVersion}/${o.kind}/${m.namespace ?? ''}/${m.name}`;
}

function matches(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && obj.metadata.labels?.[k] === v;
  });
}

export class FakeKube implements KubeClient {
  readonly objects = new Map<string, KubeObject>();
  readonly events: EventRecord[] = [];
  readonly calls: Call[] = [];
  readonly served = new Set<string>(DEFAULT_SERVED);
  private rv = 0;
  private uids = 0;
  private readonly failures: { verb: Verb; kind?: string; err: Error }[] = [];
  /** Another controller reacting at once to an applied object (e.g. Envoy Gateway writing a policy's status): its new status, or undefined. */
  onApplied?: (obj: KubeObject) => unknown;

  /** The next call of `verb` (on `kind`, when given) fails with `err`. */
  failNext(verb: Verb, err: Error, kind?: string): void {
    this.failures.push({ verb, err, ...(kind === undefined ? {} : { kind }) });
  }

  /** Writes an object as another actor would (not recorded): uid, generation and resourceVersion maintained. */
  put<T extends KubeObjectInput>(obj: T): KubeObject {
    const next = structuredClone(obj) as unknown as KubeObject;
    const old = this.objects.get(keyOf(next));
    const meta = next.metadata;
    meta.uid = old?.metadata.uid ?? meta.uid ?? `uid-${++this.uids}`;
    meta.creationTimestamp = old?.metadata.creationTimestamp ?? '2025-01-01T00:00:00Z';
    const specChanged = !old || !isDeepStrictEqual(old.spec, next.spec);
    meta.generation = (old?.metadata.generation ?? 0) + (specChanged ? 1 : 0);
    meta.resourceVersion = String(++this.rv);
    this.objects.set(keyOf(next), next);
    return structuredClone(next);
  }

  /** The stored object (a copy), without recording a call. */
  peek<T extends KubeObject = KubeObject>(ref: ObjectRef): T | undefined {
    const o = this.objects.get(keyOf(ref));
    return o && (structuredClone(o) as T);
  }

  /** Changes a stored object as another actor would. */
  edit(ref: ObjectRef, change: (obj: KubeObject) => void): KubeObject {
    const obj = this.peek(ref);
    if (!obj) throw new Error(`${keyOf(ref)} not stored`);
    change(obj);
    return this.put(obj);
  }

  /** Deletes as the API server would: deletionTimestamp while finalizers remain, then removal and garbage collection. */
  remove(ref: ObjectRef): void {
    const obj = this.objects.get(keyOf(ref));
    if (!obj) return;
    if ((obj.metadata.finalizers ?? []).length > 0) {
      this.edit(ref, (o) => { o.metadata.deletionTimestamp = '2025-01-02T00:00:00Z'; });
      return;
    }
    this.objects.delete(keyOf(ref));
    const uid = obj.metadata.uid;
    for (const [k, o] of [...this.objects]) {
      if ((o.metadata.ownerReferences ?? []).some((r) => r.uid === uid)) this.objects.delete(k);
    }
  }

  writes(): Call[] {
    return this.calls.filter((c) => WRITE_VERBS.includes(c.verb));
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    await this.enter({ verb: 'get', ...ref });
    return this.peek<T>(ref);
  }

  async list<T extends KubeObject = KubeObject>(resource: ResourceType, options: ListOptions = {}): Promise<ObjectList<T>> {
    await this.enter({ verb: 'list', ...resource, ...options });
    const items = [...this.objects.values()].filter((o) => o.apiVersion === resource.apiVersion && o.kind === resource.kind &&
      (options.namespace === undefined || o.metadata.namespace === options.namespace) && matches(o, options.labelSelector));
    return { items: structuredClone(items) as T[], resourceVersion: String(this.rv) };
  }

  watch(): WatchHandle {
    throw new Error('FakeKube does not watch');
  }

  async create<T extends KubeObjectInput>(obj: T): Promise<T> {
    await this.enter({ verb: 'create', ...this.refOf(obj) });
    if (this.objects.has(keyOf(obj))) throw new KubeApiError(409, 'AlreadyExists', `${keyOf(obj)} already exists`);
    return this.put(obj) as unknown as T;
  }

  async replace<T extends KubeObjectInput>(obj: T): Promise<T> {
    await this.enter({ verb: 'replace', ...this.refOf(obj) });
    const current = this.objects.get(keyOf(obj));
    if (!current) throw new KubeApiError(404, 'NotFound', `${keyOf(obj)} not found`);
    if (current.metadata.resourceVersion !== obj.metadata.resourceVersion) throw new KubeApiError(409, 'Conflict', 'the object has been modified');
    return this.put(obj) as unknown as T;
  }

  async apply<T extends KubeObjectInput>(obj: T, options: ApplyOptions): Promise<T> {
    await this.enter({ verb: 'apply', ...this.refOf(obj), options });
    const current = this.objects.get(keyOf(obj));
    const { status: _ignored, ...applied } = obj as unknown as KubeObject;
    const next = merge(current ?? {}, applied) as KubeObject;
    if (current?.status !== undefined) next.status = current.status;
    const stored = this.put(next);
    const status = this.onApplied?.(stored);
    if (status === undefined) return stored as unknown as T;
    const kept = this.objects.get(keyOf(stored)) as KubeObject;
    kept.status = structuredClone(status);
    return structuredClone(kept) as unknown as T;
  }

  async applyStatus<T extends KubeObjectInput>(obj: T, options: ApplyOptions): Promise<T> {
    await this.enter({ verb: 'applyStatus', ...this.refOf(obj), subresource: 'status', options });
    const current = this.objects.get(keyOf(obj));
    if (!current) throw new KubeApiError(404, 'NotFound', `${keyOf(obj)} not found`);
    const stored = structuredClone(current);
    stored.status = structuredClone((obj as unknown as KubeObject).status);
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects.set(keyOf(obj), stored);
    return structuredClone(stored) as unknown as T;
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    await this.enter({ verb: 'delete', ...ref });
    const existed = this.objects.has(keyOf(ref));
    this.remove(ref);
    return existed;
  }

  async createEvent(event: EventRecord): Promise<void> {
    await this.enter({ verb: 'createEvent', apiVersion: 'events.k8s.io/v1', kind: 'Event', ...(event.regarding.namespace ? { namespace: event.regarding.namespace } : {}) });
    this.events.push(structuredClone(event));
  }

  resourceExists(apiVersion: string, kind: string): Promise<boolean> {
    return Promise.resolve(this.served.has(`${apiVersion}/${kind}`));
  }

  private refOf(o: KubeObjectInput): ObjectRef {
    return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace === undefined ? {} : { namespace: o.metadata.namespace }) };
  }

  private enter(call: Call): Promise<void> {
    this.calls.push(call);
    const i = this.failures.findIndex((f) => f.verb === call.verb && (f.kind === undefined || f.kind === call.kind));
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      if (f) return Promise.reject(f.err);
    }
    if (call.verb !== 'createEvent' && !this.served.has(`${call.apiVersion}/${call.kind}`)) {
      return Promise.reject(new KubeApiError(404, NO_KIND_MATCH, `no matches for kind "${call.kind}" in version "${call.apiVersion}"`));
    }
    return Promise.resolve();
  }
}

/** The RBAC verbs a recorded call needs (a server-side apply that may create needs create and patch). */
export function rbacVerbs(call: Call): string[] {
  switch (call.verb) {
    case 'apply': return ['create', 'patch'];
    case 'applyStatus': return ['patch'];
    case 'replace': return ['update'];
    case 'createEvent': return ['create'];
    default: return [call.verb];
  }
}
