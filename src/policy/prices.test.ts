import { describe, expect, it } from 'vitest';
import { lookupPrice, overridePrice, priceModelName, priceSourceVersion } from './prices.js';

describe('priceModelName', () => {
  it.each([
    ['GPT-4o', 'gpt-4o'], ['openai/gpt-4o', 'gpt-4o'], ['models/gemini-2.5-flash', 'gemini-2.5-flash'],
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'claude-3-5-sonnet-20240620-v1'], ['claude-sonnet-4-5@20250929', 'claude-sonnet-4-5'],
    ['deepseek/deepseek-chat:free', 'deepseek-chat'], ['ft:gpt-4o-mini-2024-07-18:org::abc', 'ft:gpt-4o-mini-2024-07-18:org::abc'],
  ])('%s → %s', (model, want) => {
    expect(priceModelName(model)).toBe(want);
  });
});

describe('lookupPrice: the catalogue (@pydantic/genai-prices)', () => {
  it.each<[string, string | undefined, number?]>([
    ['gpt-4o-2024-08-06', 'openai', 2.5],
    ['gpt-4o-mini', 'openai', 0.15],
    ['claude-sonnet-4-5-20250929', 'anthropic', 3],
    ['gemini-2.5-flash', 'google', 0.3],
    ['models/gemini-2.0-flash', 'google', 0.1],
    ['llama-3.1-70b-nonexistent', undefined], ['ft:gpt-4o-mini:org::x', undefined], ['', undefined],
  ])('%s → %s', (model, provider, input) => {
    const m = lookupPrice(model);
    if (provider === undefined) expect(m).toBeUndefined();
    else {
      expect(m?.priceProvider).toBe(provider);
      expect(m?.source).toBe('genai-prices');
      expect(m?.price.input).toBe(input);
    }
  });

  it('applies a tiered price above its input threshold (Gemini 2.5 Pro, Claude Sonnet 4.5: 200K)', () => {
    expect(lookupPrice('gemini-2.5-pro', [], { provider: 'gemini', inputTokens: 1000 })?.price).toEqual({ input: 1.25, cachedInput: 0.125, cacheWrite: 1.25, output: 10 });
    expect(lookupPrice('gemini-2.5-pro', [], { provider: 'gemini', inputTokens: 200_000 })?.price.input).toBe(1.25);
    expect(lookupPrice('gemini-2.5-pro', [], { provider: 'gemini', inputTokens: 200_001 })?.price).toEqual({ input: 2.5, cachedInput: 0.25, cacheWrite: 2.5, output: 15 });
    expect(lookupPrice('claude-sonnet-4-5', [], { provider: 'anthropic', inputTokens: 300_000 })?.price).toEqual({ input: 6, cachedInput: 0.6, cacheWrite: 7.5, output: 22.5 });
  });

  it('maps Azure, Vertex and OpenAI-compatible hosts to their provider', () => {
    expect(lookupPrice('gpt-4o-mini', [], { provider: 'openai', host: 'myres.openai.azure.com' })).toMatchObject({ priceProvider: 'azure', matched: 'gpt-4o-mini' });
    expect(lookupPrice('gemini-2.5-flash', [], { provider: 'gemini', host: 'us-central1-aiplatform.googleapis.com' })).toMatchObject({ priceProvider: 'google', matched: 'gemini-2.5-flash' });
    expect(lookupPrice('deepseek-chat', [], { provider: 'openai', host: 'api.deepseek.com' })).toMatchObject({ priceProvider: 'deepseek', matched: 'deepseek-chat' });
    expect(lookupPrice('gpt-4o', [], { provider: 'openai', host: 'api.openai.com' })).toMatchObject({ priceProvider: 'openai', matched: 'gpt-4o' });
  });

  it('names its source: the catalogue version, or policy', () => {
    expect(priceSourceVersion(lookupPrice('gpt-4o'))).toMatch(/^genai-prices@\d+\.\d+\.\d+ \(\d{4}-\d{2}-\d{2}\)$/);
    expect(priceSourceVersion(lookupPrice('gpt-4o', [overridePrice({ model: 'gpt-4o', input: 1, output: 1 })]))).toBe('policy');
    expect(priceSourceVersion(undefined)).toBeUndefined();
  });
});

describe('lookupPrice: policy overrides win', () => {
  const overrides = [
    overridePrice({ model: 'gpt-4o', input: 2, output: 8 }),
    overridePrice({ model: 'my-*', input: 1, output: 1, cachedInput: 0.5 }),
    overridePrice({ model: 'my-big*', input: 9, output: 9 }),
    overridePrice({ model: 'claude-sonnet-4-5', input: 2, output: 10 }),
  ];

  it.each<[string, string | undefined, 'policy' | 'genai-prices' | undefined, number?]>([
    ['gpt-4o', 'gpt-4o', 'policy', 2],
    ['gpt-4o-2024-08-06', 'gpt-4o', 'policy', 2], // a dated snapshot of the overridden model
    ['gpt-4o-mini', 'gpt-4o-mini', 'genai-prices', 0.15], // another model: the catalogue prices it
    ['my-model', 'my-*', 'policy', 1],
    ['my-bigmodel', 'my-big*', 'policy', 9],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5', 'policy', 2],
    ['gpt-5', 'gpt-5', 'genai-prices', 1.25],
    ['unknown', undefined, undefined],
  ])('%s → %s (%s)', (model, matched, source, input) => {
    const m = lookupPrice(model, overrides);
    expect(m?.matched).toBe(matched);
    expect(m?.source).toBe(source);
    if (input !== undefined) expect(m?.price.input).toBe(input);
  });

  it('a "*" override prices every model nothing more specific prices', () => {
    const star = [overridePrice({ model: '*', input: 7, output: 7 }), overridePrice({ model: 'gpt-5', input: 1, output: 1 })];
    expect(lookupPrice('anything', star)?.price.input).toBe(7);
    expect(lookupPrice(undefined, star)?.price.input).toBe(7);
    expect(lookupPrice('gpt-5-2025-08-07', star)?.price.input).toBe(1);
    expect(lookupPrice('gpt-5-mini', star)?.price.input).toBe(0.25);
    expect(lookupPrice('claude-opus-4-1', star)?.source).toBe('genai-prices');
  });

  it('expands defaults: cached = input, cache writes 1.25× input for claude', () => {
    expect(overridePrice({ model: 'claude-x', input: 4, output: 20 })).toEqual({ model: 'claude-x', input: 4, cachedInput: 4, cacheWrite: 5, output: 20 });
    expect(overridePrice({ model: 'x', input: 4, output: 20, cachedInput: 1, cacheWrite: 6 })).toEqual({ model: 'x', input: 4, cachedInput: 1, cacheWrite: 6, output: 20 });
  });
});
