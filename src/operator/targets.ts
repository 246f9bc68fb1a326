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

/** The Gateways (`namespace/name`) a route's parentRefs name: their policies' route index includes the route. */
function parentGateways(route: KubeObject): string[] {
  const refs = (route.spec as { parentRefs?: unknown } | undefined)?.parentRefs;
  if (!Array.isArray(refs)) return [];
  return refs.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
    .filter((r) => (r.group ?? GROUP) === GROUP && (r.kind ?? 'Gateway') === 'Gateway')
    .map((r) => `${typeof r.namespace === 'string' ? r.namespace : route.metadata.namespace ?? ''}/${String(r.name)}`);
}

/**
 * `namespace/name` keys of the policies among `policies` with a targetRef naming `target` — and, for a route, of
 * those targeting a Gateway it attaches to (the route index the operator publishes lists the route under them).
 */
export function policiesTargeting(policies: readonly KubeObject[], target: KubeObject): string[] {
  const ns = target.metadata.namespace;
  const gateways = target.kind === 'Gateway' ? [] : parentGateways(target);
  const out: string[] = [];
  for (const p of policies) {
    const direct = p.metadata.namespace === ns &&
      refsOf(p).some((r) => (r.group ?? GROUP) === GROUP && r.kind === target.kind && r.name === target.metadata.name);
    const viaGateway = refsOf(p).some((r) => (r.group ?? GROUP) === GROUP && r.kind === 'Gateway' && gateways.includes(`${p.metadata.namespace ?? ''}/${String(r.name)}`));
    if (direct || viaGateway) out.push(`${p.metadata.namespace ?? ''}/${p.metadata.name}`);
  }
  return out;
}
