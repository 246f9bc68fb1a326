/**
 * Envoy Gateway's status on an EnvoyExtensionPolicy or BackendTrafficPolicy, as its translator writes it
 * (internal/gatewayapi/status/policy.go: one ancestor per Gateway, controllerName, conditions with the policy's
 * generation): for the operator tests, which have no Envoy Gateway. Ancestors are the targeted Gateways (a route
 * target counts as its namesake Gateway: enough for the verdict, which reads conditions, not topology).
 */
import type { KubeObject } from '../../src/k8s/client.js';

export const EG_CONTROLLER = 'gateway.envoyproxy.io/gatewayclass-controller';
const GATEWAY_KINDS = ['EnvoyExtensionPolicy', 'BackendTrafficPolicy'];

export interface EgCondition { type: string; status: 'True' | 'False'; reason: string; message: string }

export const ACCEPTED: EgCondition = { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Policy has been accepted.' };

/** The status Envoy Gateway would write with these conditions on every ancestor. */
export function egStatus(obj: KubeObject, conditions: EgCondition[] = [ACCEPTED]): unknown {
  const refs = ((obj.spec as { targetRefs?: { name: string; sectionName?: string }[] } | undefined)?.targetRefs ?? []);
  return {
    ancestors: refs.map((r) => ({
      ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: obj.metadata.namespace, name: r.name, ...(r.sectionName ? { sectionName: r.sectionName } : {}) },
      controllerName: EG_CONTROLLER,
      conditions: conditions.map((c) => ({ ...c, observedGeneration: obj.metadata.generation, lastTransitionTime: '2025-01-01T00:00:00Z' })),
    })),
  };
}

/** FakeKube.onApplied: Envoy Gateway accepting every policy of its kinds the moment it is applied. */
export function acceptingEnvoyGateway(obj: KubeObject): unknown {
  return GATEWAY_KINDS.includes(obj.kind) ? egStatus(obj) : undefined;
}
