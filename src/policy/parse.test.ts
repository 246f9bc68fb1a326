import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicies, policyErrorsToError } from './parse.js';
import { formatPolicyError } from './types.js';

const HEAD = 'apiVersion: tokenmeter.dev/v1alpha1\nkind: TokenPolicy\n';

/** A policy document named `name` whose spec is `spec` (YAML flow or block, indented by the caller). */
function doc(name: string, spec: string): string {
  return `${HEAD}metadata: {name: ${name}}\nspec:\n${spec}\n`;
}

function messages(text: string): string[] {
  return parsePolicies(text).errors.map(formatPolicyError);
}

const LIMIT = '  limits: [{name: l, tokens: 10, window: 1m}]';

describe('parsePolicies: the design document example', () => {
  it('parses every field, with defaults applied', () => {
    const text = readFileSync(new URL('./testdata/team-budgets.yaml', import.meta.url), 'utf8');
    const { policies, errors } = parsePolicies(text);
    expect(errors).toEqual([]);
    expect(policies).toEqual([{
      name: 'team-budgets',
      namespace: 'llm-gateway',
      targets: { refs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'openai' }], hosts: ['api.openai.com', '*.openai.azure.com'] },
      match: { paths: ['/v1/chat/completions', '/v1/responses'], models: ['gpt-4o*', 'gpt-5*'] },
      subject: { from: 'Header', header: 'x-tenant-id', onMissing: 'Reject' },
      limits: [
        { name: 'per-minute', kind: 'tokens', tokens: 100000, window: { kind: 'fixed', ms: 60000, text: '1m' }, count: 'Total', perModel: false,
          weights: { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 } },
        { name: 'output-weighted-hour', kind: 'tokens', tokens: 2000000, window: { kind: 'fixed', ms: 3600000, text: '1h' }, count: 'Weighted',
          perModel: true, weights: { input: 1, cachedInput: 0.1, cacheWrite: 1, output: 4, reasoning: 4 } },
        { name: 'monthly-spend', kind: 'cost', costUSD: 500, window: { kind: 'calendar', unit: 'Month', text: 'Month' }, perModel: false },
      ],
      reservation: { output: 'MaxTokens', defaultMaxTokens: 4096, minOutputTokens: 256 },
      enforcement: { mode: 'Enforce', failureMode: 'Open' },
      pricing: [{ model: 'gpt-4o', input: 2.5, cachedInput: 1.25, cacheWrite: 2.5, output: 10 }],
    }]);
  });

  it('parses the shipped example policy', () => {
    const text = readFileSync(new URL('../../examples/policies/default.yaml', import.meta.url), 'utf8');
    const { policies, errors } = parsePolicies(text);
    expect(errors).toEqual([]);
    expect(policies.map((p) => [p.name, p.subject, p.limits.map((l) => l.name)])).toEqual([
      ['default', { from: 'Header', header: 'x-tenant-id', onMissing: 'Shared' }, ['per-minute']],
    ]);
  });
});

