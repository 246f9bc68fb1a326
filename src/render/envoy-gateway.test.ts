import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaErrors } from '../../test/helpers/schemas.js';
import { strictSchemaErrors } from '../../test/helpers/strict-schema.js';
import { modelErrors } from '../../test/helpers/upstream-models.js';
import { parsePolicies } from '../policy/parse.js';
import { renderEnvoyExtensionPolicy, renderReferenceGrant, type EnvoyExtensionPolicy } from './envoy-gateway.js';
import type { AcceptedPolicy } from './meta.js';
import { resolveSettings } from './settings.js';

const POLICIES: AcceptedPolicy[] = parsePolicies(readFileSync(new URL('./testdata/policies.yaml', import.meta.url), 'utf8')).policies
  .map((policy, i) => ({ policy, identity: { namespace: policy.namespace ?? 'default', name: policy.name, uid: `uid-${i}`, generation: i + 1 } }));
const S = resolveSettings();

function accepted(name: string): AcceptedPolicy {
  const a = POLICIES.find((p) => p.identity.name === name);
  if (!a) throw new Error(name);
  return a;
}

function eep(name: string, s = S): EnvoyExtensionPolicy {
  const out = renderEnvoyExtensionPolicy(accepted(name), s);
  if (!out) throw new Error(`no EnvoyExtensionPolicy for ${name}`);
  return out;
}

