/**
 * Envoy Gateway attachment of one TokenPolicy: an EnvoyExtensionPolicy (gateway.envoyproxy.io/v1alpha1) on the
 * policy's targetRefs wiring the ext_proc Service, and — when the Service lives in another namespace — the
 * ReferenceGrant that namespace needs to accept the reference.
 *
 * Every EnvoyExtensionPolicy rendered here carries the same extProc entry; only targetRefs differ. That matters:
 * Envoy Gateway accepts one EnvoyExtensionPolicy per target (the oldest; a route-level one overrides a Gateway-level
 * one), so when two TokenPolicies target the same route, whichever EnvoyExtensionPolicy wins wires the ext_proc
 * identically, and the ext_proc enforces both policies (its matcher decides which policies apply to a request).
 */
import type { TargetRef } from '../policy/types.js';
import { METADATA_NAMESPACE, REQUEST_ATTRIBUTES } from './ext-proc-filter.js';
import { fitName, policyMeta, sharedMeta, type AcceptedPolicy, type RenderedObject } from './meta.js';
import type { OperatorSettings } from './settings.js';

export const EG_API_VERSION = 'gateway.envoyproxy.io/v1alpha1';
/** ReferenceGrant is v1beta1 in Gateway API's standard channel (the version Envoy Gateway reads). */
export const REFERENCE_GRANT_API_VERSION = 'gateway.networking.k8s.io/v1beta1';
export const FROM_NAMESPACE_LABEL = 'tokenmeter.dev/from-namespace';

export interface PolicyTargetRef {
  group: string;
  kind: string;
  name: string;
  sectionName?: string;
}

export interface BackendRef {
  group: '';
  kind: 'Service';
  name: string;
  namespace?: string;
  port: number;
}

export interface ExtProcSpec {
  backendRefs: BackendRef[];
  messageTimeout: string;
  failOpen: boolean;
  /** The ext_proc cluster's circuit breakers (settings.maxRequests; Envoy Gateway's default is Envoy's 1,024). */
  backendSettings: { circuitBreaker: { maxParallelRequests: number; maxPendingRequests: number } };
  processingMode: {
    allowModeOverride: boolean;
    /** No body: tokenmeter asks for it (mode override) on the requests it meters (src/extproc/body-modes.ts). */
    request: { attributes: string[] };
    response: { body: 'Streamed' };
  };
  metadata: { writableNamespaces: string[] };
}

export interface EnvoyExtensionPolicySpec {
  targetRefs: PolicyTargetRef[];
  /** Set on route-level policies (Envoy Gateway >= 1.9): see routeMergeType. */
  mergeType?: 'StrategicMerge';
  extProc: ExtProcSpec[];
}

export interface ReferenceGrantSpec {
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name: string }[];
}

export type EnvoyExtensionPolicy = RenderedObject<EnvoyExtensionPolicySpec>;
export type ReferenceGrant = RenderedObject<ReferenceGrantSpec>;

/** The policy's targetRefs, as Gateway API LocalPolicyTargetReferenceWithSectionName (policy namespace implied). */
export function targetRefs(refs: readonly TargetRef[]): PolicyTargetRef[] {
  return refs.map((r) => ({ group: r.group, kind: r.kind, name: r.name, ...(r.sectionName === undefined ? {} : { sectionName: r.sectionName }) }));
}

/**
 * `mergeType: StrategicMerge` for a policy whose targets are all routes, when the settings ask for it: Envoy Gateway
 * (>= 1.9) then merges it into the Gateway-level policy of the same kind instead of replacing it ("most specific
 * wins"), so a user's Gateway-level Wasm or Lua filters (or, for a BackendTrafficPolicy, timeouts and retries) stay
 * on the route. Lists are replaced in the merge (internal/utils/merge.go; testdata envoyextensionpolicy_all.*): a
 * user's Gateway-level extProc list does not apply on a route tokenmeter targets. Envoy Gateway rejects mergeType
 * on Gateway targets, so a policy naming a Gateway gets none.
 */
export function routeMergeType(refs: readonly TargetRef[], s: OperatorSettings): { mergeType?: 'StrategicMerge' } {
  const routesOnly = refs.length > 0 && refs.every((r) => r.kind === 'HTTPRoute' || r.kind === 'GRPCRoute');
  return routesOnly && s.envoyGateway.mergeType === 'StrategicMerge' ? { mergeType: 'StrategicMerge' } : {};
}

/** The extProc entry: identical for every policy (see the file comment). */
export function extProcSpec(policyNamespace: string, s: OperatorSettings): ExtProcSpec {
  const svc = s.extProc;
  return {
    backendRefs: [{
      group: '', kind: 'Service', name: svc.name, ...(svc.namespace === policyNamespace ? {} : { namespace: svc.namespace }), port: svc.port,
    }],
    messageTimeout: s.messageTimeout,
    failOpen: s.failOpen,
    backendSettings: { circuitBreaker: { maxParallelRequests: s.maxRequests, maxPendingRequests: s.maxRequests } },
    processingMode: {
      allowModeOverride: true,
      request: { attributes: [...REQUEST_ATTRIBUTES] },
      response: { body: 'Streamed' },
    },
    metadata: { writableNamespaces: [METADATA_NAMESPACE] },
  };
}

/**
 * The EnvoyExtensionPolicy of one policy, in its namespace, owned by it. undefined when the policy has no
 * targetRefs: Envoy Gateway attaches policies only through targetRefs (the caller reports that on the policy).
 */
export function renderEnvoyExtensionPolicy(p: AcceptedPolicy, s: OperatorSettings): EnvoyExtensionPolicy | undefined {
  if (p.policy.targets.refs.length === 0) return undefined;
  return {
    apiVersion: EG_API_VERSION,
    kind: 'EnvoyExtensionPolicy',
    metadata: policyMeta(p.identity, s),
    spec: { targetRefs: targetRefs(p.policy.targets.refs), ...routeMergeType(p.policy.targets.refs, s), extProc: [extProcSpec(p.identity.namespace, s)] },
  };
}

/**
 * The ReferenceGrant letting EnvoyExtensionPolicies of `policyNamespace` reference the ext_proc Service; undefined
 * when the Service is in that namespace. One per policy namespace, shared by its policies (so not owned by any:
 * owner references cannot cross namespaces). The operator deletes it, by the from-namespace label, once no policy
 * is left in that namespace.
 */
export function renderReferenceGrant(policyNamespace: string, s: OperatorSettings): ReferenceGrant | undefined {
  if (policyNamespace === s.extProc.namespace) return undefined;
  return {
    apiVersion: REFERENCE_GRANT_API_VERSION,
    kind: 'ReferenceGrant',
    metadata: sharedMeta(fitName(`tokenmeter-from-${policyNamespace}`, 253), s.extProc.namespace, s, { [FROM_NAMESPACE_LABEL]: policyNamespace }),
    spec: {
      from: [{ group: 'gateway.envoyproxy.io', kind: 'EnvoyExtensionPolicy', namespace: policyNamespace }],
      to: [{ group: '', kind: 'Service', name: s.extProc.name }],
    },
  };
}
