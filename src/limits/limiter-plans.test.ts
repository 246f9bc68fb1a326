/**
 * The Limiter with what issue 13 added: requests that can never fit (400, no retry-after, the cap that would fit),
 * 429 only when waiting can help, the Clamp reservation (a lower output cap instead of a refusal), plan tiers and
 * per-subject overrides (exempt included), a tier change mid-window, and Observed estimates per subject.
 */
import { describe, expect, it } from 'vitest';
import { buildUsageRecord } from '../ledger/record.js';
import { compileMatcher } from '../policy/match.js';
import { parsePolicies } from '../policy/parse.js';
import { Limiter, type AdmitInput, type DecisionOutcome } from './limiter.js';
import { createMemoryStore } from './memory-store.js';
import { ObservedOutput } from './observed.js';

const HEAD = 'apiVersion: tokenmeter.dev/v1alpha1\nkind: TokenPolicy\nmetadata: {name: team}\nspec:\n  subject: {from: Header, name: x-tenant-id}\n';
const T0 = Date.UTC(2026, 0, 31, 12, 0, 10);

function setup(spec: string) {
  const { policies, errors } = parsePolicies(HEAD + spec);
  expect(errors).toEqual([]);
  const matcher = compileMatcher(policies);
  const store = createMemoryStore();
  const observed = new ObservedOutput();
  let now = T0;
  const decisions: [string, string, string, DecisionOutcome][] = [];
  const limiter = new Limiter({
    store, matcher: () => matcher, observed, reservationTtlMs: 60_000, now: () => now,
    events: { decision: (p, l, t, o) => decisions.push([p, l, t, o]) },
  });
  return { limiter, store, decisions, observed, advance: (ms: number) => (now += ms) };
}

function req(over: Partial<AdmitInput> = {}): AdmitInput {
  return {
    requestId: 'r', provider: 'openai', endpoint: 'openai.chat', host: 'api.openai.com', path: '/v1/chat/completions', method: 'POST',
    headers: { 'x-tenant-id': 'acme' }, model: 'gpt-4o', inputTokens: 200, ...over,
  };
}

const usage = (input: number, output: number) => ({ input, cachedInput: 0, cacheWrite: 0, output, reasoning: 0 });
const body = (r: { body: string } | undefined): Record<string, Record<string, unknown>> => JSON.parse(r?.body ?? '{}') as Record<string, Record<string, unknown>>;

