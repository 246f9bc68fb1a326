import { describe, expect, it } from 'vitest';
import { GENAI_PRICES_RELEASES, catalogueModels, catalogueProvider, cataloguePrice, priceAt, priceData, priceDataVersion } from './catalogue.js';

describe('price catalogue (@pydantic/genai-prices)', () => {
  it('knows the release date of the installed version (update GENAI_PRICES_RELEASES with the dependency)', () => {
    const d = priceData();
    expect(Object.keys(GENAI_PRICES_RELEASES)).toContain(d.version);
    expect(d.released).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(priceDataVersion()).toBe(`genai-prices@${d.version} (${d.released})`);
  });

  // A sample of models against the library: a dependency update that moves a price shows up here, in review.
  it('prices a sample of models (snapshot)', () => {
    const sample: [string, Parameters<typeof cataloguePrice>[1]][] = [
      ['gpt-4o', { provider: 'openai' }], ['gpt-4o-mini', { provider: 'openai' }], ['gpt-4.1', { provider: 'openai' }],
      ['gpt-5', { provider: 'openai' }], ['gpt-5-mini', { provider: 'openai' }], ['o3', { provider: 'openai' }], ['o4-mini', { provider: 'openai' }],
      ['text-embedding-3-small', { provider: 'openai' }], ['gpt-4o-mini', { provider: 'openai', host: 'myres.openai.azure.com' }],
      ['claude-sonnet-4-5', { provider: 'anthropic' }], ['claude-haiku-4-5', { provider: 'anthropic' }], ['claude-opus-4-1', { provider: 'anthropic' }],
      ['claude-3-5-haiku-20241022', { provider: 'anthropic' }],
      ['gemini-2.5-pro', { provider: 'gemini' }], ['gemini-2.5-flash', { provider: 'gemini' }], ['gemini-2.0-flash', { provider: 'gemini' }],
      ['gemini-2.5-flash', { provider: 'gemini', host: 'us-central1-aiplatform.googleapis.com' }],
    ];
    const table = sample.map(([model, hint]) => {
      const e = cataloguePrice(model, hint);
      if (!e) return `${model}: unpriced`;
      const f = (p: { input: number; cachedInput: number; cacheWrite: number; output: number }): string =>
        `in ${p.input} cached ${p.cachedInput} write ${p.cacheWrite} out ${p.output}`;
      const tiers = e.tiers.map((t) => ` | >${t.start}: ${f(t.price)}`).join('');
      return `${model}${hint?.host ? ` @${hint.host}` : ''} → ${e.provider}/${e.model}: ${f(e.base)}${tiers}`;
    });
    expect(table.join('\n')).toMatchSnapshot();
  });

  it('a tier applies to a request whose input exceeds its start', () => {
    const e = cataloguePrice('gemini-2.5-pro', { provider: 'gemini' });
    if (!e) throw new Error('gemini-2.5-pro unpriced');
    expect(e.tiers.map((t) => t.start)).toEqual([200_000]);
    expect(priceAt(e, 200_000).input).toBe(e.base.input);
    expect(priceAt(e, 200_001).input).toBeGreaterThan(e.base.input);
  });

  it('maps hosts to catalogue providers', () => {
    expect(catalogueProvider({ provider: 'openai' })).toBe('openai');
    expect(catalogueProvider({ provider: 'openai', host: 'api.openai.com:443' })).toBe('openai');
    expect(catalogueProvider({ provider: 'openai', host: 'x.openai.azure.com' })).toBe('azure');
    expect(catalogueProvider({ provider: 'openai', host: 'api.groq.com' })).toBe('groq');
    expect(catalogueProvider({ provider: 'gemini', host: 'europe-west4-aiplatform.googleapis.com' })).toBe('google-vertex');
    expect(catalogueProvider({ provider: 'gemini' })).toBe('google-gla');
    expect(catalogueProvider({ provider: 'anthropic' })).toBe('anthropic');
    expect(catalogueProvider({})).toBeUndefined();
  });

  it('lists priced OpenAI, Anthropic and Gemini models for /v1/models', () => {
    const models = catalogueModels();
    const ids = new Set(models.map((m) => m.entry.model));
    for (const id of ['gpt-4o', 'claude-sonnet-4-5', 'gemini-2.5-flash']) expect(ids.has(id)).toBe(true);
    expect(models.every((m) => m.entry.base.input >= 0)).toBe(true);
  });
});
