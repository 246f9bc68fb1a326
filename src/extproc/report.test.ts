import { describe, expect, it } from 'vitest';
import { priceDataVersion } from '../prices/catalogue.js';
import { listCostUSD, type RequestRecord } from './report.js';

function rec(over: Partial<RequestRecord>, inputTokens = 1_000_000, outputTokens = 0): RequestRecord {
  return {
    rejected: false, requestId: 'r', provider: 'openai', endpoint: 'openai.chat', stream: false, durationSeconds: 0,
    problems: [], injectedIncludeUsage: false,
    outcome: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens, source: 'provider' },
    ...over,
  };
}

describe('listCostUSD: catalogue prices with their source', () => {
  it('prices by the catalogue and names its version', () => {
    expect(listCostUSD(rec({ requestModel: 'gpt-4o' }))).toEqual({ usd: 2.5, unpriced: false, source: priceDataVersion() });
  });

  it('uses the response model, the upstream host (Azure) and the input tier', () => {
    expect(listCostUSD(rec({ requestModel: 'prod-4o', responseModel: 'gpt-4o-mini-2024-07-18', apiHost: 'x.openai.azure.com' })).usd).toBeCloseTo(0.15, 9);
    const pro = (input: number): number => listCostUSD(rec({ provider: 'gemini', endpoint: 'gemini.generate', requestModel: 'gemini-2.5-pro' }, input)).usd;
    expect(pro(200_000)).toBeCloseTo(0.25, 9); // 1.25 $/M
    expect(pro(400_000)).toBeCloseTo(1, 9); // 2.5 $/M above 200K
  });

  it('an unknown model costs the fallback price and is flagged', () => {
    expect(listCostUSD(rec({ requestModel: 'my-local-llama' }))).toMatchObject({ unpriced: true, source: 'fallback' });
  });

  it('looks the catalogue up once per request: the metric and the log line share it, and so does the usage record', () => {
    const r = rec({ requestModel: 'gpt-4o' });
    expect(r.listPrice).toBeUndefined();
    const first = listCostUSD(r);
    expect(r.listPrice?.matched).toBe('gpt-4o');
    // A second call reads the kept match: a marked price there is what it charges.
    r.listPrice = { price: { input: 7, cachedInput: 7, cacheWrite: 7, output: 7 }, matched: 'marked', source: 'genai-prices' };
    expect(listCostUSD(r).usd).toBeCloseTo(7, 9);
    expect(first.usd).toBe(2.5);
    const unknown = rec({ requestModel: 'my-local-llama' });
    listCostUSD(unknown);
    expect(unknown.listPrice).toBeNull();
    expect(listCostUSD(unknown)).toMatchObject({ unpriced: true, source: 'fallback' });
  });
});