describe('requests that can never fit', () => {
  const MINUTE = '  limits: [{name: per-minute, tokens: 1000, window: 1m}]\n';

  it('a reservation above the whole budget: 400 without retry-after, naming the limit, the reservation and the cap that fits', async () => {
    const { limiter, decisions } = setup(MINUTE);
    const a = await limiter.admit(req({ model: 'gpt-5' }));
    expect(a.rejection?.status).toBe(400);
    expect(a.rejection?.headers).not.toHaveProperty('retry-after');
    expect(a.rejection?.details).toBe('tokenmeter_never_fits{team/per-minute}');
    expect(body(a.rejection).error).toEqual({
      type: 'invalid_request_error', param: 'max_completion_tokens', code: 'token_budget_exceeded',
      message: 'Request can never fit limit "per-minute" of policy "team": it reserves 128200 tokens (200 input + 128000 output tokens: '
        + 'the model\'s output limit, as the request sets no max_completion_tokens) and the limit\'s whole budget is 1000 tokens per 1m. '
        + 'Set max_completion_tokens to at most 800 (or shorten the input) and send it again.',
    });
    expect(a.log.decision).toBe('never-fits');
    expect(decisions).toEqual([['team', 'per-minute', '', 'never-fits']]);
    // Doing what it says works, even with nothing left to spare.
    expect((await limiter.admit(req({ model: 'gpt-5', maxOutputTokens: 800 }))).rejection).toBeUndefined();
  });

  it('in each provider\'s shape; the input alone too large says so', async () => {
    const { limiter } = setup(MINUTE);
    const claude = await limiter.admit(req({ provider: 'anthropic', endpoint: 'anthropic.messages', model: 'claude-sonnet-4-5', maxOutputTokens: 64000 }));
    expect(body(claude.rejection)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body(claude.rejection).error?.message).toContain('the request\'s max_tokens');
    expect(body(claude.rejection).error?.message).toContain('Set max_tokens to at most 800');
    const gemini = await limiter.admit(req({ provider: 'gemini', endpoint: 'gemini.generate', model: 'gemini-2.5-pro' }));
    expect(body(gemini.rejection)).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    expect(body(gemini.rejection).error?.message).toContain('Set generationConfig.maxOutputTokens to at most 800');
    const huge = await limiter.admit(req({ inputTokens: 5000, maxOutputTokens: 10 }));
    expect(huge.rejection?.status).toBe(400);
    expect(body(huge.rejection).error?.message).toContain('The input alone is more than the budget allows: shorten it');
    expect(body(huge.rejection).error?.param).toBeNull();
  });

  it('a 429 with retry-after only when the request fits the budget but not what is left, saying what it reserves', async () => {
    const { limiter } = setup(MINUTE);
    const first = await limiter.admit(req({ maxOutputTokens: 500 }));
    expect(first.rejection).toBeUndefined();
    // Held by the first request's reservation: it frees when that request settles, so retry in a second.
    const held = await limiter.admit(req({ maxOutputTokens: 500 }));
    expect(held.rejection?.status).toBe(429);
    expect(held.rejection?.headers['retry-after']).toBe('1');
    expect(body(held.rejection).error?.message).toBe('Rate limit reached for tokens on limit "per-minute" of policy "team": limit 1000, remaining 300, '
      + 'most of it reserved by requests in flight; this request reserves 700 tokens (200 input + 500 output tokens: the request\'s max_completion_tokens). '
      + 'Please try again in 1s.');
    // Spent for real: only the window's end helps.
    await first.settle(usage(200, 500), 'gpt-4o');
    const spent = await limiter.admit(req({ maxOutputTokens: 500 }));
    expect(spent.rejection?.headers['retry-after']).toBe('50');
    expect(body(spent.rejection).error?.message).toBe('Rate limit reached for tokens on limit "per-minute" of policy "team": limit 1000, remaining 300; '
      + 'this request reserves 700 tokens (200 input + 500 output tokens: the request\'s max_completion_tokens). Please try again in 50s.');
  });

  it('DryRun: reported as dry-run-limited, never refused', async () => {
    const { limiter } = setup(`${MINUTE}  enforcement: {mode: DryRun}\n`);
    const a = await limiter.admit(req({ model: 'gpt-5' }));
    expect(a.rejection).toBeUndefined();
    expect(a.log).toMatchObject({ decision: 'dry-run-limited', dry_run_limited: ['team/per-minute'] });
  });
});

