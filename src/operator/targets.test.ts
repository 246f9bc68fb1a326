import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../k8s/client.js';
import { policiesTargeting } from './targets.js';

const policy = (name: string, ns: string, targetRefs: unknown): KubeObject => ({
  apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name, namespace: ns }, spec: { targetRefs },
});
const route = (name: string, ns: string, kind = 'HTTPRoute'): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name, namespace: ns } });

describe('policiesTargeting', () => {
  const policies = [
    policy('a', 'team', [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'llm' }]),
    policy('b', 'team', [{ kind: 'Gateway', name: 'llm' }, { kind: 'HTTPRoute', name: 'llm', sectionName: 'x' }]),
    policy('c', 'other', [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'llm' }]),
    policy('d', 'team', [{ group: 'example.com', kind: 'HTTPRoute', name: 'llm' }]),
    policy('e', 'team', 'not a list'),
    policy('f', 'team', [null, 3, { kind: 'HTTPRoute' }]),
  ];

  it('finds the policies in the target\'s namespace that name its kind and name (group defaulted)', () => {
    expect(policiesTargeting(policies, route('llm', 'team'))).toEqual(['team/a', 'team/b']);
    expect(policiesTargeting(policies, route('llm', 'team', 'Gateway'))).toEqual(['team/b']);
    expect(policiesTargeting(policies, route('llm', 'team', 'GRPCRoute'))).toEqual([]);
    expect(policiesTargeting(policies, route('llm', 'other'))).toEqual(['other/c']);
    expect(policiesTargeting(policies, route('chat', 'team'))).toEqual([]);
  });

  it('also finds the policies targeting a Gateway the route attaches to (its route index entry)', () => {
    const attached: KubeObject = { ...route('chat', 'apps'), spec: { parentRefs: [{ name: 'llm', namespace: 'team' }, { name: 'svc', kind: 'Service', group: '' }] } };
    expect(policiesTargeting(policies, attached)).toEqual(['team/b']);
    const sameNamespace: KubeObject = { ...route('chat', 'team'), spec: { parentRefs: [{ name: 'llm' }] } };
    expect(policiesTargeting(policies, sameNamespace)).toEqual(['team/b']);
  });
});
