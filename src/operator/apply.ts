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

/** Applies `obj` if it differs from `known.current` (the listed copy; undefined when absent), or else from a fresh read. */
async function applyOne(client: KubeClient, obj: DesiredObject, report: ApplyReport, known?: { current: KubeObject | undefined }): Promise<void> {
  const ref = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) };
  try {
    const current = known ? known.current : await client.get(ref);
    if (!needsApply(obj, current)) return;
    await client.apply(obj, APPLY_OPTIONS);
    report.applied.push(objectId(obj));
  } catch (err) {
    throw new ApplyError(objectId(obj), err);
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

/**
 * Applies each desired object that differs from the cluster, then deletes the objects in `scopes` that are not
 * desired (a kind the server does not serve has nothing to prune). Each scope is listed once: a desired object that
 * falls in a listed scope (same kind and namespace, labels matching the scope's equality selector) is compared with
 * its listed copy, and applied when missing from the list; any other object is read on its own. The operator's shared
 * objects (a ReferenceGrant per policy namespace) and each policy's own children live in such scopes, so a reconcile
 * costs one LIST per scope instead of one GET per object. Throws the first failure, wrapped with the object's id.
 */
export async function converge(client: KubeClient, desired: readonly DesiredObject[], scopes: readonly PruneScope[], report: ApplyReport): Promise<void> {
  const listed = await listScopes(client, scopes);
  const listedCopies = new Map<string, KubeObject>();
  for (const { scope, items } of listed) for (const item of items) listedCopies.set(identity(scope.apiVersion, scope.kind, item.metadata), item);
  const inListedScope = (obj: DesiredObject): boolean => listed.some(({ scope }) => scope.apiVersion === obj.apiVersion && scope.kind === obj.kind &&
    scope.namespace === obj.metadata.namespace && selectorMatches(scope.labelSelector, obj.metadata.labels));
  for (const obj of desired) {
    const known = inListedScope(obj) ? { current: listedCopies.get(identity(obj.apiVersion, obj.kind, obj.metadata)) } : undefined;
    await applyOne(client, obj, report, known);
  }
  await pruneListed(client, listed, desired, report);
}

interface Listed {
  scope: PruneScope;
  items: KubeObject[];
}

/** Each scope's objects; a scope whose kind the server does not serve is left out. */
async function listScopes(client: KubeClient, scopes: readonly PruneScope[]): Promise<Listed[]> {
  const out: Listed[] = [];
  for (const scope of scopes) {
    try {
      const { items } = await client.list({ apiVersion: scope.apiVersion, kind: scope.kind }, { namespace: scope.namespace, labelSelector: scope.labelSelector });
      out.push({ scope, items });
    } catch (err) {
      if (isKubeApiError(err) && err.reason === NO_KIND_MATCH) continue;
      throw new ApplyError(`${scope.kind} in ${scope.namespace} (prune)`, err);
    }
  }
  return out;
}

async function pruneListed(client: KubeClient, listed: readonly Listed[], desired: readonly DesiredObject[], report: ApplyReport): Promise<void> {
  const keep = new Set(desired.map((o) => identity(o.apiVersion, o.kind, o.metadata)));
  for (const { scope, items } of listed) {
    for (const item of items) {
      const candidate = { apiVersion: scope.apiVersion, kind: scope.kind, metadata: item.metadata };
      if (keep.has(identity(scope.apiVersion, scope.kind, item.metadata)) || (scope.filter && !scope.filter(item))) continue;
      try {
        await client.delete({ apiVersion: scope.apiVersion, kind: scope.kind, name: item.metadata.name, namespace: scope.namespace });
      } catch (err) {
        throw new ApplyError(`${objectId(candidate)} (prune)`, err);
      }
      report.deleted.push(objectId(candidate));
    }
  }
}

function identity(apiVersion: string, kind: string, metadata: { name: string; namespace?: string }): string {
  return `${apiVersion} ${kind} ${metadata.namespace ?? ''}/${metadata.name}`;
}

/**
 * Whether `labels` satisfy an equality-based selector (`a=b,c==d`). A selector using any other operator (`!=`, `in`,
 * existence) answers false, so the object is read on its own rather than judged by a selector this does not parse.
 */
export function selectorMatches(selector: string, labels: Record<string, string> | undefined): boolean {
  return selector.split(',').every((term) => {
    const m = /^\s*([^=!\s]+)\s*==?\s*([^=!\s]*)\s*$/.exec(term);
    return m !== null && labels?.[m[1] ?? ''] === m[2];
  });
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
