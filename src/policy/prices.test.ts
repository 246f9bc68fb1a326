import { describe, expect, it } from 'vitest';
import { BUILTIN_PRICES, PRICES_AS_OF, lookupPrice, overridePrice, priceModelName } from './prices.js';

describe('priceModelName', () => {
  it.each([
    ['GPT-4o', 'gpt-4o'], ['openai/gpt-4o', 'gpt-4o'], ['models/gemini-2.5-flash', 'gemini-2.5-flash'],
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'claude-3-5-sonnet-20240620-v1'], ['claude-sonnet-4-5@20250929', 'claude-sonnet-4-5'],
    ['deepseek/deepseek-chat:free', 'deepseek-chat'], ['ft:gpt-4o-mini-2024-07-18:org::abc', 'ft:gpt-4o-mini-2024-07-18:org::abc'],
  ])('%s → %s', (model, want) => {
    expect(priceModelName(model)).toBe(want);
  });
});

describe('lookupPrice: built-ins', () => {
  it.each<[string, string | undefined, [number, number, number, number]?]>([
    // exact, then the longest key the name extends at a '-' boundary (dated snapshots → their alias)
    ['gpt-5', 'gpt-5', [1.25, 0.125, 1.25, 10]],
    ['gpt-5-2025-08-07', 'gpt-5', [1.25, 0.125, 1.25, 10]],
    ['gpt-5-mini-2025-08-07', 'gpt-5-mini', [0.25, 0.025, 0.25, 2]],
    ['gpt-5-nano', 'gpt-5-nano', [0.05, 0.005, 0.05, 0.4]],
    ['gpt-5.1-codex', 'gpt-5.1'],
    ['gpt-4.1-mini-2025-04-14', 'gpt-4.1-mini', [0.4, 0.1, 0.4, 1.6]],
    ['gpt-4o-2024-08-06', 'gpt-4o', [2.5, 1.25, 2.5, 10]],
    ['gpt-4o-2024-05-13', 'gpt-4o-2024-05-13', [5, 5, 5, 15]],
    ['gpt-4o-mini', 'gpt-4o-mini', [0.15, 0.075, 0.15, 0.6]],
    ['o3-2025-04-16', 'o3', [2, 0.5, 2, 8]],
    ['o3-mini', 'o3-mini'],
    ['o4-mini-2025-04-16', 'o4-mini', [1.1, 0.275, 1.1, 4.4]],
    ['o1', 'o1', [15, 7.5, 15, 60]],
    ['text-embedding-3-small', 'text-embedding-3-small', [0.02, 0.02, 0.02, 0]],
    // Anthropic: cache writes 1.25× input (Claude 3 Haiku: its own price)
    ['claude-opus-4-1-20250805', 'claude-opus-4-1', [15, 1.5, 18.75, 75]],
    ['claude-opus-4-20250514', 'claude-opus-4', [15, 1.5, 18.75, 75]],
    ['claude-opus-4-5-20251101', 'claude-opus-4-5', [5, 0.5, 6.25, 25]],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5', [3, 0.3, 3.75, 15]],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4', [3, 0.3, 3.75, 15]],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4-5', [1, 0.1, 1.25, 5]],
    ['claude-3-5-haiku-latest', 'claude-3-5-haiku', [0.8, 0.08, 1, 4]],
    ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet', [3, 0.3, 3.75, 15]],
    ['claude-3-haiku-20240307', 'claude-3-haiku', [0.25, 0.03, 0.3, 1.25]],
    // Gemini
    ['gemini-2.5-pro', 'gemini-2.5-pro', [1.25, 0.125, 1.25, 10]],
    ['gemini-2.5-flash-preview-09-2025', 'gemini-2.5-flash', [0.3, 0.03, 0.3, 2.5]],
    ['gemini-2.5-flash-lite', 'gemini-2.5-flash-lite', [0.1, 0.01, 0.1, 0.4]],
    ['gemini-2.0-flash-001', 'gemini-2.0-flash', [0.1, 0.025, 0.1, 0.4]],
    // not at a '-' boundary, or unknown: no price
    ['gpt-5.9', undefined], ['gpt-4o2', undefined], ['llama-3.1-70b', undefined], ['ft:gpt-4o-mini:org::x', undefined], ['', undefined],
  ])('%s → %s', (model, matched, price) => {
    const m = lookupPrice(model);
    expect(m?.matched).toBe(matched);
    if (price) expect(m?.price).toEqual({ input: price[0], cachedInput: price[1], cacheWrite: price[2], output: price[3] });
    if (matched) expect(m?.source).toBe('builtin');
  });

  it('covers the families the issue names, with a date', () => {
    for (const model of ['gpt-5', 'gpt-5-mini', 'gpt-5-nano', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4o', 'gpt-4o-mini', 'o3', 'o4-mini',
      'o1', 'text-embedding-3-small', 'text-embedding-3-large', 'claude-opus-4-1', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-3-5-haiku',
      'claude-3-5-sonnet', 'gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-2.0-flash']) {
      expect(BUILTIN_PRICES.has(model), model).toBe(true);
    }
    expect(PRICES_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const [model, p] of BUILTIN_PRICES) {
      expect(p.cachedInput, model).toBeLessThanOrEqual(p.input);
      expect(p.output, model).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('lookupPrice: policy overrides win', () => {
  const overrides = [
    overridePrice({ model: 'gpt-4o', input: 2, output: 8 }),
    overridePrice({ model: 'my-*', input: 1, output: 1, cachedInput: 0.5 }),
    overridePrice({ model: 'my-big*', input: 9, output: 9 }),
    overridePrice({ model: 'claude-sonnet-4-5', input: 2, output: 10 }),
  ];

  it.each<[string, string | undefined, 'policy' | 'builtin' | undefined, number?]>([
    ['gpt-4o', 'gpt-4o', 'policy', 2],
    ['gpt-4o-2024-08-06', 'gpt-4o', 'policy', 2],
    ['gpt-4o-mini', 'gpt-4o-mini', 'builtin', 0.15], // the most specific entry wins: gpt-4o-mini is another model
    ['my-model', 'my-*', 'policy', 1],
    ['my-bigmodel', 'my-big*', 'policy', 9],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5', 'policy', 2],
    ['gpt-5', 'gpt-5', 'builtin', 1.25],
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
    expect(lookupPrice('claude-opus-4-1', star)?.matched).toBe('claude-opus-4-1');
  });

  it('expands defaults: cached = input, cache writes 1.25× input for claude', () => {
    expect(overridePrice({ model: 'claude-x', input: 4, output: 20 })).toEqual({ model: 'claude-x', input: 4, cachedInput: 4, cacheWrite: 5, output: 20 });
    expect(overridePrice({ model: 'x', input: 4, output: 20, cachedInput: 1, cacheWrite: 6 })).toEqual({ model: 'x', input: 4, cachedInput: 1, cacheWrite: 6, output: 20 });
  });
});
