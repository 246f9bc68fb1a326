import { describe, expect, it } from 'vitest';
import { parsePolicies } from './parse.js';
import { limitsFor, resolveLimits, tierNames } from './resolve.js';
import { hashKey, logIdOf, subjectFor, type SubjectInput } from './subject.js';
import type { Limit, TokenPolicy } from './types.js';

function policy(spec: string): TokenPolicy {
  const { policies, errors } = parsePolicies(`apiVersion: tokenmeter.dev/v1alpha1\nkind: TokenPolicy\nmetadata: {name: p}\nspec:\n${spec}`);
  expect(errors).toEqual([]);
  return policies[0] as TokenPolicy;
}

const PLANS = policy(`
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: 1000, window: Day}
  - {name: per-minute, tokens: 100, window: 1m}
  tiers:
    selector: {from: Header, name: X-Plan}
    default: free
    plans:
    - {name: free, limits: [{name: daily, tokens: 500}]}
    - {name: pro, limits: [{name: daily, tokens: 50000}, {name: burst, tokens: 20, window: 1s, count: Output}]}
  overrides:
  - {subject: acme, name: acme-contract, limits: [{name: per-minute, tokens: 7000}, {name: burst, tokens: 99, window: 1s, count: Output}]}
  - {subject: "Team {A}", limits: [{name: daily, tokens: 3}]}
  - {subject: eval, exempt: true}
`);

/** name → budget of a limit set. */
function budgets(limits: readonly Limit[]): Record<string, number> {
  return Object.fromEntries(limits.map((l) => [l.name, l.kind === 'tokens' ? l.tokens : l.costUSD]));
}

function resolve(p: TokenPolicy, input: SubjectInput) {
  const s = subjectFor(p.subject, input);
  if (s.kind !== 'key') throw new Error('no subject');
  return resolveLimits(p, s, input);
}

const req = (headers: Record<string, string>): SubjectInput => ({ headers, path: '/v1/chat/completions' });

describe('resolveLimits: tiers', () => {
  it('picks the tier named by the selector header, case-insensitively; none → the default tier', () => {
    expect(resolve(PLANS, req({ 'x-tenant-id': 'globex', 'x-plan': 'PRO' }))).toMatchObject({ ok: true, set: { tier: 'pro', exempt: false } });
    const pro = resolve(PLANS, req({ 'x-tenant-id': 'globex', 'x-plan': 'pro' }));
    expect(pro.ok && budgets(pro.set.limits)).toEqual({ daily: 50000, 'per-minute': 100, burst: 20 });
    const none = resolve(PLANS, req({ 'x-tenant-id': 'globex' }));
    expect(none).toMatchObject({ ok: true, set: { tier: 'free' } });
    expect(none.ok && budgets(none.set.limits)).toEqual({ daily: 500, 'per-minute': 100 });
    expect(tierNames(PLANS)).toEqual(['free', 'pro']);
  });

  it('an unknown tier value: the default tier, flagged (onUnknown: Default), or a 400 naming the tiers (Reject)', () => {
    expect(resolve(PLANS, req({ 'x-tenant-id': 'globex', 'x-plan': 'gold' }))).toMatchObject({ ok: true, set: { tier: 'free', tierUnknown: true } });
    const strict = { ...PLANS, tiers: { ...(PLANS.tiers as NonNullable<TokenPolicy['tiers']>), onUnknown: 'Reject' as const } };
    expect(resolve(strict, req({ 'x-tenant-id': 'globex', 'x-plan': 'gold' }))).toEqual({
      ok: false, status: 400, message: 'unknown plan tier "gold" in header x-plan: expected one of free, pro',
    });
    expect(resolve(strict, req({ 'x-tenant-id': 'globex' }))).toMatchObject({ ok: true, set: { tier: 'free' } });
  });

  it('reads the tier from a JWT claim', () => {
    const p = policy(`
  limits: [{name: daily, tokens: 1000, window: Day}]
  tiers:
    selector: {from: JWTClaim, name: org.plan}
    default: free
    plans: [{name: free}, {name: pro, limits: [{name: daily, tokens: 9}]}]
`);
    const token = `e30.${Buffer.from(JSON.stringify({ org: { plan: 'pro' } })).toString('base64url')}.sig`;
    const r = resolve(p, req({ authorization: `Bearer ${token}` }));
    expect(r.ok && [r.set.tier, budgets(r.set.limits)]).toEqual(['pro', { daily: 9 }]);
  });

  it('keeps each limit\'s definition: only budgets differ between tiers, so the counter is the same', () => {
    const free = limitsFor(PLANS, { key: 'x', logId: logIdOf('x'), shared: false }, 'free').limits;
    const pro = limitsFor(PLANS, { key: 'x', logId: logIdOf('x'), shared: false }, 'pro').limits;
    const strip = (l: Limit): unknown => ({ ...l, tokens: 0 });
    expect(free.filter((l) => l.name === 'daily').map(strip)).toEqual(pro.filter((l) => l.name === 'daily').map(strip));
  });
});

