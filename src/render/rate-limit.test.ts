import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaErrors } from '../../test/helpers/schemas.js';
import { strictSchemaErrors } from '../../test/helpers/strict-schema.js';
import { parsePolicies } from '../policy/parse.js';
import { parseWindow } from '../policy/windows.js';
import type { AcceptedPolicy } from './meta.js';
import { minimalPrefixes, rateLimitUnit, renderBackendTrafficPolicy, type RateLimitRule } from './rate-limit.js';
import { resolveSettings } from './settings.js';

const POLICIES: AcceptedPolicy[] = parsePolicies(readFileSync(new URL('./testdata/policies.yaml', import.meta.url), 'utf8')).policies
  .map((policy, i) => ({ policy, identity: { namespace: policy.namespace ?? 'default', name: policy.name, uid: `uid-${i}`, generation: 1 } }));
const S = resolveSettings({ envoyGateway: { rateLimit: 'BackendTrafficPolicy' } });

function render(name: string): ReturnType<typeof renderBackendTrafficPolicy> {
  const a = POLICIES.find((p) => p.identity.name === name);
  if (!a) throw new Error(name);
  return renderBackendTrafficPolicy(a, S);
}

/** A rule in one line: selector, limit, charged metadata key, flags. */
function summary(r: RateLimitRule): string {
  const sel = r.clientSelectors?.[0];
  const parts = [
    sel?.headers ? `header ${sel.headers.map((h) => `${h.name}:${h.type}`).join(',')}` : '',
    sel?.sourceCIDR ? `cidr ${sel.sourceCIDR.value}:${sel.sourceCIDR.type}` : '',
    sel?.path ? `path ${sel.path.value}` : '',
    `${r.limit.requests}/${r.limit.unit}`,
    `request ${r.cost.request.number} response ${r.cost.response.metadata.namespace}:${r.cost.response.metadata.key}`,
    r.shared ? 'shared' : '',
    r.shadowMode ? 'shadow' : '',
  ];
  return parts.filter((p) => p !== '').join(' ');
}

const CASES: [string, string[], [string, RegExp][]][] = [
  ['team-budgets', [
    'header x-tenant-id:Distinct path /v1/chat/completions 100000/Minute request 0 response io.tokenmeter:total_tokens shared',
    'header x-tenant-id:Distinct path /v1/chat/completions 5000000/Day request 0 response io.tokenmeter:input_tokens shared',
    'header x-tenant-id:Distinct path /v1/chat/completions 9000000/Week request 0 response io.tokenmeter:output_tokens shared',
  ], [
    ['weighted-hour', /^count Weighted/],
    ['calendar-week', /^window Week: .*7 days from the Unix epoch.*use 7d/],
    ['five-minutes', /^window 5m: Envoy Gateway counts one unit/],
    ['monthly-spend', /^costUSD/],
  ]],
  ['per-ip', [
    'cidr 0.0.0.0/0:Distinct 2000/Second request 0 response io.tokenmeter:total_tokens shared shadow',
    'cidr ::/0:Distinct 2000/Second request 0 response io.tokenmeter:total_tokens shared shadow',
  ], [['per-30d', /^tokens 4294967296: above Envoy Gateway's maximum of 4294967295/]]],
  ['shared-global', ['path /v1 4000000000/Year request 0 response io.tokenmeter:total_tokens shared'], []],
  ['api-keys', [], [['*', /^subject APIKey: .*raw credential/]]],
  ['jwt-org', [], [['*', /^match\.models/]]],
  ['hosts-only', [], [['*', /^no targetRefs/]]],
];

describe('renderBackendTrafficPolicy', () => {
  it.each(CASES)('%s: rules and skipped limits', (name, rules, skipped) => {
    const r = render(name);
    expect(r.backendTrafficPolicy?.spec.rateLimit.global.rules.map(summary) ?? []).toEqual(rules);
    expect(r.skipped.map((s) => s.limit)).toEqual(skipped.map(([l]) => l));
    r.skipped.forEach((s, i) => {
      expect(s.policy).toBe(`${POLICIES.find((p) => p.identity.name === name)?.identity.namespace}/${name}`);
      expect(s.reason).toMatch(skipped[i]?.[1] as RegExp);
    });
  });

  it.each(CASES.filter(([, rules]) => rules.length > 0).map(([n]) => [n]))('%s validates against the Envoy Gateway v1.9 CRD (schema, unknown fields, CEL)', (name) => {
    const btp = render(name).backendTrafficPolicy;
    expect(btp).toBeDefined();
    if (!btp) return;
    expect(schemaErrors(btp)).toEqual([]);
    expect(strictSchemaErrors(btp)).toEqual([]);
  });

  it('targets the policy targets, named and owned like the EnvoyExtensionPolicy', () => {
    const btp = render('per-ip').backendTrafficPolicy;
    expect(btp?.apiVersion).toBe('gateway.envoyproxy.io/v1alpha1');
    expect(btp?.kind).toBe('BackendTrafficPolicy');
    expect(btp?.metadata).toMatchObject({ name: 'tokenmeter-per-ip', namespace: 'tokenmeter-system', ownerReferences: [{ kind: 'TokenPolicy', name: 'per-ip', uid: 'uid-1' }] });
    expect(btp?.spec.targetRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'llm', sectionName: 'https' },
      { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', name: 'vertex' },
    ]);
  });

  it('writes the full rule shape Envoy Gateway reads', () => {
    expect(render('team-budgets').backendTrafficPolicy?.spec.rateLimit.global.rules[0]).toEqual({
      clientSelectors: [{ headers: [{ name: 'x-tenant-id', type: 'Distinct' }], path: { type: 'PathPrefix', value: '/v1/chat/completions' } }],
      limit: { requests: 100000, unit: 'Minute' },
      cost: {
        request: { from: 'Number', number: 0 },
        response: { from: 'Metadata', metadata: { namespace: 'io.tokenmeter', key: 'total_tokens' } },
      },
      shared: true,
    });
  });

  it('is deterministic', () => {
    expect(JSON.stringify(render('team-budgets'))).toBe(JSON.stringify(render('team-budgets')));
  });
});

describe('rateLimitUnit', () => {
  it.each([
    ['1s', 'Second'], ['60s', 'Minute'], ['1m', 'Minute'], ['60m', 'Hour'], ['1h', 'Hour'], ['24h', 'Day'], ['1d', 'Day'], ['Day', 'Day'],
    ['7d', 'Week'], ['30d', 'Month'], ['365d', 'Year'],
    ['2s', undefined], ['90s', undefined], ['2h', undefined], ['31d', undefined], ['366d', undefined], ['Week', undefined], ['Month', undefined],
  ] as const)('%s → %s', (text, unit) => {
    const w = parseWindow(text);
    if (!w) throw new Error(text);
    const u = rateLimitUnit(w);
    if (unit === undefined) expect(u).toHaveProperty('reason');
    else expect(u).toEqual({ unit });
  });
});

describe('minimalPrefixes', () => {
  it.each([
    [[], []],
    [['/v1'], ['/v1']],
    [['/v1/chat', '/v1'], ['/v1']],
    [['/v1/', '/v1/chat'], ['/v1/']],
    [['/v1', '/v10'], ['/v1', '/v10']],
    [['/v2', '/v1', '/v1'], ['/v1', '/v2']],
    [['/', '/v1'], ['/']],
  ] as const)('%j → %j', (paths, out) => {
    expect(minimalPrefixes(paths)).toEqual(out);
  });
});
