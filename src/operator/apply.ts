/**
 * Converging objects: server-side apply of what differs from the cluster, and pruning of what is no longer rendered.
 *
 * Each desired object is read first and applied only when a field it sets differs from the live object
 * (apimachinery's Semantic.DeepDerivative: fields the API server or other managers added are ignored), so a reconcile
 * with nothing to do writes nothing — no resourceVersion churn, no ext_proc reload — while an object edited behind
 * the operator's back is restored on the next reconcile.
 */
import { ErrorCodes, TokenmeterError, isTokenmeterError } from '../errors/catalogue.js';
import { NO_KIND_MATCH, isKubeApiError, type KubeClient, type KubeObject, type KubeObjectInput } from '../k8s/client.js';

export const FIELD_MANAGER = 'tokenmeter-operator';
export const APPLY_OPTIONS = Object.freeze({ fieldManager: FIELD_MANAGER, force: true });

/** A rendered object: plain data with metadata. */
export type DesiredObject = KubeObjectInput & {
  metadata: KubeObjectInput['metadata'] & {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string }[];
  };
};

export function objectId(o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every field set in `desired` has the same value in `current` (extra fields in `current` are fine). */
export function derivative(desired: unknown, current: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(current) && desired.length === current.length && desired.every((d, i) => derivative(d, current[i]));
  }
  if (isRecord(desired)) {
    return isRecord(current) && Object.entries(desired).every(([k, v]) => derivative(v, current[k]));
  }
  return desired === current;
}

/** Whether applying `desired` would change `current` (absent: always). Only labels, annotations and owner references count in metadata. */
export function needsApply(desired: DesiredObject, current: KubeObject | undefined): boolean {
  if (!current) return true;
  const { metadata, apiVersion: _a, kind: _k, ...rest } = desired as DesiredObject & Record<string, unknown>;
  const meta = { labels: metadata.labels, annotations: metadata.annotations, ownerReferences: metadata.ownerReferences };
  return !derivative(meta, current.metadata) || !derivative(rest, current);
}

export interface ApplyReport {
  /** Objects written, as `Kind namespace/name`. */
  applied: string[];
  /** Objects deleted by pruning. */
  deleted: string[];
}

/** Applies each object that differs from the cluster. Throws the first failure, wrapped with the object's id. */
export async function applyChanged(client: KubeClient, objects: readonly DesiredObject[], report: ApplyReport): Promise<void> {
  for (const obj of objects) {
    const ref = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) };
    try {
      const current = await client.get(ref);
      if (!needsApply(obj, current)) continue;
      await client.apply(obj, APPLY_OPTIONS);
      report.applied.push(objectId(obj));
    } catch (err) {
      throw new ApplyError(objectId(obj), err);
    }
  }
}

/** Where pruning looks: one kind in one namespace, objects carrying `labelSelector`. */
export interface PruneScope {
  apiVersion: string;
  kind: string;
  namespace: string;
  labelSelector: string;
  /** Only objects this predicate accepts are candidates (e.g. owned by one policy, or one name). */
  filter?: (obj: KubeObject) => boolean;
}

/** Deletes the objects in `scopes` that are not in `desired`. A kind the server does not serve has nothing to prune. */
export async function prune(client: KubeClient, scopes: readonly PruneScope[], desired: readonly DesiredObject[], report: ApplyReport): Promise<void> {
  const keep = new Set(desired.map((o) => `${o.apiVersion} ${objectId(o)}`));
  for (const scope of scopes) {
    let items: KubeObject[];
    try {
      items = (await client.list({ apiVersion: scope.apiVersion, kind: scope.kind }, { namespace: scope.namespace, labelSelector: scope.labelSelector })).items;
    } catch (err) {
      if (isKubeApiError(err) && err.reason === NO_KIND_MATCH) continue;
      throw new ApplyError(`${scope.kind} in ${scope.namespace} (prune)`, err);
    }
    for (const item of items) {
      const candidate = { apiVersion: scope.apiVersion, kind: scope.kind, metadata: item.metadata };
      if (keep.has(`${scope.apiVersion} ${objectId(candidate)}`) || (scope.filter && !scope.filter(item))) continue;
      try {
        await client.delete({ apiVersion: scope.apiVersion, kind: scope.kind, name: item.metadata.name, namespace: scope.namespace });
      } catch (err) {
        throw new ApplyError(`${objectId(candidate)} (prune)`, err);
      }
      report.deleted.push(objectId(candidate));
    }
  }
}

/** An apply or prune that failed: which object, and the API error as cause (whose code it keeps). */
export class ApplyError extends TokenmeterError {
  readonly object: string;

  constructor(object: string, cause: unknown) {
    const code = isTokenmeterError(cause) ? cause.code : ErrorCodes.KUBE_API;
    super(code, `${object}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ApplyError';
    this.object = object;
  }
}
