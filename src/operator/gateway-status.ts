/**
 * Reading Envoy Gateway's verdict on a TokenPolicy's own EnvoyExtensionPolicy and BackendTrafficPolicy: the objects
 * as the cluster holds them (the operator's informer cache on them when it runs one, else a GET), and what the other
 * TokenPolicies target (gateway-verdict.ts decides what is benign).
 */
import type { KubeClient, KubeObject, ObjectRef } from '../k8s/client.js';
import type { KubeObject as RenderedKubeObject } from '../render/index.js';
import { sharedTargets } from '../render/index.js';
import type { AcceptedPolicy } from '../render/meta.js';
import type { GatewayChild, OtherTokenPolicies } from './gateway-verdict.js';

/** A cached copy of a gateway object (the operator's informer on its EnvoyExtensionPolicies/BackendTrafficPolicies). */
export type GatewayObjectCache = (ref: ObjectRef) => KubeObject | undefined;

/** `namespace/Kind/name[/section]`, as sharedTargets keys them. */
export function targetKeysOf(a: AcceptedPolicy): string[] {
  return a.policy.targets.refs.map((r) => `${a.identity.namespace}/${r.kind}/${r.name}${r.sectionName === undefined ? '' : `/${r.sectionName}`}`);
}

export function otherTokenPolicies(accepted: readonly AcceptedPolicy[]): OtherTokenPolicies {
  const routes = new Set<string>();
  const listeners = new Set<string>();
  for (const a of accepted) {
    for (const r of a.policy.targets.refs) {
      if (r.kind === 'HTTPRoute' || r.kind === 'GRPCRoute') routes.add(`${a.identity.namespace}/${r.name}`);
      if (r.kind === 'Gateway' && r.sectionName !== undefined) listeners.add(`${a.identity.namespace}/${r.name}/${r.sectionName}`);
    }
  }
  return { sharedTargets: new Set(sharedTargets(accepted).keys()), routes, listeners };
}

/** The rendered gateway objects as the cluster holds them now. */
export async function readGatewayChildren(client: KubeClient, own: readonly RenderedKubeObject[], cached?: GatewayObjectCache): Promise<GatewayChild[]> {
  return Promise.all(own.map(async (o) => {
    const ref: ObjectRef = { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace ?? '' };
    const object = cached ? cached(ref) : await client.get(ref);
    return { kind: o.kind, namespace: ref.namespace ?? '', name: ref.name, ...(object ? { object } : {}) };
  }));
}
