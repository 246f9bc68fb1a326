import { afterEach, describe, expect, it } from 'vitest';
import { checkCallsAllowed, LIMITS, setup } from '../../test/helpers/reconciler-harness.js';
import { parseDataPlaneDoc } from '../envoy/data-plane.js';

afterEach(checkCallsAllowed);

describe('Reconciler: the route index beside the limits', () => {
  it('publishes which routes each policy is attached to, and a new version when a route attaches', async () => {
    const t = setup({ flavour: 'Istio', messageTimeout: '750ms' });
    t.gateway();
    const httpRoute = (name: string, parent: string) => t.kube.put({
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'team-a' },
      spec: { parentRefs: [{ name: parent }], rules: [{ name: 'all' }] },
    });
    httpRoute('chat', 'llm');
    t.policy('gateway-wide');
    t.policy('chat-only', 'team-a', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'chat' }], limits: [{ name: 'l', tokens: 5, window: '1m' }] });
    await t.reconciler.reconcile('team-a/gateway-wide');
    await t.reconciler.reconcile('team-a/chat-only');
    const data = (): Record<string, string> => t.kube.peek(LIMITS)?.data as Record<string, string>;
    const doc = parseDataPlaneDoc(data()['dataplane.json']);
    expect(doc?.filter).toEqual({ messageTimeoutMs: 750, requestBodyMode: 'NONE', responseBodyMode: 'STREAMED' });
    expect(doc?.routes.routes).toEqual({ 'HTTPRoute/team-a/chat': ['team-a/chat-only', 'team-a/gateway-wide'] });
    const before = data().version;

    httpRoute('embeddings', 'llm');
    await t.reconciler.reconcile('team-a/gateway-wide');
    expect(parseDataPlaneDoc(data()['dataplane.json'])?.routes.routes['HTTPRoute/team-a/embeddings']).toEqual(['team-a/gateway-wide']);
    expect(data().version).not.toBe(before);
    expect(t.kube.peek(LIMITS)?.metadata.annotations?.['tokenmeter.dev/policies-version']).toBe(data().version);
  });

  it('does not list routes when no policy targets a Gateway or a rule', async () => {
    const t = setup();
    t.kube.put({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'chat', namespace: 'team-a' }, spec: {} });
    t.policy('chat-only', 'team-a', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'chat' }], limits: [{ name: 'l', tokens: 5, window: '1m' }] });
    await t.reconciler.reconcile('team-a/chat-only');
    expect(t.kube.calls.filter((c) => c.verb === 'list' && c.kind === 'HTTPRoute')).toEqual([]);
    expect(parseDataPlaneDoc((t.kube.peek(LIMITS)?.data as Record<string, string>)['dataplane.json'])?.routes.routes).toEqual({ 'HTTPRoute/team-a/chat': ['team-a/chat-only'] });
  });
});