describe('reservation.output: Clamp', () => {
  const CLAMP = '  limits: [{name: per-minute, tokens: 1000, window: 1m}]\n  reservation: {output: Clamp, minOutputTokens: 100}\n';

  it('lowers the output cap to what the budget still allows, says so in a header, and the budget holds', async () => {
    const { limiter, decisions } = setup(CLAMP);
    const a = await limiter.admit(req({ clampable: true }));
    expect(a.rejection).toBeUndefined();
    expect(a.outputCap).toBe(800);
    expect(a.headers).toMatchObject({ 'x-tokenmeter-output-clamped': '800', 'x-ratelimit-remaining-tokens': '0' });
    expect(a.log).toMatchObject({ output_clamped: 800, reserved: { 'team/per-minute': 1000 } });
    expect(decisions.at(-1)).toEqual(['team', 'per-minute', '', 'clamped']);
    // Nothing left for the floor while it is in flight: 429 (waiting helps).
    expect((await limiter.admit(req({ clampable: true }))).rejection?.status).toBe(429);
    await a.settle(usage(200, 50), 'gpt-4o');
    const b = await limiter.admit(req({ clampable: true, maxOutputTokens: 10_000 }));
    expect(b.outputCap).toBe(1000 - 250 - 200);
    // A request whose own cap fits is not touched.
    await b.settle(usage(200, 0), 'gpt-4o');
    const c = await limiter.admit(req({ clampable: true, maxOutputTokens: 150 }));
    expect([c.rejection, c.outputCap, c.headers?.['x-tokenmeter-output-clamped']]).toEqual([undefined, undefined, undefined]);
  });

  it('below the floor it refuses: 429 while the budget could pay the floor later, 400 when it never can', async () => {
    const { limiter } = setup(CLAMP.replace('minOutputTokens: 100', 'minOutputTokens: 700'));
    const a = await limiter.admit(req({ clampable: true }));
    expect(a.outputCap).toBe(800);
    await a.settle(usage(200, 100), 'gpt-4o'); // 300 used: 700 left, 500 of it for output < 700
    expect((await limiter.admit(req({ clampable: true }))).rejection?.status).toBe(429);
    const never = await limiter.admit(req({ clampable: true, inputTokens: 400 })); // 400 + 700 > 1000
    expect(never.rejection?.status).toBe(400);
    expect(body(never.rejection).error?.message).toContain('reservation.minOutputTokens, the smallest cap the Clamp policy writes');
    expect(body(never.rejection).error?.message).toContain('Set max_completion_tokens to at most 600');
  });

  it('caps an unknown model\'s output at what it reserves; a body it cannot rewrite reserves as MaxTokens', async () => {
    const { limiter } = setup(CLAMP.replace('minOutputTokens: 100', 'minOutputTokens: 100, defaultMaxTokens: 300'));
    const a = await limiter.admit(req({ clampable: true, model: 'my-local-llama' }));
    expect([a.outputCap, a.log.reserved]).toEqual([300, { 'team/per-minute': 500 }]);
    const fixed = await limiter.admit(req({ clampable: false }));
    expect(fixed.rejection?.status).toBe(400); // 200 + 16384 can never fit 1000
  });

  it('clamps to the tightest of all matching limits, including another policy\'s MaxTokens limit', async () => {
    const { limiter } = setup(`  limits: [{name: per-minute, tokens: 1000, window: 1m}, {name: output-hour, tokens: 300, window: 1h, count: Output}]
  reservation: {output: Clamp, minOutputTokens: 10}
`);
    const a = await limiter.admit(req({ clampable: true }));
    expect(a.outputCap).toBe(300);
    expect(a.log.reserved).toEqual({ 'team/per-minute': 500, 'team/output-hour': 300 });
  });
});

