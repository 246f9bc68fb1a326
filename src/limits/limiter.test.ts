import { describe, expect, it } from 'vitest';
import { TokenmeterError, ErrorCodes } from '../errors/catalogue.js';
import { compileMatcher } from '../policy/match.js';
import { parsePolicies } from '../policy/parse.js';
import { Limiter, type AdmitInput, type DecisionOutcome } from './limiter.js';
import { createMemoryStore } from './memory-store.js';
import { ObservedOutput } from './observed.js';
import type { CounterStore } from './store.js';

function policies(yaml: string) {
  const { policies: list, errors } = parsePolicies(yaml);
  expect(errors).toEqual([]);
  return compileMatcher(list);
}

const BASE = `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: team}
spec:
  subject: {from: Header, name: x-tenant-id, onMissing: Reject}
  limits:
  - {name: per-minute, tokens: 1000, window: 1m, count: Total}
  reservation: {output: MaxTokens, defaultMaxTokens: 100}
`;

const T0 = Date.UTC(2026, 0, 31, 23, 59, 30);

function setup(yaml = BASE, store: CounterStore = createMemoryStore()) {
  let now = T0;
  const decisions: [string, string, DecisionOutcome][] = [];
  const limiter = new Limiter({
    store, matcher: () => policies(yaml), observed: new ObservedOutput(), reservationTtlMs: 60_000, now: () => now,
    events: { decision: (p, l, _t, o) => decisions.push([p, l, o]) },
  });
  return { limiter, decisions, store, advance: (ms: number) => (now += ms), at: (t: number) => (now = t) };
}

function req(over: Partial<AdmitInput> = {}): AdmitInput {
  return {
    requestId: 'r', provider: 'openai', endpoint: 'openai.chat', host: 'api.openai.com', path: '/v1/chat/completions', method: 'POST',
    headers: { 'x-tenant-id': 'acme' }, model: 'gpt-4o', maxOutputTokens: 100, inputTokens: 200, ...over,
  };
}

const usage = (input: number, output: number) => ({ input, cachedInput: 0, cacheWrite: 0, output, reasoning: 0 });

