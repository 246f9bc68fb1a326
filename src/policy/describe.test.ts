import { describe, expect, it } from 'vitest';
import { describePolicy, describeLimit, dollars, shortNumber, windowWords, type PolicyWithPlans } from './describe.js';
import { overrideBudget } from './override-budget.js';
import { parsePolicies } from './parse.js';
import type { Limit, TokenPolicy } from './types.js';

const [team, keys] = parsePolicies(`apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: team, namespace: llm}
spec:
  match: {paths: [/v1/chat], models: ["gpt-4o*"]}
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: 1000000, window: Day}
  - {name: per-minute, tokens: 20000, window: 1m, count: Input, perModel: true}
  - {name: spend, costUSD: 500, window: Month}
  - {name: weighted, tokens: 2000000, window: 10m, count: Weighted, weights: {input: 1, cachedInput: 0.1, output: 4}}
---
apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: keys}
spec:
  subject: {from: APIKey, onMissing: Shared}
  limits: [{name: hourly, tokens: 5000, window: 1h, count: Output}]
  enforcement: {mode: DryRun}
`).policies as [TokenPolicy, TokenPolicy];

const limit = (name: string): Limit => team.limits.find((l) => l.name === name) as Limit;
const withBudget = (l: Limit, n: number): Limit => (l.kind === 'cost' ? { ...l, costUSD: n } : { ...l, tokens: n });

describe('policies in words', () => {
  it('numbers, money and windows read as people say them', () => {
    expect([shortNumber(950), shortNumber(4566), shortNumber(50_000), shortNumber(1_000_000), shortNumber(1_234_567), shortNumber(2.5e9)]).toEqual(['950', '4,566', '50 k', '1 M', '1.23 M', '2.5 G']);
    expect([dollars(500), dollars(2000), dollars(1.5), dollars(0.0123)]).toEqual(['$500', '$2,000', '$1.50', '$0.012']);
    expect([windowWords('1m'), windowWords('10m'), windowWords('Day'), windowWords('Week'), windowWords('Month'), windowWords('1h')])
      .toEqual(['a minute', 'per 10 minutes', 'a day (UTC)', 'a week (from Monday, UTC)', 'a calendar month (UTC)', 'an hour']);
  });

  it('each limit: amount, what it counts, window, per model', () => {
    expect(team.limits.map((l) => describeLimit(l).words)).toEqual([
      '1 M tokens (input + output) a day (UTC)',
      '20 k input tokens a minute, per model',
      '$500 spend a calendar month (UTC)',
      '2 M weighted tokens (input ×1, cached input ×0.1, output ×4) per 10 minutes',
    ]);
    expect(describeLimit(limit('spend'))).toMatchObject({ unit: 'usd', budget: 500, window: 'Month', per_model: false });
  });

  it('a policy without tiers or overrides: subject, scope, mode; tiers and overrides null', () => {
    const w = describePolicy(team, 'llm/team');
    expect(w).toMatchObject({ policy: 'llm/team', mode: 'Enforce', tiers: null, overrides: null, applies_to: 'paths /v1/chat; models gpt-4o*' });
    expect(w.subject).toBe('per tenant (the x-tenant-id header; requests without one are refused)');
    const k = describePolicy(keys, 'keys');
    expect(k).toMatchObject({ mode: 'DryRun', applies_to: 'every metered request', subject: 'per API key (hashed; never stored; requests without one share one budget)' });
  });

  it('tiers and overrides, when the policy has them: what changes against the default, what is added, who is exempt', () => {
    const plans: PolicyWithPlans = {
      ...team,
      tiers: { selector: { from: 'Header', header: 'x-plan' }, default: 'free', onUnknown: 'Default', plans: [
        { name: 'free', limits: [withBudget(limit('daily'), 100_000)] },
        { name: 'pro', limits: [] },
        { name: 'enterprise', limits: [withBudget(limit('daily'), 20_000_000), withBudget({ ...limit('spend'), name: 'monthly-spend' }, 2000)] },
      ] },
      overrides: [
        { subject: 'acme', name: 'acme-premium', exempt: false, limits: [withBudget(limit('daily'), 5_000_000)] },
        { subject: 'eval-job', exempt: true, limits: [] },
      ],
    };
    const w = describePolicy(plans, 'llm/team');
    expect(w.tiers?.selector).toBe('the x-plan header');
    expect(w.tiers?.plans.map((p) => p.words)).toEqual([
      'free (default): daily 100 k tokens (input + output) a day (UTC), overrides default 1 M',
      "pro: the policy's own limits",
      'enterprise: daily 20 M tokens (input + output) a day (UTC), overrides default 1 M; adds monthly-spend: $2,000 spend a calendar month (UTC)',
    ]);
    expect(w.overrides?.map((o) => o.words)).toEqual([
      'acme (acme-premium): daily 5 M tokens (input + output) a day (UTC), overrides default 1 M',
      'eval-job: exempt (usage counted, never refused)',
    ]);
    expect(w.overrides?.[0]?.limits[0]).toMatchObject({ name: 'daily', budget: 5_000_000, default_budget: 1_000_000 });
    expect(overrideBudget(plans, 'daily', 'acme')).toBe(5_000_000);
    expect(overrideBudget(plans, 'spend', 'acme')).toBeUndefined();
    expect(overrideBudget(team, 'daily', 'acme')).toBeUndefined();
  });
});

describe('policies in words, from the policy model as parsed', () => {
  it('the plans example: tiers (with the default) and overrides (changed, added, exempt) read from the parsed spec', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../../manifests/examples/tokenpolicy-plans.yaml', import.meta.url), 'utf8');
    const { policies, errors } = parsePolicies(text);
    expect(errors).toEqual([]);
    const w = describePolicy(policies[0] as TokenPolicy, 'llm-gateway/plans');
    expect(w.tiers?.selector).toBe('the x-plan header');
    expect(w.tiers?.plans.map((p) => p.words)).toEqual([
      'free (default): daily 200 k tokens (input + output) a day (UTC), overrides default 1 M; per-minute 50 k tokens (input + output) a minute, overrides default 100 k',
      "pro: the policy's own limits",
      'enterprise: daily 20 M tokens (input + output) a day (UTC), overrides default 1 M; per-minute 1 M tokens (input + output) a minute, overrides default 100 k',
    ]);
    expect(w.overrides?.map((o) => o.words)).toEqual([
      'acme (acme-contract): daily 50 M tokens (input + output) a day (UTC), overrides default 1 M',
      'globex: adds burst: 20 k tokens (input + output) per 10 seconds',
      'nightly-eval (eval-job): exempt (usage counted, never refused)',
    ]);
    expect(overrideBudget(policies[0] as TokenPolicy, 'daily', 'acme')).toBe(50_000_000);
  });
});
