import { describe, expect, it } from 'vitest';
import { attachedPolicies, routeIndexFrom, routeKeys, type RouteIndex } from './routes.js';

const index: RouteIndex = {
  routes: {
    'HTTPRoute/team-a/chat': ['team-a/tenants'],
    'HTTPRoute/team-a/chat/rule/1': ['team-a/premium'],
    'GRPCRoute/team-b/chat': ['team-b/grpc'],
  },
  ruleNames: { 'premium-rule': ['HTTPRoute/team-a/chat/rule/1'], shared: ['HTTPRoute/team-a/chat/rule/0', 'HTTPRoute/team-c/x/rule/0'] },
};

describe('route names', () => {
  it('reads Envoy Gateway\'s route names: kind, namespace, name, rule (match and host ignored)', () => {
    expect(routeKeys('httproute/team-a/chat/rule/1/match/0/api_example_com')).toEqual(['HTTPRoute/team-a/chat', 'HTTPRoute/team-a/chat/rule/1']);
    expect(routeKeys('grpcroute/team-b/chat.v1/rule/0/match/2')).toEqual(['GRPCRoute/team-b/chat.v1', 'GRPCRoute/team-b/chat.v1/rule/0']);
    expect(routeKeys('httproute/llm-gateway/openai')).toEqual(['HTTPRoute/llm-gateway/openai']);
  });
  it('reads Istio\'s generated names (namespace.name.rule; the name may contain dots), both kinds', () => {
    expect(routeKeys('team-a.chat.v1.2')).toEqual(['HTTPRoute/team-a/chat.v1', 'HTTPRoute/team-a/chat.v1/rule/2', 'GRPCRoute/team-a/chat.v1', 'GRPCRoute/team-a/chat.v1/rule/2']);
  });
  it('resolves a named rule only when one route uses that name', () => {
    expect(routeKeys('premium-rule', index)).toEqual(['HTTPRoute/team-a/chat', 'HTTPRoute/team-a/chat/rule/1']);
    expect(routeKeys('shared', index)).toEqual([]);
    expect(routeKeys('unknown', index)).toEqual([]);
  });
});

describe('attachedPolicies', () => {
  it('unites the route\'s and the rule\'s policies', () => {
    expect(attachedPolicies(index, 'httproute/team-a/chat/rule/1/match/0')).toEqual(['team-a/tenants', 'team-a/premium']);
    expect(attachedPolicies(index, 'httproute/team-a/chat/rule/0/match/0')).toEqual(['team-a/tenants']);
    expect(attachedPolicies(index, 'team-b.chat.0')).toEqual(['team-b/grpc']);
    expect(attachedPolicies(index, 'premium-rule')).toEqual(['team-a/tenants', 'team-a/premium']);
  });
  it('attaches nothing to a request whose route is unknown', () => {
    for (const name of [undefined, '', 'my-route', 'httproute/team-z/other/rule/0', 'shared']) expect(attachedPolicies(index, name)).toEqual([]);
  });
  it('reads the published index, refusing malformed input', () => {
    expect(routeIndexFrom(JSON.parse(JSON.stringify(index)))).toEqual(index);
    expect(routeIndexFrom({ routes: { a: 'x' } })).toBeUndefined();
    expect(routeIndexFrom({ routes: {} })).toEqual({ routes: {}, ruleNames: {} });
    expect(routeIndexFrom(null)).toBeUndefined();
  });
});
