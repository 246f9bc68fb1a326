/**
 * Which TokenPolicies a Gateway API object concerns: the policies in its namespace with a targetRef of its kind and
 * name. The controller watches Gateways, HTTPRoutes and GRPCRoutes and requeues those policies when a target appears,
 * changes or disappears, so a policy waiting with TargetNotFound is accepted at once instead of at its next retry.
 * Pure: reads the raw objects (the spec as the API returned it, valid or not).
 */
import type { KubeObject, ResourceType } from '../k8s/client.js';

/** The Gateway API kinds a targetRef may name (the CRD admits these three). */
export const TARGET_KINDS: readonly ResourceType[] = [
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute' },
];

const GROUP = 'gateway.networking.k8s.io';

function refsOf(policy: KubeObject): { group?: unknown; kind?: unknown; name?: unknown }[] {
  const refs = (policy.spec as { targetRefs?: unknown } | undefined)?.targetRefs;
  return Array.isArray(refs) ? refs.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null) : [];
}

/** `namespace/name` keys of the policies among `policies` with a targetRef naming `target`. */
export function policiesTargeting(policies: readonly KubeObject[], target: KubeObject): string[] {
  const ns = target.metadata.namespace;
  const out: string[] = [];
  for (const p of policies) {
    if (p.metadata.namespace !== ns) continue;
    const hit = refsOf(p).some((r) => (r.group ?? GROUP) === GROUP && r.kind === target.kind && r.name === target.metadata.name);
    if (hit) out.push(`${ns ?? ''}/${p.metadata.name}`);
  }
  return out;
}