describe('renderEnvoyExtensionPolicy', () => {
  it('renders the design example: targetRefs, cross-namespace backendRef, no request body (asked for per request)/Streamed, io.tokenmeter, owner', () => {
    expect(eep('team-budgets')).toEqual({
      apiVersion: 'gateway.envoyproxy.io/v1alpha1',
      kind: 'EnvoyExtensionPolicy',
      metadata: {
        name: 'tokenmeter-team-budgets',
        namespace: 'llm-gateway',
        labels: { 'app.kubernetes.io/managed-by': 'tokenmeter-operator', 'tokenmeter.dev/policy': 'team-budgets' },
        annotations: { 'tokenmeter.dev/policy-name': 'team-budgets', 'tokenmeter.dev/policy-generation': '1' },
        ownerReferences: [{ apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', name: 'team-budgets', uid: 'uid-0', controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'openai' }],
        mergeType: 'StrategicMerge',
        extProc: [{
          backendRefs: [{ group: '', kind: 'Service', name: 'tokenmeter', namespace: 'tokenmeter-system', port: 50051 }],
          messageTimeout: '2s',
          failOpen: true,
          backendSettings: { circuitBreaker: { maxParallelRequests: 10000, maxPendingRequests: 10000 } },
          processingMode: {
            allowModeOverride: true,
            request: { attributes: ['source.address', 'xds.route_name'] },
            response: { body: 'Streamed' },
          },
          metadata: { writableNamespaces: ['io.tokenmeter'] },
        }],
      },
    });
  });

  it.each(POLICIES.filter((a) => a.policy.targets.refs.length > 0).map((a) => [a.identity.name]))('%s validates against the Envoy Gateway v1.9 CRD (schema, unknown fields, CEL)', (name) => {
    const obj = eep(name);
    expect(schemaErrors(obj)).toEqual([]);
    expect(strictSchemaErrors(obj)).toEqual([]);
  });

  it('merges into the Gateway-level policy (mergeType) only when every target is a route, and not with mergeType None', () => {
    expect(eep('team-budgets').spec.mergeType).toBe('StrategicMerge');
    expect(eep('per-ip').spec.mergeType).toBeUndefined(); // names a Gateway: Envoy Gateway rejects mergeType there
    const a = POLICIES.find((p) => p.identity.name === 'team-budgets');
    expect(a && renderEnvoyExtensionPolicy(a, resolveSettings({ envoyGateway: { mergeType: 'None' } }))?.spec.mergeType).toBeUndefined();
  });

  it('keeps sectionName and Gateway/GRPCRoute kinds, and omits the backend namespace when the Service is local', () => {
    const obj = eep('per-ip');
    expect(obj.spec.targetRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'llm', sectionName: 'https' },
      { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', name: 'vertex' },
    ]);
    expect(obj.spec.extProc[0]?.backendRefs).toEqual([{ group: '', kind: 'Service', name: 'tokenmeter', port: 50051 }]);
  });

  it('sends source.address for ClientIP subjects and xds.route_name for route scoping — and for every policy, so the wiring never depends on which EnvoyExtensionPolicy Envoy Gateway accepts', () => {
    expect(eep('per-ip').spec.extProc[0]?.processingMode.request.attributes).toEqual(['source.address', 'xds.route_name']);
    const inLlmGateway = POLICIES.filter((a) => a.identity.namespace === 'llm-gateway').map((a) => eep(a.identity.name).spec.extProc);
    expect(inLlmGateway).toHaveLength(2);
    expect(inLlmGateway[0]).toEqual(inLlmGateway[1]);
  });

  it('takes messageTimeout, failOpen, the circuit breakers and the Service from the settings', () => {
    const s = resolveSettings({ messageTimeout: '1s', failOpen: false, maxRequests: 4096, extProc: { name: 'meter', namespace: 'llm-gateway', port: 9002 } });
    const obj = eep('team-budgets', s);
    expect(obj.spec.extProc[0]).toMatchObject({
      messageTimeout: '1s', failOpen: false, backendRefs: [{ group: '', kind: 'Service', name: 'meter', port: 9002 }],
      backendSettings: { circuitBreaker: { maxParallelRequests: 4096, maxPendingRequests: 4096 } },
    });
    expect(schemaErrors(obj)).toEqual([]);
    expect(strictSchemaErrors(obj)).toEqual([]);
  });

  it('renders nothing for a policy without targetRefs (Envoy Gateway attaches through targetRefs only)', () => {
    expect(renderEnvoyExtensionPolicy(accepted('hosts-only'), S)).toBeUndefined();
  });

  it('fits long policy names: object name ≤ 253, label value ≤ 63, full name in an annotation', () => {
    const long = 'a'.repeat(120) + '.b'.repeat(60) + 'c';
    const base = accepted('team-budgets');
    const obj = renderEnvoyExtensionPolicy({ ...base, identity: { ...base.identity, name: long } }, S);
    expect(obj?.metadata.name.length).toBeLessThanOrEqual(253);
    expect(obj?.metadata.labels['tokenmeter.dev/policy']?.length).toBeLessThanOrEqual(63);
    expect(obj?.metadata.annotations?.['tokenmeter.dev/policy-name']).toBe(long);
    expect(obj?.metadata.ownerReferences?.[0]?.name).toBe(long);
    expect(schemaErrors(obj as EnvoyExtensionPolicy)).toEqual([]);
  });

  it('is deterministic', () => {
    expect(JSON.stringify(eep('team-budgets'))).toBe(JSON.stringify(eep('team-budgets', resolveSettings())));
  });

  it('the strict check catches what ajv lets through (guards the guard)', () => {
    const obj = structuredClone(eep('team-budgets')) as unknown as { spec: { extProc: Record<string, unknown>[] } };
    const ext = obj.spec.extProc[0] as Record<string, unknown>;
    ext.writeableNamespaces = ['io.tokenmeter'];
    ext.processingMode = { request: { body: 'FullDuplexStreamed' } };
    const typed = obj as unknown as EnvoyExtensionPolicy;
    expect(schemaErrors(typed)).toEqual([]);
    expect(strictSchemaErrors(typed)).toEqual([
      '/spec/extProc/0: If FullDuplexStreamed body processing mode is used, FailOpen must be false.',
      '/spec/extProc/0/writeableNamespaces: unknown field',
    ]);
    const untargeted = { ...eep('team-budgets'), spec: { extProc: eep('team-budgets').spec.extProc } };
    expect(strictSchemaErrors(untargeted)).toEqual(['/spec: either targetRef or targetRefs must be used']);
  });
});

describe('renderReferenceGrant', () => {
  // No ReferenceGrant CRD in test/schemas: the exact object, plus the upstream-derived v1beta1 validator of
  // @kubernetes-models/gateway-api (test/helpers/upstream-models.ts; types, required fields, patterns — not unknown keys).
  it('lets EnvoyExtensionPolicies of a foreign namespace reference the ext_proc Service', () => {
    expect(modelErrors(renderReferenceGrant('llm-gateway', S))).toEqual([]);
    expect(renderReferenceGrant('llm-gateway', S)).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: {
        name: 'tokenmeter-from-llm-gateway',
        namespace: 'tokenmeter-system',
        labels: { 'app.kubernetes.io/managed-by': 'tokenmeter-operator', 'tokenmeter.dev/from-namespace': 'llm-gateway' },
      },
      spec: {
        from: [{ group: 'gateway.envoyproxy.io', kind: 'EnvoyExtensionPolicy', namespace: 'llm-gateway' }],
        to: [{ group: '', kind: 'Service', name: 'tokenmeter' }],
      },
    });
  });

  it('is not needed in the Service namespace', () => {
    expect(renderReferenceGrant('tokenmeter-system', S)).toBeUndefined();
  });
});
