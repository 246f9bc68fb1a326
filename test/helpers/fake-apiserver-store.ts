/**
 * The object store behind the fake kube-apiserver (test/helpers/fake-apiserver.ts): one global resourceVersion
 * counter, uids, generation (bumped when spec changes), finalizers and deletionTimestamp, an event history that
 * watches replay from a resourceVersion, and compaction (a watch from before it gets 410 Gone).
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../../src/k8s/client.js';

export interface FakeResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Has a /status subresource: status is written only through it. */
  status?: boolean;
}

export const DEFAULT_RESOURCES: readonly FakeResource[] = [
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { group: 'tokenmeter.dev', version: 'v1alpha1', kind: 'TokenPolicy', plural: 'tokenpolicies', namespaced: true, status: true },
  { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true },
  { group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true },
];

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  type: EventType;
  resource: FakeResource;
  object: KubeObject;
}

export class StoreError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function apiVersionOf(r: FakeResource): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export class FakeStore {
  private rv = 100;
  private compactedRv = 0;
  private readonly objects = new Map<string, KubeObject>();
  private readonly lastApplier = new Map<string, string>();
  readonly history: StoredEvent[] = [];
  private readonly listeners = new Set<(e: StoredEvent) => void>();

  get resourceVersion(): number {
    return this.rv;
  }

  /** Everything up to now is compacted: a watch from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  isTooOld(rv: number): boolean {
    return rv < this.compactedRv;
  }

  subscribe(fn: (e: StoredEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get(r: FakeResource, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.objects.get(key(r, namespace, name));
    return obj && structuredClone(obj);
  }

  list(r: FakeResource, namespace: string | undefined, labelSelector: string | undefined): KubeObject[] {
    const prefix = `${r.group}/${r.plural}/`;
    return [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && (!namespace || o.metadata.namespace === namespace))
      .filter(([, o]) => matchesLabels(o, labelSelector))
      .map(([, o]) => structuredClone(o));
  }

  create(r: FakeResource, obj: KubeObject): KubeObject {
    const k = key(r, obj.metadata.namespace, obj.metadata.name);
    if (this.objects.has(k)) throw new StoreError(409, 'AlreadyExists', `${r.plural} "${obj.metadata.name}" already exists`);
    const created = structuredClone(obj);
    created.apiVersion = apiVersionOf(r);
    created.kind = r.kind;
    created.metadata = { ...created.metadata, uid: randomUUID(), generation: 1, creationTimestamp: new Date().toISOString() };
    return this.commit(r, k, created, 'ADDED');
  }

  /** PUT: the object must exist and carry the current resourceVersion. Status is kept for kinds with /status. */
  replace(r: FakeResource, obj: KubeObject, subresource?: 'status'): KubeObject {
    const k = key(r, obj.metadata.namespace, obj.metadata.name);
    const current = this.objects.get(k);
    if (!current) throw new StoreError(404, 'NotFound', `${r.plural} "${obj.metadata.name}" not found`);
    if (obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
      const msg = `Operation cannot be fulfilled on ${r.plural} "${obj.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`;
      throw new StoreError(409, 'Conflict', msg);
    }
    return this.update(r, k, current, obj, subresource);
  }

  /** Server-side apply (simplified: the applied fields replace the object's; one applier owns everything). */
  apply(r: FakeResource, obj: KubeObject, manager: string, force: boolean, subresource?: 'status'): KubeObject {
    const k = key(r, obj.metadata.namespace, obj.metadata.name);
    const current = this.objects.get(k);
    if (!current) {
      if (subresource) throw new StoreError(404, 'NotFound', `${r.plural} "${obj.metadata.name}" not found`);
      this.lastApplier.set(k, manager);
      return this.create(r, { ...obj, status: r.status ? undefined : obj.status });
    }
    const owner = this.lastApplier.get(k + (subresource ?? ''));
    if (owner && owner !== manager && !force) {
      throw new StoreError(409, 'Conflict', `Apply failed with 1 conflict: conflict with "${owner}"`);
    }
    this.lastApplier.set(k + (subresource ?? ''), manager);
    const merged = { ...current, ...obj, metadata: { ...current.metadata, ...obj.metadata } };
    return this.update(r, k, current, merged, subresource);
  }