describe('Limiter', () => {
  it('reserves input + output cap and reports the x-ratelimit headers', async () => {
    const { limiter } = setup();
    const a = await limiter.admit(req());
    expect(a.rejection).toBeUndefined();
    expect(a.headers).toEqual({ 'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '700', 'x-ratelimit-reset-tokens': '30s' });
    expect(a.log).toMatchObject({ decision: 'allowed', policies: ['team'], limits: ['team/per-minute'], reserved: { 'team/per-minute': 300 } });
    expect(a.log.subject).toMatch(/^[0-9a-f]+$/);
  });

  it('settles to the real usage, freeing the unused reservation', async () => {
    const { limiter } = setup();
    const a = await limiter.admit(req());
    expect(await a.settle(usage(200, 20), 'gpt-4o')).toEqual({ 'team/per-minute': 220 });
    const b = await limiter.admit(req());
    expect(b.headers?.['x-ratelimit-remaining-tokens']).toBe(String(1000 - 220 - 300));
  });

  it('rejects with 429 in the provider shape once the budget is spent, until the window resets', async () => {
    const { limiter, advance } = setup();
    for (let i = 0; i < 3; i++) await (await limiter.admit(req())).settle(usage(200, 100), 'gpt-4o');
    const denied = await limiter.admit(req({ provider: 'anthropic' }));
    expect(denied.rejection?.status).toBe(429);
    expect(denied.rejection?.headers['retry-after']).toBe('30');
    expect(JSON.parse(denied.rejection?.body ?? '')).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(denied.log.decision).toBe('limited');
    advance(30_000); // next minute (and next month: T0 is Jan 31 23:59:30)
    expect((await limiter.admit(req())).rejection).toBeUndefined();
  });

  it('keeps tenants apart and rejects a request without a subject when onMissing is Reject', async () => {
    const { limiter } = setup();
    for (let i = 0; i < 3; i++) await limiter.admit(req());
    expect((await limiter.admit(req())).rejection?.status).toBe(429);
    expect((await limiter.admit(req({ headers: { 'x-tenant-id': 'globex' } }))).rejection).toBeUndefined();
    const missing = await limiter.admit(req({ headers: {} }));
    expect(missing.rejection?.status).toBe(400);
    expect(missing.rejection?.body).toContain('x-tenant-id');
    expect(missing.log.decision).toBe('subject-missing');
  });

  it('shares one budget among requests without a subject when onMissing is Shared', async () => {
    const { limiter } = setup(BASE.replace('onMissing: Reject', 'onMissing: Shared'));
    for (let i = 0; i < 3; i++) expect((await limiter.admit(req({ headers: {} }))).rejection).toBeUndefined();
    expect((await limiter.admit(req({ headers: {} }))).rejection?.status).toBe(429);
  });

  it('is all or nothing across limits', async () => {
    const yaml = BASE.replace('  reservation:', '  - {name: per-hour, tokens: 500, window: 1h, count: Input}\n  reservation:');
    const { limiter, store } = setup(yaml);
    expect((await limiter.admit(req())).rejection).toBeUndefined(); // minute 300, hour 200
    expect((await limiter.admit(req())).rejection).toBeUndefined(); // minute 600, hour 400
    const denied = await limiter.admit(req()); // hour would be 600 > 500
    expect(denied.log.limits).toEqual(['team/per-hour']);
    // The minute counter was not charged by the rejected request.
    const allowed = await limiter.admit(req({ inputTokens: 50 }));
    expect(allowed.headers?.['x-ratelimit-remaining-tokens']).toBe('50');
    expect(store.kind).toBe('memory');
  });

  it('DryRun never rejects but reports what it would have rejected', async () => {
    const { limiter, decisions } = setup(BASE.replace('reservation:', 'enforcement: {mode: DryRun}\n  reservation:'));
    for (let i = 0; i < 3; i++) await limiter.admit(req());
    const fourth = await limiter.admit(req());
    expect(fourth.rejection).toBeUndefined();
    expect(fourth.log.decision).toBe('dry-run-limited');
    expect(fourth.log.dry_run_limited).toEqual(['team/per-minute']);
    expect(decisions.at(-1)).toEqual(['team', 'per-minute', 'dry-run-limited']);
    const noSubject = await limiter.admit(req({ headers: {} }));
    expect(noSubject.rejection).toBeUndefined();
  });

  it('fails open or closed when the store cannot answer', async () => {
    const broken: CounterStore = {
      kind: 'memory', close: () => Promise.resolve(), peek: () => Promise.resolve([]), settle: () => Promise.resolve(),
      reserve: () => Promise.reject(new TokenmeterError(ErrorCodes.STORE_UNAVAILABLE, 'down')),
    };
    const open = await setup(BASE, broken).limiter.admit(req());
    expect(open.rejection).toBeUndefined();
    expect(open.log.decision).toBe('store-error');
    const closed = await setup(BASE.replace('reservation:', 'enforcement: {failureMode: Closed}\n  reservation:'), broken).limiter.admit(req());
    expect(closed.rejection?.status).toBe(503);
  });

  it('releases a reservation that is never settled after its TTL', async () => {
    const { limiter, advance } = setup(BASE.replace('window: 1m', 'window: 1h'));
    for (let i = 0; i < 3; i++) await limiter.admit(req());
    expect((await limiter.admit(req())).rejection).toBeDefined();
    advance(61_000);
    expect((await limiter.admit(req())).rejection).toBeUndefined();
  });

  it('keeps per-model counters apart and prices USD limits', async () => {
    const yaml = BASE.replace('{name: per-minute, tokens: 1000, window: 1m, count: Total}', '{name: spend, costUSD: 0.01, window: Day, perModel: true}');
    const { limiter } = setup(yaml);
    const a = await limiter.admit(req({ model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 100 }));
    expect(a.headers?.['x-ratelimit-limit-tokens']).toBe('0.01');
    const charged = await a.settle(usage(1000, 100), 'gpt-4o');
    expect(charged['team/spend']).toBeCloseTo((1000 * 2.5 + 100 * 10) / 1e6, 9);
    expect((await limiter.admit(req({ model: 'gpt-4o', inputTokens: 3000 }))).rejection?.status).toBe(429);
    expect((await limiter.admit(req({ model: 'gpt-4o-mini', inputTokens: 3000 }))).rejection).toBeUndefined();
  });

  it('lets requests no policy matches through without touching the store', async () => {
    const { limiter } = setup(BASE.replace('spec:', 'spec:\n  match: {models: ["claude*"]}'));
    const a = await limiter.admit(req());
    expect(a.log.decision).toBe('none');
    expect(a.headers).toBeUndefined();
  });
});

describe('attribution and counter usage (the ledger and the per-subject metric)', () => {
  it('charges an allowed request to its policy and subject; a limited one to the limit that rejected it; reports usage', async () => {
    const seen: unknown[] = [];
    const limiter = new Limiter({
      store: createMemoryStore(), matcher: () => policies(BASE), observed: new ObservedOutput(), reservationTtlMs: 60_000, now: () => T0,
      events: { usage: (u) => seen.push(u) },
    });
    const a = await limiter.admit(req());
    expect(a.attribution).toEqual({ policy: 'team', subject: 'acme', pricing: [] });
    expect(seen).toEqual([{ policy: 'team', limit: 'per-minute', subject: 'acme', used: 300, budget: 1000, windowEndMs: Date.UTC(2026, 0, 32, 0, 0) }]);
    const b = await limiter.admit(req({ inputTokens: 900 }));
    expect(b.rejection).toBeDefined();
    expect(b.attribution).toEqual({ policy: 'team', subject: 'acme', limit: 'per-minute', pricing: [] });
    expect(seen.at(-1)).toMatchObject({ used: 300 });
    const c = await limiter.admit(req({ headers: {} }));
    expect(c.attribution).toEqual({ policy: 'team', subject: null, pricing: [] });
  });
});
