import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePolicies } from '../policy/parse.js';
import type { TokenPolicy } from '../policy/types.js';
import { policiesToYaml, policyDocument, policyToYaml } from './policy-yaml.js';

function load(path: URL): TokenPolicy[] {
  const { policies, errors } = parsePolicies(readFileSync(path, 'utf8'));
  expect(errors).toEqual([]);
  return policies;
}

const FIXTURES: [string, URL][] = [
  ['render fixtures', new URL('./testdata/policies.yaml', import.meta.url)],
  ['design document example', new URL('../policy/testdata/team-budgets.yaml', import.meta.url)],
  ['shipped example', new URL('../../examples/policies/default.yaml', import.meta.url)],
  ['tiers and overrides sample', new URL('../../test/fixtures/tokenpolicies/good/tiers-and-overrides.yaml', import.meta.url)],
  ['APIKey overrides sample', new URL('../../test/fixtures/tokenpolicies/good/apikey-overrides-clamp.yaml', import.meta.url)],
];

describe('policyToYaml: the inverse of parsePolicies', () => {
  it.each(FIXTURES)('round-trips the %s', (_name, url) => {
    const policies = load(url);
    expect(policies.length).toBeGreaterThan(0);
    const back = parsePolicies(policiesToYaml(policies));
    expect(back.errors).toEqual([]);
    expect(back.policies).toEqual(policies);
  });

  it('writes tiers and overrides compactly: a changed budget as name and budget, an added limit whole', () => {
    const [p] = load(FIXTURES[3]?.[1] as URL);
    const spec = policyDocument(p as TokenPolicy).spec;
    expect(spec.tiers?.plans.map((t) => t.limits)).toEqual([
      [{ name: 'daily', tokens: 100000 }],
      [],
      [{ name: 'daily', tokens: 20000000 }, { name: 'monthly-spend', costUSD: 2000, window: 'Month', perModel: false }],
    ]);
    expect(spec.overrides).toEqual([
      { subject: 'acme', name: 'acme-premium', limits: [{ name: 'daily', tokens: 5000000 }] },
      { subject: 'globex', limits: [{ name: 'burst', tokens: 5000, window: '10s', count: 'Output', perModel: false }] },
      { subject: 'eval-job', exempt: true },
    ]);
    expect(JSON.stringify(spec.overrides?.[0])).toBe('{"subject":"acme","name":"acme-premium","limits":[{"name":"daily","tokens":5000000}]}');
  });

  it('writes every field explicitly, weights only for Weighted limits, all four prices', () => {
    const [p] = load(FIXTURES[1]?.[1] as URL);
    expect(policyDocument(p as TokenPolicy)).toEqual({
      apiVersion: 'tokenmeter.dev/v1alpha1',
      kind: 'TokenPolicy',
      metadata: { name: 'team-budgets', namespace: 'llm-gateway' },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'openai' }],
        hosts: ['api.openai.com', '*.openai.azure.com'],
        match: { paths: ['/v1/chat/completions', '/v1/responses'], models: ['gpt-4o*', 'gpt-5*'] },
        subject: { from: 'Header', name: 'x-tenant-id', onMissing: 'Reject' },
        limits: [
          { name: 'per-minute', tokens: 100000, window: '1m', count: 'Total', perModel: false },
          { name: 'output-weighted-hour', tokens: 2000000, window: '1h', count: 'Weighted', perModel: true,
            weights: { input: 1, cachedInput: 0.1, cacheWrite: 1, output: 4, reasoning: 4 } },
          { name: 'monthly-spend', costUSD: 500, window: 'Month', perModel: false },
        ],
        reservation: { output: 'MaxTokens', defaultMaxTokens: 4096, minOutputTokens: 256 },
        enforcement: { mode: 'Enforce', failureMode: 'Open' },
        pricing: [{ model: 'gpt-4o', input: 2.5, cachedInput: 1.25, cacheWrite: 2.5, output: 10 }],
      },
    });
  });

  it('quotes what YAML would otherwise read as something else', () => {
    const [base] = load(FIXTURES[2]?.[1] as URL);
    const p: TokenPolicy = {
      ...(base as TokenPolicy),
      targets: { refs: [], hosts: ['*', '*.example.com', 'null', 'yes', '1e3', '[::1]'] },
      match: { paths: ['/v1/*', '/a:b', '/{x}', '/&y'], models: ['*', 'gpt-4o*', 'true', '0x10', '~'] },
      pricing: [{ model: '*', input: 0.1, cachedInput: 0, cacheWrite: 1e-7, output: 100000 }],
      subject: { from: 'Header', header: "x-it's`|~^#&*!%", onMissing: 'Shared' },
    };
    const back = parsePolicies(policyToYaml(p));
    expect(back.errors).toEqual([]);
    expect(back.policies).toEqual([p]);
    const claim: TokenPolicy = { ...p, subject: { from: 'JWTClaim', claim: 'organisation.naïve-ünïcode."quoted"\\x', onMissing: 'Reject' } };
    expect(parsePolicies(policyToYaml(claim)).policies).toEqual([claim]);
  });

  it('is byte-identical for equal models and empty for no policies', () => {
    const a = load(FIXTURES[0]?.[1] as URL);
    const b = structuredClone(a);
    expect(policiesToYaml(a)).toBe(policiesToYaml(b));
    expect(policiesToYaml([])).toBe('');
    expect(parsePolicies('').policies).toEqual([]);
  });
});

