import { describe, expect, it } from 'vitest';
import { parsePolicies } from '../policy/parse.js';
import { buildUsageRecord, listPriceOf, type AdmissionView, type SettledRequest } from './record.js';
import { lookupPrice, priceLookupOf, type PriceMatch } from '../policy/prices.js';
import { priceDataVersion } from '../prices/catalogue.js';

const settled = (over: Partial<SettledRequest> = {}): SettledRequest => ({
  rejected: false, requestId: 'r1', provider: 'openai', endpoint: 'openai.chat', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18',
  stream: true, status: 200, durationSeconds: 1.23456,
  outcome: { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 100, reasoningTokens: 10, totalTokens: 1100, source: 'provider' },
  ...over,
});

describe('buildUsageRecord', () => {
  it('a request no policy matched: priced from the built-in table, decision none, no subject', () => {
    const r = buildUsageRecord(settled(), undefined, 'id-1', 1_700_000_000_000);
    // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
    expect(r).toMatchObject({
      id: 'id-1', ts: 1_700_000_000_000, policy: null, limit: null, tier: null, override: null, subject: null, decision: 'none', rejected: false,
      inputTokens: 1000, cachedInputTokens: 200, cacheWriteTokens: 0, outputTokens: 100, reasoningTokens: 10, priceVersion: priceDataVersion(), durationMs: 1234.6,
    });
    expect(r.costUsd).toBeCloseTo((800 * 0.15 + 200 * 0.075 + 100 * 0.6) / 1e6, 15);
  });

  it('reads the attribution, and the plan tier and per-subject override when the admission carries them', () => {
    const admission: AdmissionView = {
      log: { decision: 'limited', tier: 'gold', override: 'acme-q4' },
      attribution: { policy: 'llm/team', subject: 'acme', limit: 'daily', pricing: [{ model: 'gpt-4o-mini', input: 1, cachedInput: 1, cacheWrite: 1, output: 1 }] },
    };
    const r = buildUsageRecord(settled({ rejected: true, status: 429, outcome: { inputTokens: 0, outputTokens: 0, totalTokens: 0, source: 'none' } }), admission, 'id-2', 1);
    expect(r).toMatchObject({ policy: 'llm/team', subject: 'acme', limit: 'daily', tier: 'gold', override: 'acme-q4', decision: 'limited', rejected: true, status: 429, costUsd: 0 });
    const priced = buildUsageRecord(settled(), { log: { decision: 'allowed' }, attribution: { ...admission.attribution!, limit: undefined } }, 'id-3', 1);
    expect(priced).toMatchObject({ tier: null, override: null, priceVersion: 'policy:llm/team' });
    expect(priced.costUsd).toBeCloseTo(1100 / 1e6, 15);
  });

  it('an unknown model is priced at the fallback and says so', () => {
    const r = buildUsageRecord(settled({ requestModel: 'my-finetune', responseModel: undefined }), undefined, 'id', 1);
    expect(r.priceVersion).toBe('fallback');
    expect(r.costUsd).toBeGreaterThan(0);
  });
});

describe('subject.hashInLedger', () => {
  const yaml = (subject: string): string => `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: p}
spec:
  subject: ${subject}
  limits: [{name: l, tokens: 10, window: 1m}]
`;
  it('is accepted for Header and JWTClaim subjects and refused where the ledger always hashes', () => {
    expect(parsePolicies(yaml('{from: Header, name: x-user, hashInLedger: true}')).policies[0]?.subject).toMatchObject({ hashInLedger: true });
    expect(parsePolicies(yaml('{from: ClientIP, hashInLedger: true}')).errors.map((e) => e.path)).toEqual(['spec.subject.hashInLedger']);
  });
});

describe('listPriceOf: one catalogue lookup per request', () => {
  const marked: PriceMatch = { price: { input: 1000, cachedInput: 1000, cacheWrite: 1000, output: 1000 }, matched: 'marked', source: 'genai-prices' };

  it('looks the list price up once and keeps it on the request (also when nothing prices the model)', () => {
    const req = settled();
    const first = listPriceOf(req);
    expect(first).toEqual(lookupPrice('gpt-4o-mini-2024-07-18', [], priceLookupOf(req)));
    expect(req.listPrice).toBe(first);
    req.listPrice = marked;
    expect(listPriceOf(req)).toBe(marked);
    const unknown = settled({ requestModel: 'no-such-model', responseModel: undefined });
    expect(listPriceOf(unknown)).toBeUndefined();
    expect(unknown.listPrice).toBeNull();
  });

  it('the usage record reuses the looked-up list price, and prices it the same as its own lookup', () => {
    const own = buildUsageRecord(settled(), undefined, 'a', 1);
    const req = settled();
    listPriceOf(req);
    expect(buildUsageRecord(req, undefined, 'a', 1)).toEqual(own);
    // Reused, not looked up again: a marked price in the memo is the one charged.
    const r = buildUsageRecord(settled({ listPrice: marked }), undefined, 'b', 1);
    // 1,000 input and 100 output tokens (reasoning included) at 1,000 USD per million each.
    expect(r.costUsd).toBeCloseTo((1100 * 1000) / 1e6, 9);
  });

  it('a policy with pricing overrides is looked up with them (the memo holds the list price only)', () => {
    const admission: AdmissionView = {
      log: { decision: 'allowed' },
      attribution: { policy: 'llm/team', subject: 'acme', pricing: [{ model: 'gpt-4o-mini', input: 1, cachedInput: 1, cacheWrite: 1, output: 1 }] },
    };
    const r = buildUsageRecord(settled({ listPrice: marked }), admission, 'c', 1);
    expect(r.priceVersion).toBe('policy:llm/team');
    expect(r.costUsd).toBeCloseTo(1100 / 1e6, 12);
  });
});