describe('parsePolicies: documents', () => {
  it('reads multi-document streams and Lists, skipping empty documents', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- ${doc('b', LIMIT).trim().replace(/\n/g, '\n  ')}\n`;
    const { policies, errors } = parsePolicies(`---\n${doc('a', LIMIT)}---\n---\n${list}`);
    expect(errors).toEqual([]);
    expect(policies.map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('keeps valid policies when another in the same file is invalid', () => {
    const { policies, errors } = parsePolicies(`${doc('good', LIMIT)}---\n${doc('bad', '  limits: []')}---\n${doc('good2', LIMIT)}`);
    expect(policies.map((p) => p.name)).toEqual(['good', 'good2']);
    expect(errors.map(formatPolicyError)).toEqual(['bad: spec.limits: must have at least 1 item']);
  });

  it('prefixes the source and namespaces', () => {
    const text = `${HEAD}metadata: {name: x, namespace: team-a}\nspec:\n  limits: [{name: l, tokens: 0, window: 1m}]\n`;
    expect(parsePolicies(text, 'p.yaml').errors.map(formatPolicyError)).toEqual(['p.yaml: team-a/x: spec.limits[0].tokens: must be at least 1, got 0']);
  });

  it.each([
    ['a: [1\n', '#1: invalid YAML: line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['- 1\n', '#1: expected a TokenPolicy mapping, got a list'],
    ['kind: ConfigMap\n', '#1: kind: expected TokenPolicy or List, got "ConfigMap"'],
    ['kind: List\nitems: 3\n', '#1: items: expected a list, got 3'],
    ['kind: TokenPolicy\nmetadata: {name: x}\n', 'x: apiVersion: expected tokenmeter.dev/v1alpha1, got null'],
    [`${HEAD}spec: {}\n`, '#1: metadata: required'],
    [`${HEAD}metadata: {}\n`, '#1: metadata.name: required'],
    [`${HEAD}metadata: {name: Team_A}\nspec: {}\n`, 'Team_A: metadata.name: expected a DNS subdomain name (a-z, 0-9, -, .), got "Team_A"'],
    [`${HEAD}metadata: {name: a, namespace: "x.y"}\n`, 'a: metadata.namespace: expected a DNS label (a-z, 0-9, -), got "x.y"'],
    [`${HEAD}metadata: {name: a}\n`, 'a: spec: required'],
    [`${HEAD}metadata: {name: a}\nspec: {limits: [{name: l, tokens: 1, window: 1m}]}\nspek: 1\n`, 'a: spek: unknown field; known fields: apiVersion, kind, metadata, spec'],
    [`${doc('a', LIMIT)}---\n${doc('a', LIMIT)}`, 'a: metadata.name: duplicate policy: already defined by document #1'],
    ['a: 1\na: 2\n', '#1: invalid YAML: line 2, column 1: Map keys must be unique'],
  ])('reports %j', (text, want) => {
    expect(messages(text)).toEqual([want]);
  });
});

describe('parsePolicies: field errors', () => {
  it.each([
    ['  limits: [{name: l, tokens: 10, window: 1m}, {name: m, tokens: 10, window: 2x}]',
      'p: spec.limits[1].window: expected a duration like 30s, 5m, 1h, 1d or Day|Week|Month, got "2x"'],
    ['  limits: [{name: l, tokens: 10, window: 400d}]', 'p: spec.limits[0].window: must be at most 366d, got "400d"'],
    ['  limits: [{name: l, tokens: 10, window: 1m}, {name: l, tokens: 5, window: 1h}]', 'p: spec.limits[1].name: duplicate limit name "l"'],
    ['  limits: [{name: l, tokens: 10, costUSD: 5, window: 1m}]', 'p: spec.limits[0]: set exactly one of tokens and costUSD, got both'],
    ['  limits: [{name: l, window: 1m}]', 'p: spec.limits[0]: set exactly one of tokens and costUSD, got neither'],
    ['  limits: [{name: l, tokens: 10, window: 1m, weights: {output: 2}}]', 'p: spec.limits[0].weights: only allowed with count: Weighted, got count: Total'],
    ['  limits: [{name: l, costUSD: 10, window: Month, count: Total}]', 'p: spec.limits[0].count: only for token limits: a costUSD limit prices each kind of token'],
    ['  limits: [{name: l, tokens: 1.5, window: 1m}]', 'p: spec.limits[0].tokens: expected an integer, got 1.5'],
    ['  limits: [{name: l, tokens: "100k", window: 1m}]', 'p: spec.limits[0].tokens: expected an integer, got "100k"'],
    ['  limits: [{name: l, costUSD: 0, window: 1m}]', 'p: spec.limits[0].costUSD: must be greater than 0, got 0'],
    ['  limits: [{name: l, costUSD: -3, window: 1m}]', 'p: spec.limits[0].costUSD: must be greater than 0, got -3'],
    ['  limits: [{name: l, tokens: 10, window: 1m, count: Weighted, weights: {output: -1}}]', 'p: spec.limits[0].weights.output: must be at least 0, got -1'],
    ['  limits: [{name: l, tokens: 10, window: 1m, count: total}]', 'p: spec.limits[0].count: expected one of Input, Output, Total, Weighted, got "total"'],
    ['  limits: [{name: Per_Minute, tokens: 10, window: 1m}]', 'p: spec.limits[0].name: expected a DNS label (a-z, 0-9, -), got "Per_Minute"'],
    ['  limits: [{name: l, tokens: 10}]', 'p: spec.limits[0].window: required'],
    ['  limits: [{name: l, tokens: 10, window: 1m, perModel: yes}]', 'p: spec.limits[0].perModel: expected true or false, got "yes"'],
    ['  limits: {name: l}', 'p: spec.limits: expected a list, got a mapping'],
    [`${LIMIT}\n  subject: {from: Heder, name: x}`, 'p: spec.subject.from: expected one of Header, ClientIP, APIKey, JWTClaim, got "Heder"'],
    [`${LIMIT}\n  subject: {from: Header}`, 'p: spec.subject.name: required when from is Header'],
    [`${LIMIT}\n  subject: {from: Header, name: "x tenant"}`, 'p: spec.subject.name: expected an HTTP header name, got "x tenant"'],
    [`${LIMIT}\n  subject: {from: JWTClaim, name: "org..id"}`, 'p: spec.subject.name: expected a claim path like org.id, got "org..id"'],
    [`${LIMIT}\n  subject: {from: APIKey, name: x}`, 'p: spec.subject.name: only for from: Header or JWTClaim, got from: APIKey'],
    [`${LIMIT}\n  subject: {from: Header, name: x, trustedProxyHops: 1}`, 'p: spec.subject.trustedProxyHops: only for from: ClientIP, got from: Header'],
    [`${LIMIT}\n  subject: {from: ClientIP, trustedProxyHops: 17}`, 'p: spec.subject.trustedProxyHops: must be at most 16, got 17'],
    [`${LIMIT}\n  reservation: {output: MaxTokens, defaultMaxTokens: 0}`, 'p: spec.reservation.defaultMaxTokens: must be at least 1, got 0'],
    [`${LIMIT}\n  enforcement: {mode: Dryrun}`, 'p: spec.enforcement.mode: expected one of Enforce, DryRun, got "Dryrun"'],
    [`${LIMIT}\n  match: {paths: [v1/chat]}`, 'p: spec.match.paths[0]: expected a path prefix starting with /, got "v1/chat"'],
    [`${LIMIT}\n  match: {models: "gpt-4o"}`, 'p: spec.match.models: expected a list, got "gpt-4o"'],
    [`${LIMIT}\n  hosts: ["api openai"]`, 'p: spec.hosts[0]: expected a host glob like api.openai.com or *.openai.azure.com, got "api openai"'],
    [`${LIMIT}\n  targetRefs: [{kind: Service, name: x}]`, 'p: spec.targetRefs[0].kind: expected one of Gateway, HTTPRoute, GRPCRoute, got "Service"'],
    [`${LIMIT}\n  pricing: [{model: gpt-4o, input: 1}]`, 'p: spec.pricing[0].output: required'],
    [`${LIMIT}\n  pricing: [{model: "gpt*4", input: 1, output: 2}]`, 'p: spec.pricing[0].model: expected a model name, or a prefix ending in *, got "gpt*4"'],
    [`${LIMIT}\n  pricing: [{model: a, input: 1, output: 2}, {model: A, input: 1, output: 2}]`, 'p: spec.pricing[1].model: duplicate model "a"'],
  ])('%s', (spec, want) => {
    expect(messages(doc('p', spec))).toEqual([want]);
  });

  it('reports an unknown field with a suggestion, and the field it probably meant as missing', () => {
    expect(messages(doc('p', '  limit: []'))).toEqual([
      'p: spec.limit: unknown field (did you mean limits?); known fields: targetRefs, hosts, match, subject, limits, reservation, enforcement, pricing, tiers, overrides',
      'p: spec.limits: required',
    ]);
  });

  it('reports every schema error of a policy at once', () => {
    expect(messages(doc('p', '  limits: [{name: l, tokens: 0, window: 2x}]\n  subject: {from: X}'))).toEqual([
      'p: spec.subject.from: expected one of Header, ClientIP, APIKey, JWTClaim, got "X"',
      'p: spec.limits[0].tokens: must be at least 1, got 0',
      'p: spec.limits[0].window: expected a duration like 30s, 5m, 1h, 1d or Day|Week|Month, got "2x"',
    ]);
  });

  it('shortens long values in messages', () => {
    expect(messages(doc('p', `  limits: [{name: l, tokens: 1, window: "${'x'.repeat(100)}"}]`))).toEqual([
      `p: spec.limits[0].window: expected a duration like 30s, 5m, 1h, 1d or Day|Week|Month, got "${'x'.repeat(57)}..."`,
    ]);
  });
});

describe('parsePolicies: defaults that depend on other fields', () => {
  it('weights: unset ones are 1, cacheWrite follows input, reasoning follows output', () => {
    const { policies } = parsePolicies(doc('p', '  limits: [{name: l, tokens: 9, window: 1m, count: Weighted, weights: {input: 2, output: 3}}]'));
    expect(policies[0]?.limits[0]).toMatchObject({ weights: { input: 2, cachedInput: 1, cacheWrite: 2, output: 3, reasoning: 3 } });
  });

  it('subjects: header names lower-cased, ClientIP hops default 0, onMissing Reject; no subject = shared budget', () => {
    const subject = (s: string): unknown => parsePolicies(doc('p', `${LIMIT}\n  subject: ${s}`)).policies[0]?.subject;
    expect(subject('{from: Header, name: X-Tenant-ID}')).toEqual({ from: 'Header', header: 'x-tenant-id', onMissing: 'Reject' });
    expect(subject('{from: ClientIP}')).toEqual({ from: 'ClientIP', trustedProxyHops: 0, onMissing: 'Reject' });
    expect(subject('{from: JWTClaim, name: org.id, onMissing: Shared}')).toEqual({ from: 'JWTClaim', claim: 'org.id', onMissing: 'Shared' });
    expect(parsePolicies(doc('p', LIMIT)).policies[0]?.subject).toBeUndefined();
  });

  it('pricing: cachedInput defaults to input; cacheWrite to 1.25× input for claude models', () => {
    const { policies } = parsePolicies(doc('p', `${LIMIT}\n  pricing: [{model: claude-x, input: 2, output: 8}, {model: "my-*", input: 1, output: 2, cacheWrite: 0}]`));
    expect(policies[0]?.pricing).toEqual([
      { model: 'claude-x', input: 2, cachedInput: 2, cacheWrite: 2.5, output: 8 },
      { model: 'my-*', input: 1, cachedInput: 1, cacheWrite: 0, output: 2 },
    ]);
  });
});

describe('policyErrorsToError', () => {
  it('lists every problem under one stable code', () => {
    const { errors } = parsePolicies(doc('p', '  limits: [{name: l, tokens: 0, window: 2x}]'), 'f.yaml');
    const err = policyErrorsToError(errors);
    expect(err.code).toBe('TM_POLICY_INVALID');
    expect(err.message).toBe([
      'invalid token policies:',
      '  f.yaml: p: spec.limits[0].tokens: must be at least 1, got 0',
      '  f.yaml: p: spec.limits[0].window: expected a duration like 30s, 5m, 1h, 1d or Day|Week|Month, got "2x"',
    ].join('\n'));
  });
});

describe('parsePolicies: JSON documents (the operator\'s limits ConfigMap)', () => {
  const yamlDoc = 'apiVersion: tokenmeter.dev/v1alpha1\nkind: TokenPolicy\nmetadata: {name: a, namespace: n}\nspec:\n  limits: [{name: m, tokens: 5, window: 1m}]\n';
  const jsonDoc = JSON.stringify({ apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name: 'a', namespace: 'n' }, spec: { limits: [{ name: 'm', tokens: 5, window: '1m' }] } });

  it('gives the same model as the YAML form, for one or several documents', () => {
    const fromYaml = parsePolicies(`---\n${yamlDoc}`);
    expect(parsePolicies(`---\n${jsonDoc}\n`)).toEqual(fromYaml);
    const two = parsePolicies(`---\n${jsonDoc}\n---\n${jsonDoc.replace('"name":"a"', '"name":"b"')}\n`);
    expect(two.policies.map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('reports spec errors with the document label; broken JSON goes through the YAML parser and its message', () => {
    const bad = parsePolicies(`---\n${jsonDoc.replace('"tokens":5', '"tokens":-5')}\n`);
    expect(bad.errors[0]).toMatchObject({ policy: expect.stringContaining('a') as unknown });
    expect(bad.errors).toHaveLength(1);
    const broken = parsePolicies('---\n{"apiVersion": "tokenmeter.dev/v1alpha1", "kind": \n');
    expect(broken.errors[0]?.message).toMatch(/invalid YAML/);
  });
});
