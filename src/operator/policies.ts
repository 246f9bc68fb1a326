/**
 * Which TokenPolicies are accepted, the input of every render: spec valid (buildPolicy, memoised per uid and
 * generation — a render reads every policy, so 1,000 policies would otherwise be validated 1,000 times per pass),
 * targetRefs resolved, not being deleted.
 *
 * Targets are resolved (client.get) only for the policy being reconciled; for the others the reconciler remembers
 * what it found for their current generation, and falls back to what their status says (Accepted=False
 * TargetNotFound at the current generation excludes them). A policy no reconcile has looked at yet is included;
 * its own reconcile, which the informer's initial list queues, settles it.
 */
import { NO_KIND_MATCH, isKubeApiError, objectKey, type KubeClient, type KubeObject } from '../k8s/client.js';
import type { AcceptedPolicy } from '../render/meta.js';
import { buildPolicy } from '../policy/spec.js';
import { policyBytes, SHARD_MAX_BYTES } from '../render/limits.js';
import type { TargetRef, TokenPolicy } from '../policy/types.js';
import type { FieldError } from '../policy/validate.js';
import { ConditionTypes, Reasons, conditionsOf, findCondition } from './conditions.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
const GATEWAY_API_VERSION = `${GATEWAY_API_GROUP}/v1`;

export interface Validation {
  policy?: TokenPolicy;
  errors: FieldError[];
}

/** The informer's view of all TokenPolicies. */
export interface PolicyCache {
  list(): readonly KubeObject[];
}

/** "spec.limits[0].window: must be …; spec.subject.name: required …" */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => (e.path === '' ? e.message : `${e.path}: ${e.message}`)).join('; ');
}

function generationOf(obj: KubeObject): number {
  return obj.metadata.generation ?? 0;
}

/** A valid policy must also fit one limits ConfigMap (its document is never split across shards). */
function publishable(v: Validation): Validation {
  if (!v.policy) return v;
  const bytes = policyBytes(v.policy);
  if (bytes <= SHARD_MAX_BYTES) return v;
  return {
    errors: [{
      path: 'spec', message: `rendered for the data plane it takes ${bytes} bytes, more than the ${SHARD_MAX_BYTES} one limits ConfigMap ` +
        'holds: use fewer or shorter overrides (or split the policy)',
    }],
  };
}

export class PolicyBook {
  private readonly validations = new Map<string, { generation: number; result: Validation }>();
  private readonly targets = new Map<string, { generation: number; resolved: boolean }>();
  private readonly verdicts = new Map<string, AcceptedPolicy | undefined>();

  /** buildPolicy, memoised by uid and generation (the spec only changes with the generation). */
  validate(obj: KubeObject): Validation {
    const uid = obj.metadata.uid;
    const generation = generationOf(obj);
    const hit = uid === undefined ? undefined : this.validations.get(uid);
    if (hit && hit.generation === generation) return hit.result;
    const meta = { name: obj.metadata.name, ...(obj.metadata.namespace === undefined ? {} : { namespace: obj.metadata.namespace }) };
    const result = publishable(buildPolicy(meta, obj.spec));
    if (uid !== undefined) this.validations.set(uid, { generation, result });
    return result;
  }

  /** Remembers whether the targets of this generation resolved. */
  noteTargets(obj: KubeObject, resolved: boolean): void {
    if (obj.metadata.uid !== undefined) this.targets.set(obj.metadata.uid, { generation: generationOf(obj), resolved });
  }

  /** Drops what is remembered about a policy that is gone. */
  forget(uid: string | undefined): void {
    if (uid === undefined) return;
    this.validations.delete(uid);
    this.targets.delete(uid);
  }

  private targetsMissing(obj: KubeObject): boolean {
    const seen = obj.metadata.uid === undefined ? undefined : this.targets.get(obj.metadata.uid);
    if (seen && seen.generation === generationOf(obj)) return !seen.resolved;
    const accepted = findCondition(conditionsOf(obj.status), ConditionTypes.Accepted);
    return accepted?.reason === Reasons.TargetNotFound && accepted.observedGeneration === generationOf(obj);
  }

  /**
   * Records the verdict a reconcile just reached for `key` (the freshly read object's: undefined when it is gone,
   * deleting or not accepted). It stands for that key in `accepted` until the key's next reconcile, even while the
   * informer cache still holds an older copy.
   */
  setVerdict(key: string, accepted: AcceptedPolicy | undefined): void {
    this.verdicts.set(key, accepted);
  }

  /** Forgets the verdict of a key whose object is gone (after the shared objects were published without it). */
  dropVerdict(key: string): void {
    this.verdicts.delete(key);
  }

  /** The accepted policies: each key's latest reconcile verdict, else what the cached object says. */
  accepted(cache: PolicyCache): AcceptedPolicy[] {
    const out: AcceptedPolicy[] = [];
    for (const v of this.verdicts.values()) if (v) out.push(v);
    for (const obj of cache.list()) {
      if (this.verdicts.has(objectKey(obj)) || obj.metadata.deletionTimestamp !== undefined) continue;
      const { policy } = this.validate(obj);
      if (!policy || this.targetsMissing(obj)) continue;
      const identity = acceptedIdentity(obj);
      if (identity) out.push({ identity, policy });
    }
    return out;
  }
}

export function acceptedIdentity(obj: KubeObject): AcceptedPolicy['identity'] | undefined {
  const { name, namespace, uid } = obj.metadata;
  if (namespace === undefined || uid === undefined) return undefined;
  return { name, namespace, uid, generation: generationOf(obj) };
}

function refText(r: TargetRef): string {
  return `${r.kind} ${r.name}${r.sectionName === undefined ? '' : ` (section ${r.sectionName})`}`;
}

/** Names of the sections (Gateway listeners, route rules) an object has. */
function sectionNames(target: KubeObject): string[] {
  const spec = (target.spec ?? {}) as { listeners?: { name?: unknown }[]; rules?: { name?: unknown }[] };
  return [...(spec.listeners ?? []), ...(spec.rules ?? [])].map((s) => s.name).filter((n): n is string => typeof n === 'string');
}

/** Why one targetRef does not resolve, or undefined when it does. */
async function missingTarget(client: KubeClient, namespace: string, r: TargetRef): Promise<string | undefined> {
  if (r.group !== GATEWAY_API_GROUP) return `${refText(r)}: group ${r.group} is not supported`;
  let target: KubeObject | undefined;
  try {
    target = await client.get({ apiVersion: GATEWAY_API_VERSION, kind: r.kind, namespace, name: r.name });
  } catch (err) {
    if (isKubeApiError(err) && err.reason === NO_KIND_MATCH) {
      return `${refText(r)}: ${r.kind} is not served by the API server (are the Gateway API CRDs installed?)`;
    }
    throw err;
  }
  if (!target) return `${refText(r)} not found in namespace ${namespace}`;
  if (r.sectionName !== undefined && !sectionNames(target).includes(r.sectionName)) {
    return `${refText(r)}: ${r.kind} ${r.name} has no section named ${r.sectionName}`;
  }
  return undefined;
}

/** The targetRefs of `policy` that do not resolve, as messages (empty: all resolved). */
export async function unresolvedTargets(client: KubeClient, namespace: string, policy: TokenPolicy): Promise<string[]> {
  const missing: string[] = [];
  for (const r of policy.targets.refs) {
    const why = await missingTarget(client, namespace, r);
    if (why !== undefined) missing.push(why);
  }
  return missing;
}
