/**
 * What every rendered object shares: the plain-object shape, metadata with the operator's labels, owner references
 * to the TokenPolicy, and names and label values that stay within Kubernetes' length limits however long the
 * policy name is (truncated, with a short hash of the full value so two long names never collide).
 */
import { createHash } from 'node:crypto';
import { API_VERSION, KIND } from '../policy/parse.js';
import type { TokenPolicy } from '../policy/types.js';
import { POLICY_LABEL, type OperatorSettings } from './settings.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

/**
 * A rendered Kubernetes object: plain data, ready for server-side apply. (Type aliases, not interfaces, so they
 * are assignable to `{[k: string]: unknown}` shapes such as a generic apply function's parameter.)
 */
export type RenderedObject<Spec = unknown> = {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
};

export type RenderedConfigMap = {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: ObjectMeta;
  data: Record<string, string>;
};

/** The Kubernetes identity of an accepted TokenPolicy. */
export interface PolicyIdentity {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
}

/** An accepted policy: its validated model and the identity of the resource it came from. */
export interface AcceptedPolicy {
  identity: PolicyIdentity;
  policy: TokenPolicy;
}

/** Annotations on per-policy children: the full policy name (label values are capped at 63) and its generation. */
export const POLICY_NAME_ANNOTATION = 'tokenmeter.dev/policy-name';
export const POLICY_GENERATION_ANNOTATION = 'tokenmeter.dev/policy-generation';

/** First `n` hex digits of the sha256 of `text`. */
export function shortHash(text: string, n = 8): string {
  return createHash('sha256').update(text).digest('hex').slice(0, n);
}

/** `value` when at most `max` characters, else a prefix, `-` and a hash of the whole value (still ends alphanumeric). */
export function fitName(value: string, max: number): string {
  if (value.length <= max) return value;
  const hash = shortHash(value);
  const head = value.slice(0, max - hash.length - 1).replace(/[-.]+$/, '');
  return `${head}-${hash}`;
}

/** The name of a per-policy child: `tokenmeter-<policy>`, fitted to a DNS subdomain (253). */
export function childName(policyName: string): string {
  return fitName(`tokenmeter-${policyName}`, 253);
}

/** A label value naming the policy (≤ 63 characters). */
export function policyLabelValue(policyName: string): string {
  return fitName(policyName, 63);
}

export function ownerReference(id: PolicyIdentity): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: id.name, uid: id.uid, controller: true, blockOwnerDeletion: true };
}

/** Sorted copy of a string map, so serialisations are stable whatever the insertion order was. */
export function sortedRecord(rec: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(rec).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Metadata of a shared object (not owned by one policy). */
export function sharedMeta(name: string, namespace: string, s: OperatorSettings, extra: Record<string, string> = {}): ObjectMeta {
  return { name, namespace, labels: sortedRecord({ ...s.labels, ...extra }) };
}

/** Metadata of a child of one policy, in the policy's namespace, owned by it. */
export function policyMeta(id: PolicyIdentity, s: OperatorSettings): ObjectMeta {
  return {
    name: childName(id.name),
    namespace: id.namespace,
    labels: sortedRecord({ ...s.labels, [POLICY_LABEL]: policyLabelValue(id.name) }),
    annotations: { [POLICY_NAME_ANNOTATION]: id.name, [POLICY_GENERATION_ANNOTATION]: String(id.generation) },
    ownerReferences: [ownerReference(id)],
  };
}

/** Orders policies by namespace, then name (the order every multi-policy output uses). */
export function byNamespaceName(a: { namespace?: string; name: string }, b: { namespace?: string; name: string }): number {
  const ka = [a.namespace ?? '', a.name];
  const kb = [b.namespace ?? '', b.name];
  for (let i = 0; i < 2; i++) {
    if ((ka[i] as string) < (kb[i] as string)) return -1;
    if ((ka[i] as string) > (kb[i] as string)) return 1;
  }
  return 0;
}
