/**
 * The exact RBAC the operator needs, as data: the Helm chart renders its ClusterRole from OPERATOR_RULES, and
 * rbac.test.ts checks that every call the reconciler makes in the tests is allowed by these rules.
 *
 * Why each verb:
 * - tokenpolicies get/list/watch: the informer and the re-read at the start of each reconcile;
 * - tokenpolicies/status patch: status is server-side applied to the status subresource;
 * - tokenpolicies/finalizers update: children carry ownerReferences with blockOwnerDeletion, which the
 *   OwnerReferencesPermissionEnforcement admission plugin (OpenShift, hardened clusters) only allows to whoever may
 *   update the owner's finalizers;
 * - children (configmaps, envoyextensionpolicies, backendtrafficpolicies, referencegrants, envoyfilters,
 *   servicemonitors): get (compare before applying, so an unchanged reconcile writes nothing), create + patch (a
 *   server-side apply that creates needs both), list + delete (pruning objects no longer rendered);
 * - envoyextensionpolicies/backendtrafficpolicies also watch: Envoy Gateway's verdict in their status.ancestors is
 *   read from an informer, and a change requeues the owning policy (src/operator/gateway-verdict.ts);
 * - gateways/httproutes/grpcroutes get/list/watch: resolving targetRefs (get); list/watch for requeueing policies
 *   when a target appears, and for the route index published beside the limits;
 * - configmaps get (cluster-wide, with the children's verbs): Envoy Gateway's own configuration, to see whether its
 *   rate-limit service is enabled before rendering BackendTrafficPolicies (src/operator/rate-limit-service.ts);
 * - discovery.k8s.io endpointslices list: the ready ext_proc replicas, asked which limits version they loaded before
 *   a policy is Programmed (src/k8s/replica-probe.ts);
 * - events.k8s.io events create: Events on condition transitions;
 * - coordination.k8s.io leases get/create/update: leader election (src/k8s/leader.ts).
 * Discovery (is the ServiceMonitor CRD installed?) needs no RBAC: /apis is readable by every authenticated user.
 */

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const CHILD_VERBS = ['get', 'list', 'create', 'patch', 'delete'];

export const OPERATOR_RULES: readonly PolicyRule[] = Object.freeze([
  { apiGroups: ['tokenmeter.dev'], resources: ['tokenpolicies'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['tokenmeter.dev'], resources: ['tokenpolicies/status'], verbs: ['patch'] },
  { apiGroups: ['tokenmeter.dev'], resources: ['tokenpolicies/finalizers'], verbs: ['update'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: CHILD_VERBS },
  { apiGroups: ['gateway.envoyproxy.io'], resources: ['envoyextensionpolicies', 'backendtrafficpolicies'], verbs: [...CHILD_VERBS, 'watch'] },
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['referencegrants'], verbs: CHILD_VERBS },
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways', 'httproutes', 'grpcroutes'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['networking.istio.io'], resources: ['envoyfilters'], verbs: CHILD_VERBS },
  { apiGroups: ['monitoring.coreos.com'], resources: ['servicemonitors'], verbs: CHILD_VERBS },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
].map((r) => Object.freeze(r)));

/**
 * What each ext_proc replica needs with `--policies-configmap`: read and watch the limits ConfigMap, in its
 * namespace only (a Role, not a ClusterRole). Nothing else: the operator is the only writer.
 */
export const EXTPROC_RULES: readonly PolicyRule[] = Object.freeze([
  Object.freeze({ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }),
]);

/** kind → plural resource name, for the kinds the operator touches. */
const PLURALS: Readonly<Record<string, string>> = {
  TokenPolicy: 'tokenpolicies', ConfigMap: 'configmaps', EnvoyExtensionPolicy: 'envoyextensionpolicies',
  BackendTrafficPolicy: 'backendtrafficpolicies', ReferenceGrant: 'referencegrants', EnvoyFilter: 'envoyfilters',
  ServiceMonitor: 'servicemonitors', Gateway: 'gateways', HTTPRoute: 'httproutes', GRPCRoute: 'grpcroutes',
  Event: 'events', Lease: 'leases', EndpointSlice: 'endpointslices',
};

/** The API group and resource of a kind (`{group: '', resource: 'configmaps'}`); undefined for an unknown kind. */
export function resourceOf(apiVersion: string, kind: string): { group: string; resource: string } | undefined {
  const resource = PLURALS[kind];
  if (resource === undefined) return undefined;
  return { group: apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '', resource };
}

/** Whether OPERATOR_RULES allow `verb` on `resource` (with `/subresource`) in `group`. */
export function allowed(group: string, resource: string, verb: string): boolean {
  return OPERATOR_RULES.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
}