/** A raw spec within every bound the schema sets (see src/policy/schema.ts). */
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
const window = fc.oneof(fc.constantFrom('Day', 'Week', 'Month'), fc.tuple(fc.integer({ min: 1, max: 366 }), fc.constantFrom('s', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`));
const weight = fc.double({ min: 0, max: 1000, noNaN: true, noDefaultInfinity: true });
const tokenLimit = fc.record({
  tokens: fc.integer({ min: 1, max: 1e15 }),
  count: fc.constantFrom('Input', 'Output', 'Total', 'Weighted'),
  weights: fc.record({ input: weight, cachedInput: weight, cacheWrite: weight, output: weight, reasoning: weight }, { requiredKeys: [] }),
  perModel: fc.boolean(),
}).map(({ weights, ...l }) => (l.count === 'Weighted' ? { ...l, weights } : l));
const costLimit = fc.record({ costUSD: fc.double({ min: 0.0001, max: 1e9, noNaN: true }), perModel: fc.boolean() });
const subject = fc.oneof(
  fc.record({ from: fc.constant('Header'), name: fc.stringMatching(/^[A-Za-z][-A-Za-z0-9]{0,20}$/), onMissing: fc.constantFrom('Reject', 'Shared') }),
  fc.record({ from: fc.constant('ClientIP'), trustedProxyHops: fc.integer({ min: 0, max: 16 }), onMissing: fc.constantFrom('Reject', 'Shared') }),
  fc.record({ from: fc.constant('APIKey'), onMissing: fc.constantFrom('Reject', 'Shared') }),
  fc.record({ from: fc.constant('JWTClaim'), name: fc.stringMatching(/^[a-z_]{1,8}(\.[a-z_]{1,8}){0,2}$/), onMissing: fc.constantFrom('Reject', 'Shared') }),
);
const spec = fc.record({
  targetRefs: fc.array(fc.record({ kind: fc.constantFrom('Gateway', 'HTTPRoute', 'GRPCRoute'), name: label, sectionName: label }, { requiredKeys: ['kind', 'name'] }), { maxLength: 3 }),
  hosts: fc.array(fc.stringMatching(/^[a-z0-9*?.-]{1,20}$/), { maxLength: 3 }),
  match: fc.record({ paths: fc.array(fc.stringMatching(/^\/[a-z0-9/*:._-]{0,20}$/), { maxLength: 3 }), models: fc.array(fc.stringMatching(/^[a-z0-9*?./:-]{1,20}$/), { maxLength: 3 }) }),
  subject,
  limits: fc.uniqueArray(fc.tuple(label, window, fc.oneof(tokenLimit, costLimit)), { minLength: 1, maxLength: 4, selector: ([n]) => n })
    .map((ls) => ls.map(([name, w, l]) => ({ name, window: w, ...l }))),
  reservation: fc.record({
    output: fc.constantFrom('MaxTokens', 'Observed', 'None', 'Clamp'), defaultMaxTokens: fc.integer({ min: 1, max: 1e7 }), minOutputTokens: fc.integer({ min: 1, max: 1e7 }),
  }, { requiredKeys: ['output', 'defaultMaxTokens'] }),
  enforcement: fc.record({ mode: fc.constantFrom('Enforce', 'DryRun'), failureMode: fc.constantFrom('Open', 'Closed') }),
  pricing: fc.uniqueArray(fc.record({ model: fc.stringMatching(/^[a-z0-9.-]{1,12}\*?$/), input: weight, output: weight, cachedInput: weight, cacheWrite: weight }, { requiredKeys: ['model', 'input', 'output'] }), { maxLength: 3, selector: (p) => p.model }),
}, { requiredKeys: ['limits'] });

describe('policyToYaml: property', () => {
  it('parse(render(parse(spec))) equals parse(spec) for any valid spec', () => {
    fc.assert(fc.property(label, fc.option(label, { nil: undefined }), spec, (name, namespace, s) => {
      const doc = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name, ...(namespace ? { namespace } : {}) }, spec: s };
      const first = parsePolicies(JSON.stringify(doc));
      expect(first.errors).toEqual([]);
      const back = parsePolicies(policiesToYaml(first.policies));
      expect(back.errors).toEqual([]);
      expect(back.policies).toEqual(first.policies);
    }), { numRuns: 150 });
  });
});
