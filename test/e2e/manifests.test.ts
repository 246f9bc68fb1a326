/**
 * The kind suite's manifests, checked without a cluster: the TokenPolicy against the data plane's parser and the
 * generated CRD schema, the Gateway API and core objects against the upstream schemas in test/schemas, the names
 * that tie them together, the access log format against its parser, and the budget arithmetic of the scenario.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePolicies } from '../../src/policy/parse.js';
import { crdValidator, schemaErrors, type KubeObject as SchemaObject } from '../helpers/schemas.js';
import { KIND_CONFIG, MANIFEST_DIR, NAMES, NS, REPO_ROOT } from './config.js';
import { missingLines, sampleChecks } from './crd-checks.js';
import { manifest, type KubeObject } from './install.js';
import { mockConfigMap, mockFixtures } from './mock-llm/fixtures.js';
import { ACCESS_LOG_MARKER, formatAccessLine, parseAccessLog } from './observe.js';
import { BUDGET_TOKENS, CHAT_PATH, MAX_TOKENS, TENANT_HEADER, budgetPlan } from './scenario.js';

function byKind(objects: KubeObject[], kind: string): KubeObject {
  const o = objects.find((x) => x.kind === kind);
  if (!o) throw new Error(`no ${kind}`);
  return o;
}

/** The value at a dotted path (array indices as numbers): `dig(route, 'spec.rules.0.backendRefs')`. */
function dig(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((cur, k) => (cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined), o);
}

describe('TokenPolicy manifest', () => {
  const text = readFileSync(join(MANIFEST_DIR, 'tokenpolicy.yaml'), 'utf8');
  const doc = byKind(manifest('tokenpolicy.yaml'), 'TokenPolicy');

  it('is valid for the data plane and for the CRD schema', () => {
    const { policies, errors } = parsePolicies(text, 'tokenpolicy.yaml');
    expect(errors).toEqual([]);
    expect(policies).toHaveLength(1);
    const validate = crdValidator(join(REPO_ROOT, 'crds', 'tokenmeter.dev_tokenpolicies.yaml'));
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
  });

  it('is the budget the scenario spends: per tenant header, on the HTTPRoute, MaxTokens reservation', () => {
    expect(doc.metadata).toEqual({ name: NAMES.policy, namespace: NS.app });
    expect(dig(doc, 'spec.targetRefs')).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: NAMES.route }]);
    expect(dig(doc, 'spec.match.paths')).toContain(CHAT_PATH);
    expect(dig(doc, 'spec.subject')).toEqual({ from: 'Header', name: TENANT_HEADER, onMissing: 'Reject' });
    expect(dig(doc, 'spec.limits')).toEqual([{ name: NAMES.limit, tokens: BUDGET_TOKENS, window: 'Month', count: 'Total' }]);
    expect(dig(doc, 'spec.reservation.output')).toBe('MaxTokens');
    expect(dig(doc, 'spec.enforcement.mode')).toBe('Enforce');
  });
});

describe('Gateway manifests', () => {
  const objects = manifest('gateway.yaml');
  const proxy = byKind(objects, 'EnvoyProxy');
  const gatewayClass = byKind(objects, 'GatewayClass');
  const gateway = byKind(objects, 'Gateway');
  const route = byKind(objects, 'HTTPRoute');

  it('Gateway and HTTPRoute are valid against the Gateway API schemas Envoy Gateway bundles', () => {
    expect(schemaErrors(gateway as SchemaObject)).toEqual([]);
    expect(schemaErrors(route as SchemaObject)).toEqual([]);
  });

  it('chain together: GatewayClass → EnvoyProxy, Gateway → class, route → Gateway and the mock Service', () => {
    expect(dig(gatewayClass, 'spec.controllerName')).toBe('gateway.envoyproxy.io/gatewayclass-controller');
    expect(dig(gatewayClass, 'spec.parametersRef')).toEqual({ group: 'gateway.envoyproxy.io', kind: 'EnvoyProxy', name: proxy.metadata.name, namespace: proxy.metadata.namespace });
    expect(proxy.metadata.namespace).toBe(NS.envoyGateway);
    expect(gatewayClass.metadata.name).toBe(NAMES.gatewayClass);
    expect(dig(gateway, 'spec.gatewayClassName')).toBe(NAMES.gatewayClass);
    expect(gateway.metadata).toEqual({ name: NAMES.gateway, namespace: NS.app });
    expect(route.metadata).toEqual({ name: NAMES.route, namespace: NS.app });
    expect(dig(route, 'spec.parentRefs')).toEqual([{ name: NAMES.gateway }]);
    expect(CHAT_PATH.startsWith(String(dig(route, 'spec.rules.0.matches.0.path.value')))).toBe(true);
    expect(dig(route, 'spec.rules.0.backendRefs')).toEqual([{ name: NAMES.mock, port: NAMES.mockPort }]);
  });

  it('logs every request with io.tokenmeter in a format parseAccessLog reads back', () => {
    expect(dig(proxy, 'spec.telemetry.accessLog.settings')).toHaveLength(1);
    expect(dig(proxy, 'spec.telemetry.accessLog.settings.0.sinks')).toEqual([{ type: 'File', file: { path: '/dev/stdout' } }]);
    const format = dig(proxy, 'spec.telemetry.accessLog.settings.0.format') as { type: string; text: string };
    expect(format.type).toBe('Text');
    expect(format.text.startsWith(ACCESS_LOG_MARKER)).toBe(true);
    expect(format.text.endsWith('\n')).toBe(true);
    expect(format.text).toContain('%DYNAMIC_METADATA(io.tokenmeter)%');
    const md = { input_tokens: 70, output_tokens: 46, total_tokens: 116, model: 'gpt-3.5-turbo-0125', provider: 'openai', usage_source: 'provider' };
    const ok = formatAccessLine(format.text, { code: 200, method: 'POST', path: CHAT_PATH, tenant: 'acme', details: 'via_upstream', metadata: md });
    const limited = formatAccessLine(format.text, { code: 429, method: 'POST', path: CHAT_PATH, tenant: undefined, details: 'tokenmeter_rate_limited{ns/p/l}', metadata: undefined });
    const lines = parseAccessLog(`[2026-01-01 envoy] unrelated\n${ok}2026-01-01T00:00:00Z ${limited}`);
    expect(lines.map(({ raw: _raw, ...l }) => l)).toEqual([
      { code: 200, tenant: 'acme', path: CHAT_PATH, details: 'via_upstream', metadata: md },
      { code: 429, tenant: '-', path: CHAT_PATH, details: 'tokenmeter_rate_limited{ns/p/l}', metadata: undefined },
    ]);
    expect(() => formatAccessLine('%UPSTREAM_HOST%', { code: 1, method: '', path: '', tenant: '', details: '', metadata: undefined })).toThrow(/not emulated/);
  });
});