  delete(r: FakeResource, namespace: string | undefined, name: string): KubeObject {
    const k = key(r, namespace, name);
    const current = this.objects.get(k);
    if (!current) throw new StoreError(404, 'NotFound', `${r.plural} "${name}" not found`);
    if (current.metadata.finalizers?.length) {
      if (current.metadata.deletionTimestamp) return structuredClone(current);
      const marked = structuredClone(current);
      marked.metadata.deletionTimestamp = new Date().toISOString();
      return this.commit(r, k, marked, 'MODIFIED');
    }
    this.objects.delete(k);
    this.lastApplier.delete(k);
    const gone = structuredClone(current);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, type: 'DELETED', resource: r, object: gone });
    return structuredClone(gone);
  }

  private update(r: FakeResource, k: string, current: KubeObject, next: KubeObject, sub?: 'status'): KubeObject {
    let updated = structuredClone(current);
    if (sub === 'status') updated.status = structuredClone(next.status);
    else {
      const { uid, generation, creationTimestamp, deletionTimestamp } = current.metadata;
      const metadata = { ...structuredClone(next.metadata), uid, generation, creationTimestamp, deletionTimestamp };
      updated = { apiVersion: current.apiVersion, kind: current.kind, metadata };
      if (r.status && current.status !== undefined) updated.status = structuredClone(current.status);
      for (const [field, value] of Object.entries(next)) {
        if (field !== 'metadata' && field !== 'apiVersion' && field !== 'kind' && !(field === 'status' && r.status)) {
          updated[field] = structuredClone(value);
        }
      }
      if (JSON.stringify(current.spec) !== JSON.stringify(updated.spec)) updated.metadata.generation = (generation ?? 0) + 1;
    }
    if (updated.metadata.deletionTimestamp && !updated.metadata.finalizers?.length) {
      this.objects.set(k, updated);
      return this.delete(r, updated.metadata.namespace, updated.metadata.name);
    }
    return this.commit(r, k, updated, 'MODIFIED');
  }

  private commit(r: FakeResource, k: string, obj: KubeObject, type: EventType): KubeObject {
    checkConfigMapSize(r, obj);
    obj.metadata.resourceVersion = String(++this.rv);
    if (obj.status === undefined) delete obj.status;
    this.objects.set(k, obj);
    this.emit({ rv: this.rv, type, resource: r, object: structuredClone(obj) });
    return structuredClone(obj);
  }

  private emit(e: StoredEvent): void {
    this.history.push(e);
    for (const fn of this.listeners) fn(e);
  }
}

function key(r: FakeResource, namespace: string | undefined, name: string): string {
  return `${r.group}/${r.plural}/${r.namespaced ? (namespace ?? '') : ''}/${name}`;
}

/** Equality-based selectors only: "a=b,c=d". */
function matchesLabels(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && obj.metadata.labels?.[k.trim()] === v?.trim();
  });
}

/** Discovery: /api, /apis, /api/v1, /apis/GROUP/VERSION (404 for a group/version not served); undefined otherwise. */
export function discoveryDocument(path: string, resources: readonly FakeResource[]): unknown {
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'] };
  if (path === '/apis') {
    const gvs = [...new Set(resources.filter((r) => r.group).map(apiVersionOf))];
    const groups = gvs.map((gv) => ({ name: gv.split('/')[0], versions: [{ groupVersion: gv, version: gv.split('/')[1] }] }));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
  if (!m) return undefined;
  const gv = m[1] ?? `${m[2]}/${m[3]}`;
  const served = resources.filter((r) => apiVersionOf(r) === gv);
  if (served.length === 0) throw new StoreError(404, 'NotFound', 'the server could not find the requested resource');
  const verbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
  const list = served.flatMap((r) => [
    { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs },
    ...(r.status ? [{ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] }] : []),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources: list };
}

/** The API server's ConfigMap validation: keys and values of data and binaryData together at most 1 MiB. */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

function checkConfigMapSize(r: FakeResource, obj: KubeObject): void {
  if (r.kind !== 'ConfigMap' || r.group !== '') return;
  const { data, binaryData } = obj as { data?: Record<string, string>; binaryData?: Record<string, string> };
  let total = 0;
  for (const [k, v] of Object.entries(data ?? {})) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  for (const [k, v] of Object.entries(binaryData ?? {})) total += Buffer.byteLength(k) + Buffer.from(v, 'base64').length;
  if (total > CONFIGMAP_MAX_BYTES) {
    throw new StoreError(422, 'Invalid', `ConfigMap "${obj.metadata.name}" is invalid: []: Too long: must have at most ${CONFIGMAP_MAX_BYTES} bytes`);
  }
}
