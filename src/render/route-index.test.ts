import { describe, expect, it } from 'vitest';
import { buildPolicy } from '../policy/spec.js';
import type { AcceptedPolicy } from './meta.js';
import { buildRouteIndex, type RouteObject } from './route-index.js';

function accepted(namespace: string, name: string, targetRefs: unknown[]): AcceptedPolicy {
  const { policy, errors } = buildPolicy({ name, namespace }, { targetRefs, limits: [{ name: 'l', tokens: 10, window: '1m' }] });
  expect(errors).toEqual([]);
  return { identity: { name, namespace, uid: `uid-${name}`, generation: 1 }, policy: policy as NonNullable<typeof policy> };
}
const ref = (kind: string, name: string, sectionName?: string): Record<string, string> =>
  ({ group: 'gateway.networking.k8s.io', kind, name, ...(sectionName === undefined ? {} : { sectionName }) });
const route = (kind: string, namespace: string, name: string, parentRefs: unknown[], rules: (string | undefined)[] = [undefined]): RouteObject =>
  ({ kind, metadata: { name, namespace }, spec: { parentRefs, rules: rules.map((n) => (n === undefined ? {} : { name: n })) } });

describe('buildRouteIndex', () => {
  const routes = [
    route('HTTPRoute', 'team-a', 'chat', [{ name: 'gw' }], ['basic', 'premium']),
    route('HTTPRoute', 'team-a', 'embed', [{ name: 'gw', sectionName: 'https' }]),
    route('HTTPRoute', 'team-a', 'other-listener', [{ name: 'gw', sectionName: 'http' }]),
    route('HTTPRoute', 'team-c', 'cross', [{ name: 'gw', namespace: 'team-a' }], ['basic']),
    route('GRPCRoute', 'team-a', 'rpc', [{ name: 'other-gw' }]),
    route('HTTPRoute', 'team-a', 'not-a-gateway', [{ name: 'gw', kind: 'Service', group: '' }]),
  ];
  it('maps route, rule, Gateway and listener targets to the routes they cover', () => {
    const index = buildRouteIndex([
      accepted('team-a', 'route-policy', [ref('HTTPRoute', 'chat')]),
      accepted('team-a', 'rule-policy', [ref('HTTPRoute', 'chat', 'premium')]),
      accepted('team-a', 'gateway-policy', [ref('Gateway', 'gw')]),
      accepted('team-a', 'listener-policy', [ref('Gateway', 'gw', 'https')]),
      accepted('team-b', 'elsewhere', [ref('Gateway', 'gw')]),
    ], routes);
    expect(index.routes).toEqual({
      'HTTPRoute/team-a/chat': ['team-a/gateway-policy', 'team-a/listener-policy', 'team-a/route-policy'],
      'HTTPRoute/team-a/chat/rule/1': ['team-a/rule-policy'],
      'HTTPRoute/team-a/embed': ['team-a/gateway-policy', 'team-a/listener-policy'],
      'HTTPRoute/team-a/other-listener': ['team-a/gateway-policy'],
      'HTTPRoute/team-c/cross': ['team-a/gateway-policy', 'team-a/listener-policy'],
    });
    // "basic" is used by two indexed routes: ambiguous for Istio's rule-named routes, so both are listed.
    expect(index.ruleNames).toEqual({
      basic: ['HTTPRoute/team-a/chat/rule/0', 'HTTPRoute/team-c/cross/rule/0'],
      premium: ['HTTPRoute/team-a/chat/rule/1'],
    });
  });
  it('lists nothing for policies without targets or a rule that does not exist', () => {
    expect(buildRouteIndex([accepted('team-a', 'p', []), accepted('team-a', 'q', [ref('HTTPRoute', 'chat', 'nope')])], routes)).toEqual({ routes: {}, ruleNames: {} });
  });
});