describe('mock LLM manifests', () => {
  const objects = manifest('mock-llm.yaml');
  const deployment = byKind(objects, 'Deployment');
  const service = byKind(objects, 'Service');
  const { configMap } = mockConfigMap(NAMES.mock, NS.app);

  it('Deployment, Service and the generated ConfigMap are valid Kubernetes objects', () => {
    expect(schemaErrors(deployment as SchemaObject)).toEqual([]);
    expect(schemaErrors(service as SchemaObject)).toEqual([]);
    expect(schemaErrors(configMap as unknown as SchemaObject)).toEqual([]);
    expect(byKind(manifest('namespace.yaml'), 'Namespace').metadata.name).toBe(NS.app);
  });

  it('run node:24-alpine on server.mjs from the ConfigMap, behind the Service the route points at', () => {
    const pod = dig(deployment, 'spec.template.spec');
    expect(dig(pod, 'containers.0.image')).toBe('node:24-alpine');
    expect(dig(pod, 'containers.0.command')).toEqual(['node', '/mock/server.mjs']);
    expect(dig(pod, 'containers.0.volumeMounts')).toEqual([{ name: 'mock', mountPath: '/mock', readOnly: true }]);
    expect(dig(pod, 'volumes')).toEqual([{ name: 'mock', configMap: { name: configMap.metadata.name } }]);
    expect(Object.keys(configMap.data)).toContain('server.mjs');
    expect(service.metadata.name).toBe(NAMES.mock);
    expect(dig(service, 'spec.ports.0')).toMatchObject({ name: 'http', port: NAMES.mockPort });
    expect(dig(service, 'spec.selector')).toEqual(dig(deployment, 'spec.selector.matchLabels'));
  });
});

describe('kind cluster config', () => {
  it('is a kind v1alpha4 Cluster', () => {
    const cfg = parse(readFileSync(KIND_CONFIG, 'utf8')) as { kind: string; apiVersion: string; nodes: unknown[] };
    expect(cfg).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4' });
    expect(cfg.nodes.length).toBeGreaterThanOrEqual(1);
  });
});

describe('the budget arithmetic of the scenario', () => {
  it('uses two verbatim recordings with provider usage', () => {
    const fx = mockFixtures();
    expect(fx.chat).toMatchObject({ stream: false, usage: { prompt: 70, completion: 46, total: 116 }, responseModel: 'gpt-3.5-turbo-0125' });
    expect(fx['chat-stream']).toMatchObject({ stream: true, usage: { prompt: 23, completion: 8, total: 31 }, responseModel: 'gpt-4o-mini-2024-07-18' });
  });

  it('admits chat, stream, chat, chat and rejects the 5th, whatever the settle timing', () => {
    expect(budgetPlan()).toEqual({ sequence: ['chat', 'chat-stream', 'chat', 'chat', 'chat'], firstRemaining: BUDGET_TOKENS - 70 - MAX_TOKENS });
  });

  it('refuses a budget where the 429 would depend on whether the previous request was settled', () => {
    // 385: settled first → 383 fits on the 4th request; still reserved → 387 does not.
    expect(() => budgetPlan(385)).toThrow(/depends on settle timing: 429 at request 5 or 4/);
  });
});

describe('TokenPolicy samples the kind suite sends to the real apiserver', () => {
  it('every good sample, and every bad one the apiserver itself refuses with the lines it states', () => {
    const checks = sampleChecks(NS.app);
    expect(checks.filter((c) => c.expected.length === 0).length).toBeGreaterThanOrEqual(5);
    expect(checks.filter((c) => c.expected.length > 0).length).toBeGreaterThanOrEqual(20);
    for (const c of checks) expect(c.object.metadata).toEqual({ name: expect.stringMatching(/^sample-/) as unknown, namespace: NS.app });
    expect(missingLines('* spec.limits: Invalid value: "array": duplicate limit name "a"\n', ['spec.limits: Invalid value: "array": duplicate limit name "a"', 'x'])).toEqual(['x']);
  });
});
