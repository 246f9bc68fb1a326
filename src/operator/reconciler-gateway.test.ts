/**
 * Programmed reflects Envoy Gateway's own verdict on the policy's EnvoyExtensionPolicy / BackendTrafficPolicy
 * (status.ancestors), written here as Envoy Gateway's translator writes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkCallsAllowed, eep, setup } from '../../test/helpers/reconciler-harness.js';
import { ACCEPTED, egStatus, type EgCondition } from '../../test/helpers/fake-envoy-gateway.js';
import type { KubeObject } from '../k8s/client.js';
import type { FakeKube } from '../../test/helpers/fake-kube.js';

afterEach(checkCallsAllowed);

const ROUTE_SPEC = { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'chat' }], limits: [{ name: 'l', tokens: 5, window: '1m' }] };

/** Envoy Gateway's own configuration, as its Helm chart installs it. */
function egConfig(kube: FakeKube, yaml: string): void {
  kube.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'envoy-gateway-config', namespace: 'envoy-gateway-system' }, data: { 'envoy-gateway.yaml': `apiVersion: config.gateway.envoyproxy.io/v1alpha1\nkind: EnvoyGateway\n${yaml}` } });
}

function withEg(conditions: EgCondition[]): (obj: KubeObject) => unknown {
  return (obj) => (obj.kind === 'EnvoyExtensionPolicy' || obj.kind === 'BackendTrafficPolicy' ? egStatus(obj, conditions) : undefined);
}

describe('Programmed follows Envoy Gateway\'s verdict', () => {
  it('waits (Unknown, GatewayPending) until Envoy Gateway reports on the current generation, then Ready', async () => {
    const t = setup();
    t.kube.onApplied = () => undefined;
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'Unknown', reason: 'GatewayPending' });
    expect(t.cond('budgets', 'Programmed')?.message).toContain('Envoy Gateway has not reported on EnvoyExtensionPolicy team-a/tokenmeter-budgets generation 1 yet.');
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NotProgrammed' });
    t.kube.edit(eep('team-a', 'budgets'), (o) => { o.status = egStatus(o); });
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Ready')?.status).toBe('True');
    expect(t.cond('budgets', 'Programmed')?.message).toContain('Envoy Gateway accepted it for every Gateway.');
  });

  it('a target held by a user\'s EnvoyExtensionPolicy (Conflicted): False, with Envoy Gateway\'s words', async () => {
    const t = setup();
    t.kube.onApplied = withEg([{ type: 'Accepted', status: 'False', reason: 'Conflicted', message: 'Unable to target Gateway llm, another EnvoyExtensionPolicy has already attached to it' }]);
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'False', reason: 'GatewayConflicted' });
    expect(t.cond('budgets', 'Programmed')?.message).toContain('Envoy Gateway did not accept EnvoyExtensionPolicy team-a/tokenmeter-budgets for Gateway team-a/llm: Conflicted: Unable to target Gateway llm');
    expect(t.cond('budgets', 'Ready')?.status).toBe('False');
  });

  it('a target shared with another TokenPolicy (its identical EnvoyExtensionPolicy won): Programmed, with a note', async () => {
    const t = setup();
    t.gateway();
    t.policy('first');
    await t.reconciler.reconcile('team-a/first');
    t.kube.onApplied = withEg([{ type: 'Accepted', status: 'False', reason: 'Conflicted', message: 'Unable to target Gateway llm, another EnvoyExtensionPolicy has already attached to it' }]);
    t.policy('second');
    await t.reconciler.reconcile('team-a/second');
    expect(t.cond('second', 'Programmed')?.status).toBe('True');
    expect(t.cond('second', 'Programmed')?.message).toContain('another TokenPolicy\'s identical EnvoyExtensionPolicy');
  });

  it('an invalid reference (dropped silently with failOpen): False, GatewayRejected', async () => {
    const t = setup();
    t.kube.onApplied = withEg([{ type: 'Accepted', status: 'False', reason: 'Invalid', message: 'ExtProc: service tokenmeter-system/tokenmeter not found.' }]);
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'False', reason: 'GatewayRejected' });
  });

  it('overridden on a route by a user\'s route-level EnvoyExtensionPolicy: False, naming the route and the remedy', async () => {
    const t = setup();
    t.kube.onApplied = withEg([ACCEPTED, { type: 'Overridden', status: 'True', reason: 'Overridden', message: 'This policy is being overridden by other envoyExtensionPolicies for these routes: [team-a/chat]' }]);
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    const programmed = t.cond('budgets', 'Programmed');
    expect(programmed).toMatchObject({ status: 'False', reason: 'GatewayOverridden' });
    expect(programmed?.message).toContain('on route team-a/chat');
    expect(programmed?.message).toContain('mergeType: StrategicMerge');
  });

  it('overridden on a route another TokenPolicy targets: Programmed (same wiring), with a note', async () => {
    const t = setup();
    t.kube.put({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'chat', namespace: 'team-a' }, spec: { parentRefs: [{ name: 'llm' }] } });
    t.policy('chat-budget', 'team-a', ROUTE_SPEC);
    await t.reconciler.reconcile('team-a/chat-budget');
    t.kube.onApplied = withEg([ACCEPTED, { type: 'Overridden', status: 'True', reason: 'Overridden', message: 'This policy is being overridden by other envoyExtensionPolicies for these routes: [team-a/chat]' }]);
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Programmed')?.status).toBe('True');
    expect(t.cond('budgets', 'Programmed')?.message).toContain('another TokenPolicy\'s identical EnvoyExtensionPolicy');
  });

  it('a BackendTrafficPolicy refused because the rate-limit service is off: False, RateLimitServiceDisabled', async () => {
    const t = setup({ envoyGateway: { rateLimit: 'BackendTrafficPolicy' } });
    egConfig(t.kube, 'rateLimit:\n  backend: {type: Redis, redis: {url: redis:6379}}\n');
    t.kube.onApplied = (obj) => (obj.kind === 'BackendTrafficPolicy'
      ? egStatus(obj, [{ type: 'Accepted', status: 'False', reason: 'Invalid', message: 'RateLimit: enable Ratelimit in the EnvoyGateway config to configure global rateLimit.' }])
      : obj.kind === 'EnvoyExtensionPolicy' ? egStatus(obj) : undefined);
    t.gateway();
    t.policy('budgets', 'team-a', { ...ROUTE_SPEC, targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'llm' }], subject: { from: 'Header', name: 'x-team' } });
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'False', reason: 'RateLimitServiceDisabled' });
  });
});

