/**
 * Envoy Gateway's status on an EnvoyExtensionPolicy or BackendTrafficPolicy, as its translator writes it
 * (internal/gatewayapi/status/policy.go: one ancestor per Gateway, controllerName, conditions with the policy's
 * generation): for the operator tests, which have no Envoy Gateway. Ancestors are the targeted Gateways (a route
 * target counts as its namesake Gateway: enough for the verdict, which reads conditions, not topology).
 */
import type { KubeClient, KubeObject } from '../../src/k8s/client.js';
import { Informer } from '../../src/k8s/informer.js';

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

/** Whether Envoy Gateway already reported on this generation of the object. */
function reported(obj: KubeObject): boolean {
  const ancestors = (obj.status as { ancestors?: { conditions?: { type: string; observedGeneration?: number }[] }[] } | undefined)?.ancestors ?? [];
  return ancestors.some((a) => (a.conditions ?? []).some((c) => c.type === 'Accepted' && c.observedGeneration === obj.metadata.generation));
}

/**
 * A stand-in for Envoy Gateway's status writer against an API server (the operator bench, which has no Envoy
 * Gateway): watches EnvoyExtensionPolicies and BackendTrafficPolicies and accepts each generation it has not reported
 * on yet, through the status subresource, as Envoy Gateway's status updater does. Returns stop().
 */
export function runFakeEnvoyGateway(client: KubeClient): () => Promise<void> {
  const writes = new Set<Promise<unknown>>();
  const accept = (o: KubeObject): void => {
    if (reported(o)) return;
    const w = client.applyStatus({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace ?? '' }, status: egStatus(o) },
      { fieldManager: 'envoy-gateway', force: true }).catch(() => undefined);
    writes.add(w);
    void w.finally(() => writes.delete(w));
  };
  const informers = GATEWAY_KINDS.map((kind) => new Informer({ client, resource: { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind } }));
  for (const i of informers) {
    i.addHandlers({ onAdd: accept, onUpdate: (_old, o) => accept(o) });
    i.start();
  }
  return async () => {
    informers.forEach((i) => i.stop());
    await Promise.all([...writes]);
  };
}
