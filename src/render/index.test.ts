import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaErrors } from '../../test/helpers/schemas.js';
import { strictSchemaErrors } from '../../test/helpers/strict-schema.js';
import { modelErrors } from '../../test/helpers/upstream-models.js';
import { parsePolicies } from '../policy/parse.js';
import { renderAll, renderOwned, sharedTargets, type KubeObject } from './index.js';
import type { AcceptedPolicy } from './meta.js';
import { resolveSettings, type SettingsInput } from './settings.js';

const POLICIES: AcceptedPolicy[] = parsePolicies(readFileSync(new URL('./testdata/policies.yaml', import.meta.url), 'utf8')).policies
  .map((policy, i) => ({ policy, identity: { namespace: policy.namespace ?? 'default', name: policy.name, uid: `uid-${i}`, generation: 1 } }));

function id(o: KubeObject): string {
  return `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * Every rendered object against its upstream schema. ReferenceGrant has no CRD in test/schemas: it is checked by the
 * upstream-derived validator of @kubernetes-models/gateway-api instead (test/helpers/upstream-models.ts; its exact
 * shape is asserted in envoy-gateway.test.ts).
 */
function expectValid(objects: readonly KubeObject[]): void {
  for (const o of objects) {
    if (o.kind === 'ReferenceGrant') {
      expect({ id: id(o), errors: modelErrors(o) }).toEqual({ id: id(o), errors: [] });
      continue;
    }
    expect({ id: id(o), errors: schemaErrors(o) }).toEqual({ id: id(o), errors: [] });
    if (o.kind !== 'ConfigMap') expect({ id: id(o), errors: strictSchemaErrors(o) }).toEqual({ id: id(o), errors: [] });
  }
}

const FLAVOURS: [string, SettingsInput, string[]][] = [
  ['EnvoyGateway', { flavour: 'EnvoyGateway' }, [
    'EnvoyExtensionPolicy llm-gateway/tokenmeter-api-keys',
    'EnvoyExtensionPolicy llm-gateway/tokenmeter-team-budgets',
    'EnvoyExtensionPolicy team-a/tokenmeter-jwt-org',
    'EnvoyExtensionPolicy team-a/tokenmeter-shared-global',
    'EnvoyExtensionPolicy tokenmeter-system/tokenmeter-per-ip',
    'ReferenceGrant tokenmeter-system/tokenmeter-from-llm-gateway',
    'ReferenceGrant tokenmeter-system/tokenmeter-from-team-a',
    'ConfigMap tokenmeter-system/tokenmeter-policies',
    'ServiceMonitor tokenmeter-system/tokenmeter-extproc',
  ]],
  ['EnvoyGateway with BackendTrafficPolicy', { flavour: 'EnvoyGateway', envoyGateway: { rateLimit: 'BackendTrafficPolicy' } }, [
    'EnvoyExtensionPolicy llm-gateway/tokenmeter-api-keys',
    'EnvoyExtensionPolicy llm-gateway/tokenmeter-team-budgets',
    'BackendTrafficPolicy llm-gateway/tokenmeter-team-budgets',
    'EnvoyExtensionPolicy team-a/tokenmeter-jwt-org',
    'EnvoyExtensionPolicy team-a/tokenmeter-shared-global',
    'BackendTrafficPolicy team-a/tokenmeter-shared-global',
    'EnvoyExtensionPolicy tokenmeter-system/tokenmeter-per-ip',
    'BackendTrafficPolicy tokenmeter-system/tokenmeter-per-ip',
    'ReferenceGrant tokenmeter-system/tokenmeter-from-llm-gateway',
    'ReferenceGrant tokenmeter-system/tokenmeter-from-team-a',
    'ConfigMap tokenmeter-system/tokenmeter-policies',
    'ServiceMonitor tokenmeter-system/tokenmeter-extproc',
  ]],
  ['Istio', { flavour: 'Istio' }, [
    'EnvoyFilter istio-system/tokenmeter-ext-proc', 'ConfigMap tokenmeter-system/tokenmeter-policies', 'ServiceMonitor tokenmeter-system/tokenmeter-extproc',
  ]],
  ['Envoy', { flavour: 'Envoy' }, [
    'ConfigMap tokenmeter-system/tokenmeter-envoy', 'ConfigMap tokenmeter-system/tokenmeter-policies', 'ServiceMonitor tokenmeter-system/tokenmeter-extproc',
  ]],
];

describe('renderAll', () => {
  it.each(FLAVOURS)('%s: the objects, in a stable order, all valid', (_name, input, ids) => {
    const r = renderAll(POLICIES, resolveSettings(input), { serviceMonitor: true });
    expect(r.objects.map(id)).toEqual(ids);
    expectValid(r.objects);
    expect(r.limits.policies).toHaveLength(POLICIES.length);
  });

  it('Envoy Gateway: reports policies it cannot attach, and the limits BackendTrafficPolicies cannot express', () => {
    const plain = renderAll(POLICIES, resolveSettings(), { serviceMonitor: false });
    expect(plain.unattached).toEqual(['team-b/hosts-only']);
    expect(plain.skipped).toEqual([]);
    const btp = renderAll(POLICIES, resolveSettings({ envoyGateway: { rateLimit: 'BackendTrafficPolicy' } }), { serviceMonitor: false });
    expect(btp.skipped.map((s) => `${s.policy}:${s.limit}`)).toEqual([
      'llm-gateway/api-keys:*',
      'llm-gateway/team-budgets:weighted-hour', 'llm-gateway/team-budgets:calendar-week',
      'llm-gateway/team-budgets:five-minutes', 'llm-gateway/team-budgets:monthly-spend',
      'team-a/jwt-org:*',
      'tokenmeter-system/per-ip:per-30d',
    ]);
  });

  it('every policy is in the limits, including those Envoy Gateway cannot attach (hosts still match them)', () => {
    const r = renderAll(POLICIES, resolveSettings(), { serviceMonitor: false });
    const back = parsePolicies(r.limits.configMap.data['policies.yaml'] ?? '');
    expect(back.errors).toEqual([]);
    expect(back.policies.map((p) => `${p.namespace}/${p.name}`)).toEqual(r.limits.policies);
    expect(r.limits.policies).toContain('team-b/hosts-only');
  });

  it('names the limits by the Kubernetes identity', () => {
    const [first] = POLICIES;
    const moved: AcceptedPolicy = { policy: { ...(first as AcceptedPolicy).policy, namespace: undefined }, identity: { namespace: 'elsewhere', name: 'renamed', uid: 'u', generation: 1 } };
    expect(renderAll([moved], resolveSettings(), { serviceMonitor: false }).limits.policies).toEqual(['elsewhere/renamed']);
  });

  it('no policies: Istio/Envoy wiring is left out, the (empty) limits stay', () => {
    for (const flavour of ['Istio', 'Envoy', 'EnvoyGateway'] as const) {
      const r = renderAll([], resolveSettings({ flavour }), { serviceMonitor: false });
      expect(r.objects.map(id)).toEqual(['ConfigMap tokenmeter-system/tokenmeter-policies']);
    }
  });

  it('is deterministic: the same policies in any order give byte-identical output', () => {
    const s = resolveSettings({ envoyGateway: { rateLimit: 'BackendTrafficPolicy' } });
    const a = JSON.stringify(renderAll(POLICIES, s, { serviceMonitor: true }));
    expect(JSON.stringify(renderAll([...POLICIES].reverse(), s, { serviceMonitor: true }))).toBe(a);
    expect(JSON.stringify(renderAll(structuredClone(POLICIES), s, { serviceMonitor: true }))).toBe(a);
  });
});

describe('sharedTargets', () => {
  it('lists targets several policies name (only one BackendTrafficPolicy applies on each)', () => {
    expect(sharedTargets(POLICIES)).toEqual(new Map());
    const [first] = POLICIES;
    const twin: AcceptedPolicy = { ...(first as AcceptedPolicy), identity: { ...(first as AcceptedPolicy).identity, name: 'twin' } };
    expect(sharedTargets([...POLICIES, twin])).toEqual(new Map([['llm-gateway/HTTPRoute/openai', ['llm-gateway/team-budgets', 'llm-gateway/twin']]]));
  });
});

describe('renderOwned', () => {
  it('is exactly the owned part of renderAll for that policy; nothing in the shared-object flavours', () => {
    for (const input of [{}, { envoyGateway: { rateLimit: 'BackendTrafficPolicy' as const } }, { flavour: 'Istio' as const }, { flavour: 'Envoy' as const }]) {
      const s = resolveSettings(input);
      for (const a of POLICIES) {
        const owned = renderAll([a], s, { serviceMonitor: false }).objects.filter((o) => (o.metadata.ownerReferences ?? []).length > 0);
        expect(renderOwned(a, s).map(id)).toEqual(owned.map(id));
      }
    }
    expect(renderOwned(POLICIES[0] as AcceptedPolicy, resolveSettings({})).length).toBeGreaterThan(0);
  });
});
