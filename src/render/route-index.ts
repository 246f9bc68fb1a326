/**
 * The target → policy mapping the operator publishes for the ext_proc (src/policy/routes.ts reads it): which
 * TokenPolicies each HTTPRoute/GRPCRoute (or one of its rules) is attached to. Pure: the routes are passed in.
 *
 * - A policy targeting a route: that route (with `sectionName`: that rule, by its index).
 * - A policy targeting a Gateway: every route whose parentRefs name that Gateway (kind Gateway, group
 *   gateway.networking.k8s.io, the namespace defaulting to the route's). With `sectionName` (a listener): the routes
 *   attached to that listener, and those attached to the whole Gateway (no sectionName in their parentRef) — a route
 *   name does not say which listener a request came through, so such a route gets the policy on every listener.
 * - Routes the operator cannot see (another namespace than it watches) are not in the index: their traffic gets no
 *   Gateway-level policy.
 */
import { routeKey, type RouteIndex } from '../policy/routes.js';
import type { AcceptedPolicy } from './meta.js';
import type { TargetRef } from '../policy/types.js';

const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** An HTTPRoute or GRPCRoute as the API returns it (only the fields read here). */
export interface RouteObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: unknown;
}

interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
}

function parentRefs(r: RouteObject): ParentRef[] {
  const refs = (r.spec as { parentRefs?: unknown } | undefined)?.parentRefs;
  return Array.isArray(refs) ? refs.filter((p): p is ParentRef => typeof p === 'object' && p !== null && typeof (p as ParentRef).name === 'string') : [];
}

function ruleNames(r: RouteObject): (string | undefined)[] {
  const rules = (r.spec as { rules?: unknown } | undefined)?.rules;
  return Array.isArray(rules) ? rules.map((x) => (typeof (x as { name?: unknown })?.name === 'string' ? (x as { name: string }).name : undefined)) : [];
}

function attachedTo(r: RouteObject, gwNamespace: string, gwName: string, listener: string | undefined): boolean {
  return parentRefs(r).some((p) => (p.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && (p.kind ?? 'Gateway') === 'Gateway' &&
    (p.namespace ?? r.metadata.namespace) === gwNamespace && p.name === gwName &&
    (listener === undefined || p.sectionName === undefined || p.sectionName === listener));
}

/** The index keys one targetRef of a policy in `namespace` covers. */
function targetKeys(ref: TargetRef, namespace: string, routes: readonly RouteObject[]): string[] {
  if (ref.group !== GATEWAY_API_GROUP) return [];
  if (ref.kind === 'Gateway') {
    return routes.filter((r) => attachedTo(r, namespace, ref.name, ref.sectionName)).map((r) => routeKey(r.kind, r.metadata.namespace ?? '', r.metadata.name));
  }
  if (ref.kind !== 'HTTPRoute' && ref.kind !== 'GRPCRoute') return [];
  if (ref.sectionName === undefined) return [routeKey(ref.kind, namespace, ref.name)];
  const route = routes.find((r) => r.kind === ref.kind && r.metadata.namespace === namespace && r.metadata.name === ref.name);
  const rule = route ? ruleNames(route).indexOf(ref.sectionName) : -1;
  return rule >= 0 ? [routeKey(ref.kind, namespace, ref.name, rule)] : [];
}

export function buildRouteIndex(policies: readonly AcceptedPolicy[], routes: readonly RouteObject[]): RouteIndex {
  const index: Record<string, Set<string>> = {};
  const add = (key: string, policy: string): void => {
    (index[key] ??= new Set()).add(policy);
  };
  for (const a of policies) {
    for (const ref of a.policy.targets.refs) {
      for (const k of targetKeys(ref, a.identity.namespace, routes)) add(k, `${a.identity.namespace}/${a.identity.name}`);
    }
  }
  const sorted = Object.keys(index).sort();
  // Istio names a named rule's route after the rule alone. Every route using a name some indexed rule uses is listed,
  // so a name two routes share is seen as ambiguous (and matches nothing) rather than as the indexed one.
  const rulesByName: Record<string, { key: string; indexed: boolean }[]> = {};
  for (const r of routes) {
    const base = routeKey(r.kind, r.metadata.namespace ?? '', r.metadata.name);
    ruleNames(r).forEach((n, i) => {
      const ruleKey = routeKey(r.kind, r.metadata.namespace ?? '', r.metadata.name, i);
      if (n !== undefined) (rulesByName[n] ??= []).push({ key: ruleKey, indexed: index[base] !== undefined || index[ruleKey] !== undefined });
    });
  }
  const named: Record<string, Set<string>> = {};
  for (const [n, rules] of Object.entries(rulesByName)) if (rules.some((r) => r.indexed)) named[n] = new Set(rules.map((r) => r.key));
  return {
    routes: Object.fromEntries(sorted.map((k) => [k, [...(index[k] as Set<string>)].sort()])),
    ruleNames: Object.fromEntries(Object.keys(named).sort().map((k) => [k, [...(named[k] as Set<string>)].sort()])),
  };
}