describe('tiers and overrides', () => {
  const PLANS = `  limits: [{name: daily, tokens: 1000, window: Day}]
  tiers:
    selector: {from: Header, name: x-plan}
    default: free
    plans:
    - {name: free}
    - {name: pro, limits: [{name: daily, tokens: 10000}]}
  overrides:
  - {subject: acme, name: acme-contract, limits: [{name: daily, tokens: 3000}]}
  - {subject: eval, exempt: true}
  reservation: {output: None}
`;
  const tenant = (id: string, plan?: string): Partial<AdmitInput> => ({ headers: { 'x-tenant-id': id, ...(plan ? { 'x-plan': plan } : {}) } });

  it('two tenants under one policy hit their own limits; decisions carry the tier, the log the tier and override', async () => {
    const { limiter, decisions } = setup(PLANS);
    for (let i = 0; i < 5; i++) expect((await limiter.admit(req({ ...tenant('globex'), inputTokens: 200 }))).rejection).toBeUndefined();
    expect((await limiter.admit(req({ ...tenant('globex'), inputTokens: 200 }))).rejection?.status).toBe(429);
    const acme = await limiter.admit(req({ ...tenant('acme'), inputTokens: 2900 }));
    expect(acme.rejection).toBeUndefined();
    expect(acme.log).toMatchObject({ tiers: { team: 'free' }, overrides: { team: 'acme-contract' } });
    expect(acme.headers?.['x-ratelimit-limit-tokens']).toBe('3000');
    expect(decisions.at(-1)).toEqual(['team', 'daily', 'free', 'allowed']);
  });

  it('the spend ledger reads the attributed policy\'s tier and override from the admission', async () => {
    const { limiter } = setup(PLANS);
    const a = await limiter.admit(req({ ...tenant('acme', 'pro'), inputTokens: 10 }));
    const record = buildUsageRecord({
      rejected: false, requestId: 'r', provider: 'openai', endpoint: 'openai.chat', stream: false, durationSeconds: 0.1,
      outcome: { inputTokens: 10, outputTokens: 0, totalTokens: 10, source: 'provider' },
    }, a, 'id', 1);
    expect(record).toMatchObject({ policy: 'team', subject: 'acme', tier: 'pro', override: 'acme-contract', decision: 'allowed' });
    const plain = await limiter.admit(req({ ...tenant('globex'), inputTokens: 10 }));
    expect(plain.log).toMatchObject({ tier: 'free' });
    expect(plain.log).not.toHaveProperty('override');
  });

  it('an exempt subject is never limited, still counted, and reported as exempt', async () => {
    const { limiter, decisions, store } = setup(PLANS);
    for (let i = 0; i < 3; i++) {
      const a = await limiter.admit(req({ ...tenant('eval'), inputTokens: 900 }));
      expect(a.rejection).toBeUndefined();
      expect(a.log).toMatchObject({ exempt: ['team'], decision: 'allowed' });
      await a.settle(usage(900, 0), 'gpt-4o');
    }
    expect(decisions.at(-1)).toEqual(['team', 'daily', 'free', 'exempt']);
    const key = 'team|daily|eval|Day@2026-01-31';
    expect(await store.peek([{ key, windowEndMs: Date.UTC(2026, 1, 1), hashTag: 'eval' }], T0)).toEqual([2700]);
  });

  it('a tier change mid-window keeps the counter: no reset, no double count', async () => {
    const { limiter } = setup(PLANS);
    const spend = async (plan: string, n: number): Promise<number | undefined> => {
      const a = await limiter.admit(req({ ...tenant('initech', plan), inputTokens: n }));
      if (!a.rejection) await a.settle(usage(n, 0), 'gpt-4o');
      return a.rejection?.status;
    };
    expect(await spend('free', 800)).toBeUndefined();
    expect(await spend('free', 300)).toBe(429); // 800 + 300 > 1000
    expect(await spend('pro', 300)).toBeUndefined(); // same counter: 1100 of 10000
    const pro = await limiter.admit(req({ ...tenant('initech', 'pro'), inputTokens: 1 }));
    expect(pro.headers?.['x-ratelimit-remaining-tokens']).toBe(String(10000 - 1100 - 1));
    await pro.settle(usage(1, 0), 'gpt-4o');
    // Back on free: 1101 already used of 1000 — refused, not reset.
    expect(await spend('free', 1)).toBe(429);
  });

  it('an unknown tier follows onUnknown: the default tier (flagged), or 400 with Reject', async () => {
    const { limiter } = setup(PLANS);
    const a = await limiter.admit(req(tenant('globex', 'gold')));
    expect(a.log).toMatchObject({ tiers: { team: 'free' }, tier_unknown: ['team'] });
    const strict = setup(PLANS.replace('default: free', 'default: free\n    onUnknown: Reject'));
    const r = await strict.limiter.admit(req(tenant('globex', 'gold')));
    expect(r.rejection?.status).toBe(400);
    expect(r.rejection?.details).toBe('tokenmeter_tier_unknown{team}');
    expect(body(r.rejection).error?.message).toBe('Request rejected by policy "team": unknown plan tier "gold" in header x-plan: expected one of free, pro');
    expect(r.log.decision).toBe('tier-unknown');
  });
});

describe('reservation.output: Observed', () => {
  it('reserves what this subject\'s answers used recently (at least minOutputTokens), else the model\'s, else defaultMaxTokens', async () => {
    const { limiter } = setup('  limits: [{name: daily, tokens: 10000000, window: Day}]\n  reservation: {output: Observed, minOutputTokens: 64}\n');
    const first = await limiter.admit(req());
    expect(first.log.reserved).toEqual({ 'team/daily': 200 + 4096 });
    for (let i = 0; i < 10; i++) await (await limiter.admit(req())).settle(usage(200, 3000), 'gpt-4o');
    for (let i = 0; i < 10; i++) await (await limiter.admit(req(({ headers: { 'x-tenant-id': 'terse' } })))).settle(usage(200, 10), 'gpt-4o');
    expect((await limiter.admit(req())).log.reserved).toEqual({ 'team/daily': 200 + 3000 });
    expect((await limiter.admit(req({ headers: { 'x-tenant-id': 'terse' } }))).log.reserved).toEqual({ 'team/daily': 200 + 64 });
    // A new subject: the model's p95 over everyone.
    expect((await limiter.admit(req({ headers: { 'x-tenant-id': 'new' } }))).log.reserved).toEqual({ 'team/daily': 200 + 3000 });
  });
});
