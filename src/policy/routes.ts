/**
 * Which TokenPolicies a request's route is attached to: the target → policy mapping the operator publishes
 * (src/render/route-index.ts builds it) and the lookup the ext_proc does with Envoy's `xds.route_name` attribute.
 *
 * Envoy Gateway and Istio install tokenmeter's filter for a whole gateway (Istio, plain Envoy) or for every route a
 * policy targets (Envoy Gateway), and tell the processor nothing about policies: the route name is the only identity
 * a request carries. Route names, by flavour:
 * - Envoy Gateway: `<kind>/<namespace>/<name>/rule/<i>/match/<j>[/<host>]`, e.g.
 *   `httproute/team-a/chat/rule/0/match/0/api_example_com` (internal/gatewayapi/helpers.go irRouteName; route.go
 *   appends the host; the xDS route is named after the IR route, internal/xds/translator/route.go).
 * - Istio, Gateway API routes: `<namespace>.<name>.<rule index>` (pilot/pkg/config/kube/gateway conversion.go
 *   convertHTTPRoute), or the rule's own name when it has one (recent Istio) — looked up in `ruleNames`.
 * - Plain Envoy: whatever the user names the route; name it in Envoy Gateway's form (`httproute/<ns>/<name>`, an
 *   optional `/rule/<i>`) to attach TokenPolicies to it.
 * Namespaces are DNS labels (no `/` or `.`), so both forms parse unambiguously. Istio's form does not say the kind:
 * an HTTPRoute and a GRPCRoute with the same name in one namespace share their policies under Istio.
 *
 * A request whose route is unknown (no attribute, an unparsable or unpublished name) matches no policy with
 * targetRefs: it is never charged to another route's budget. Policies without targetRefs still apply.
 */

export type RouteKind = 'HTTPRoute' | 'GRPCRoute';

export interface RouteIndex {
  /** `Kind/namespace/name` (every rule) or `Kind/namespace/name/rule/<i>` (one rule) → policy keys (`namespace/name`). */
  routes: Record<string, string[]>;
  /** Istio: a named rule's route is named after the rule. Rule name → `Kind/namespace/name/rule/<i>` keys with policies. */
  ruleNames: Record<string, string[]>;
}

export const EMPTY_ROUTE_INDEX: RouteIndex = Object.freeze({ routes: {}, ruleNames: {} });

const KIND_BY_PREFIX: Readonly<Record<string, RouteKind>> = { httproute: 'HTTPRoute', grpcroute: 'GRPCRoute' };
const ENVOY_GATEWAY = /^(httproute|grpcroute)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([^/]+)(?:\/rule\/(\d+))?(?:\/|$)/;
const ISTIO = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(.+)\.(\d+)$/;

export function routeKey(kind: string, namespace: string, name: string, rule?: number): string {
  return rule === undefined ? `${kind}/${namespace}/${name}` : `${kind}/${namespace}/${name}/rule/${rule}`;
}

/** The index keys a route name stands for (route, then rule); [] when it is not one of the known forms. */
export function routeKeys(routeName: string, index: RouteIndex = EMPTY_ROUTE_INDEX): string[] {
  const eg = ENVOY_GATEWAY.exec(routeName);
  if (eg) {
    const kind = KIND_BY_PREFIX[eg[1] ?? ''] as RouteKind;
    const [ns, name, rule] = [eg[2] ?? '', eg[4] ?? '', eg[5]];
    return [routeKey(kind, ns, name), ...(rule === undefined ? [] : [routeKey(kind, ns, name, Number(rule))])];
  }
  const istio = ISTIO.exec(routeName);
  if (istio) {
    const [ns, name, rule] = [istio[1] ?? '', istio[3] ?? '', Number(istio[4])];
    return (['HTTPRoute', 'GRPCRoute'] as const).flatMap((k) => [routeKey(k, ns, name), routeKey(k, ns, name, rule)]);
  }
  const named = index.ruleNames[routeName];
  if (named?.length !== 1) return []; // unknown, or a rule name several routes use: not this route's to guess
  const ruleKey = named[0] as string;
  return [ruleKey.slice(0, ruleKey.lastIndexOf('/rule/')), ruleKey];
}

/** Keys (`namespace/name`) of the policies attached to the request's route; [] when the route is unknown. */
export function attachedPolicies(index: RouteIndex, routeName: string | undefined): string[] {
  if (!routeName) return [];
  const out = new Set<string>();
  for (const key of routeKeys(routeName, index)) for (const p of index.routes[key] ?? []) out.add(p);
  return [...out];
}

function stringLists(v: unknown): Record<string, string[]> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, string[]> = {};
  for (const [k, list] of Object.entries(v)) {
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) return undefined;
    out[k] = list;
  }
  return out;
}

/** A RouteIndex from untrusted JSON; undefined when malformed. */
export function routeIndexFrom(v: unknown): RouteIndex | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const routes = stringLists((v as { routes?: unknown }).routes);
  const ruleNames = stringLists((v as { ruleNames?: unknown }).ruleNames ?? {});
  return routes && ruleNames ? { routes, ruleNames } : undefined;
}