describe('resolveLimits: overrides', () => {
  it('applies the subject\'s override on top of its tier: changed budgets by name, added limits', () => {
    const r = resolve(PLANS, req({ 'x-tenant-id': 'acme', 'x-plan': 'pro' }));
    expect(r).toMatchObject({ ok: true, set: { tier: 'pro', override: 'acme-contract', exempt: false } });
    expect(r.ok && budgets(r.set.limits)).toEqual({ daily: 50000, 'per-minute': 7000, burst: 99 });
    const free = resolve(PLANS, req({ 'x-tenant-id': 'acme' }));
    expect(free.ok && budgets(free.set.limits)).toEqual({ daily: 500, 'per-minute': 7000, burst: 99 });
  });

  it('finds subjects the data plane hashes (long or unusual values), and labels unnamed overrides by the log id', () => {
    const r = resolve(PLANS, req({ 'x-tenant-id': 'Team {A}' }));
    const key = hashKey('Team {A}');
    expect(r).toMatchObject({ ok: true, set: { override: logIdOf(key) } });
    expect(r.ok && budgets(r.set.limits)).toEqual({ daily: 3, 'per-minute': 100 });
  });

  it('an exempt subject keeps its limits (to count them) and is flagged exempt; others get none', () => {
    expect(resolve(PLANS, req({ 'x-tenant-id': 'eval' }))).toMatchObject({ ok: true, set: { exempt: true, tier: 'free' } });
    expect(resolve(PLANS, req({ 'x-tenant-id': 'initech' }))).toMatchObject({ ok: true, set: { exempt: false } });
    expect(resolve(PLANS, req({ 'x-tenant-id': 'initech' }))).not.toHaveProperty('set.override');
  });

  it('APIKey subjects: an override names the key by the log id the usage log shows', () => {
    const logId = logIdOf(hashKey('sk-live-abc'));
    const p = policy(`
  subject: {from: APIKey}
  limits: [{name: hourly, tokens: 10, window: 1h}]
  overrides: [{subject: "${logId}", limits: [{name: hourly, tokens: 77}]}]
`);
    const r = resolve(p, req({ authorization: 'Bearer sk-live-abc' }));
    expect(r).toMatchObject({ ok: true, set: { override: logId } });
    expect(r.ok && budgets(r.set.limits)).toEqual({ hourly: 77 });
    const other = resolve(p, req({ authorization: 'Bearer sk-live-other' }));
    expect(other.ok && budgets(other.set.limits)).toEqual({ hourly: 10 });
  });

  it('ClientIP subjects: by the normalised address; shared subjects have no override', () => {
    const p = policy(`
  subject: {from: ClientIP, onMissing: Shared}
  limits: [{name: hourly, tokens: 10, window: 1h}]
  overrides: [{subject: "::ffff:10.0.0.7", exempt: true}]
`);
    expect(resolve(p, { headers: {}, path: '/', sourceAddress: '10.0.0.7:4444' })).toMatchObject({ ok: true, set: { exempt: true } });
    expect(resolve(p, { headers: {}, path: '/' })).toMatchObject({ ok: true, set: { exempt: false } });
  });

  it('memoises the merged set per tier: the same array for the same subject and tier', () => {
    const a = limitsFor(PLANS, { key: 'acme', logId: 'x', shared: false }, 'pro').limits;
    expect(limitsFor(PLANS, { key: 'acme', logId: 'x', shared: false }, 'pro').limits).toBe(a);
  });
});