describe('rateLimit: BackendTrafficPolicy never takes routes down', () => {
  const BTP = { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'BackendTrafficPolicy', namespace: 'team-a', name: 'tokenmeter-budgets' };
  const SPEC = { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'llm' }], subject: { from: 'Header', name: 'x-team' }, limits: [{ name: 'l', tokens: 5, window: '1m' }] };

  it('renders the BackendTrafficPolicy only while Envoy Gateway\'s configuration enables its rate-limit service', async () => {
    const t = setup({ envoyGateway: { rateLimit: 'BackendTrafficPolicy' } });
    egConfig(t.kube, 'rateLimit:\n  backend: {type: Redis, redis: {url: redis:6379}}\n');
    t.gateway();
    t.policy('budgets', 'team-a', SPEC);
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.kube.peek(BTP)).toBeDefined();
    expect(t.cond('budgets', 'Ready')?.status).toBe('True');

    // Envoy Gateway reconfigured without it (a new operator process: the answer is cached 30 s).
    egConfig(t.kube, 'gateway: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}\n');
    const t2 = setup({ envoyGateway: { rateLimit: 'BackendTrafficPolicy' } }, { kube: t.kube });
    await t2.reconciler.reconcile('team-a/budgets');
    expect(t.kube.peek(BTP), 'the BackendTrafficPolicy is pruned').toBeUndefined();
    expect(t.kube.peek({ apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyExtensionPolicy', namespace: 'team-a', name: 'tokenmeter-budgets' })).toBeDefined();
    const programmed = t2.cond('budgets', 'Programmed');
    expect(programmed).toMatchObject({ status: 'False', reason: 'RateLimitServiceDisabled' });
    expect(programmed?.message).toContain('ConfigMap envoy-gateway-system/envoy-gateway-config: envoy-gateway.yaml has no rateLimit');
    expect(programmed?.message).toContain('config.envoyGateway.rateLimit.backend');
  });

  it('renders none when Envoy Gateway\'s configuration cannot be found', async () => {
    const t = setup({ envoyGateway: { rateLimit: 'BackendTrafficPolicy' } });
    t.gateway();
    t.policy('budgets', 'team-a', SPEC);
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.kube.peek(BTP)).toBeUndefined();
    expect(t.cond('budgets', 'Programmed')?.message).toContain('ConfigMap envoy-gateway-system/envoy-gateway-config not found');
  });
});
