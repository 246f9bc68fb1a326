/**
 * The project's own small Kubernetes client: the only surface the operator (reconciler, informers, leader election)
 * depends on, so it can be faked in memory. The one implementation that speaks HTTP is src/k8s/client-node.ts.
 *
 * Objects are plain JSON as the API server sends them (timestamps are RFC 3339 strings, never Date).
 */
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  [field: string]: unknown;
}

export interface KubeObject<Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
  [field: string]: unknown;
}

/**
 * What the write methods accept: type and object metadata; other fields are sent as they are. (Interfaces need no
 * index signature to fit this, unlike KubeObject.)
 */
export interface KubeObjectInput {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

/** A kind of resource: `{ apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' }`. */
export interface ResourceType {
  apiVersion: string;
  kind: string;
}

/** One object: its kind, name and (for namespaced kinds) namespace. */
export interface ObjectRef extends ResourceType {
  name: string;
  namespace?: string;
}

export interface ListOptions {
  /** Omit for all namespaces (or for cluster-scoped kinds). */
  namespace?: string;
  labelSelector?: string;
}

export interface ObjectList<T extends KubeObject = KubeObject> {
  items: T[];
  /** The list's resourceVersion: where a watch continues from. */
  resourceVersion: string;
}

export interface WatchOptions extends ListOptions {
  resourceVersion: string;
  allowWatchBookmarks: boolean;
  /** The server ends the watch after this long (a normal end: re-watch from the last resourceVersion). */
  timeoutSeconds?: number;
}

/** A metav1.Status, as an ERROR watch event or an error response carries it. */
export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
}

export type WatchEvent<T extends KubeObject = KubeObject> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T }
  /** Only metadata.resourceVersion is meaningful. */
  | { type: 'BOOKMARK'; object: T }
  | { type: 'ERROR'; status: KubeStatus };

export interface WatchHandle {
  /** Closes the connection; onDone is not called after stop(). */
  stop(): void;
}

/**
 * Called once when a watch ends: without an error when the server closed it normally (timeoutSeconds, a dropped
 * connection); with a KubeApiError when the server refused it (e.g. status 410 Gone) or the transport failed.
 */
export type WatchDone = (err?: KubeApiError) => void;

export interface ApplyOptions {
  fieldManager: string;
  force: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
}

/**
 * An Event about an object, written as events.k8s.io/v1 (the API `kubectl events` and client-go's current recorder
 * use; `kubectl describe` shows it too, as core/v1 Events are the same objects). RBAC: events.k8s.io events create.
 */
export interface EventRecord {
  regarding: ObjectRef & { uid?: string; resourceVersion?: string };
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. "Programmed". */
  reason: string;
  /** What was done, CamelCase, e.g. "Apply". */
  action: string;
  /** Human message, at most 1 kB. */
  note: string;
  reportingController: string;
  reportingInstance: string;
}

export interface KubeClient {
  /** The object, or undefined when it does not exist (404). */
  get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  list<T extends KubeObject = KubeObject>(resource: ResourceType, options?: ListOptions): Promise<ObjectList<T>>;
  /** Events arrive in order through onEvent; onDone is called once when the watch ends (see WatchDone). */
  watch(
    resource: ResourceType,
    options: WatchOptions,
    onEvent: (event: WatchEvent) => void,
    onDone: WatchDone,
  ): WatchHandle;
  /** POST; KubeApiError 409 AlreadyExists when it exists. */
  create<T extends KubeObjectInput>(obj: T): Promise<T>;
  /** PUT with metadata.resourceVersion; KubeApiError 409 Conflict when the object changed since it was read. */
  replace<T extends KubeObjectInput>(obj: T): Promise<T>;
  /** Server-side apply: PATCH application/apply-patch+yaml ?fieldManager=…&force=…; creates when absent. */
  apply<T extends KubeObjectInput>(obj: T, options: ApplyOptions): Promise<T>;
  /** Server-side apply of `status` to the /status subresource. */
  applyStatus<T extends KubeObjectInput>(obj: T, options: ApplyOptions): Promise<T>;
  /** True when deleted (or deletion started), false when it did not exist. */
  delete(ref: ObjectRef, options?: DeleteOptions): Promise<boolean>;
  createEvent(event: EventRecord): Promise<void>;
  /** Discovery: is this kind served (e.g. is the monitoring.coreos.com/v1 ServiceMonitor CRD installed)? */
  resourceExists(apiVersion: string, kind: string): Promise<boolean>;
}

/** An error from the Kubernetes API: HTTP status (0 when no response arrived), Status reason and message. */
export class KubeApiError extends TokenmeterError {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, message: string, options?: { cause?: unknown }) {
    super(status === 0 ? ErrorCodes.KUBE_UNREACHABLE : ErrorCodes.KUBE_API, message, options);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

/** The reason used when the API server does not serve the kind at all (group/version or kind unknown). */
export const NO_KIND_MATCH = 'NoKindMatch';

export function isKubeApiError(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError;
}

/** 404 for an object (not for a kind the server does not serve). */
export function isNotFound(err: unknown): boolean {
  return isKubeApiError(err) && err.status === 404 && err.reason !== NO_KIND_MATCH;
}

export function isConflict(err: unknown): boolean {
  return isKubeApiError(err) && err.status === 409;
}

/** 410 Gone / Expired: the resourceVersion is too old to watch from; list again. */
export function isGone(err: unknown): boolean {
  return isKubeApiError(err) && err.status === 410;
}

/** "namespace/name" (or "name" for cluster-scoped objects): the key informers and the work queue use. */
export function objectKey(obj: { metadata: { name: string; namespace?: string } }): string {
  const { name, namespace } = obj.metadata;
  return namespace ? `${namespace}/${name}` : name;
}

export function refOf(obj: KubeObjectInput): ObjectRef {
  const ref: ObjectRef = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name };
  if (obj.metadata.namespace !== undefined) ref.namespace = obj.metadata.namespace;
  return ref;
}
