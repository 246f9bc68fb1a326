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
});
