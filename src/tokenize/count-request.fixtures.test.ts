/**
 * Input counts against every recorded exchange in test/fixtures/llm (manifest `usage` = what the provider billed).
 * OpenAI-model requests and Gemini text requests must be exact (exemptions listed with the reason); the
 * Anthropic/Gemini estimate error is judged on the held-back split, which the fit (fit-estimates.ts) never reads.
 */
import { describe, expect, it } from 'vitest';
import { accuracyCases, accuracyTable, GEMINI_EXEMPT, median, OPENAI_EXEMPT, type AccuracyCase } from '../../test/helpers/accuracy.js';
import { countInputTokens, countInputTokensAsync } from './count-request.js';
import { knownEncoding } from './encodings.js';
import { fitEstimates, type FitCase } from './fit-estimates.js';
import { ANTHROPIC_FITTED, GEMINI_FITTED } from './fitted-constants.js';
import { TOKENIZER_IMPLS } from './tokenizer.js';

const cases = accuracyCases();

const isOpenAiModel = (c: AccuracyCase): boolean => c.provider === 'openai' && knownEncoding(c.model) !== undefined;
const exactOpenAi = cases.filter((c) => isOpenAiModel(c) && !Object.hasOwn(OPENAI_EXEMPT, c.name));

describe('OpenAI input counts are exact on the recordings', () => {
  it('covers chat (tools, tool results in history, strict mode, tool_choice), streaming, Responses and embeddings', () => {
    const dirs = new Set(exactOpenAi.map((c) => c.dir));
    for (const d of ['openai-chat', 'openai-chat-stream-usage', 'openai-responses', 'openai-responses-stream', 'openai-embeddings']) {
      expect(dirs.has(d), d).toBe(true);
    }
    const withTools = exactOpenAi.filter((c) => /"(tools|functions)"/.test(JSON.stringify(c.body)));
    expect(withTools.length).toBeGreaterThanOrEqual(10);
    expect(withTools.some((c) => /"role":"tool"/.test(JSON.stringify(c.body)))).toBe(true);
    for (const name of Object.keys(OPENAI_EXEMPT)) expect(cases.some((c) => c.name === name), name).toBe(true);
  });

  for (const impl of TOKENIZER_IMPLS) {
    it.each(exactOpenAi.map((c) => [c.name, c] as const))(`${impl}: %s`, async (_n, c) => {
      const got = countInputTokens(c.endpoint, c.body, { impl });
      expect(got.tokens).toBe(c.billed);
      expect(await countInputTokensAsync(c.endpoint, c.body, { impl })).toEqual(got);
      expect(got.exact).toBe(true);
    });
  }

  it('Azure deployment without a model name: exact once config names the model', () => {
    const c = cases.find((x) => x.name === 'oll_azure_deployment_chat');
    expect(c).toBeDefined();
    if (!c) return;
    expect(countInputTokens(c.endpoint, c.body).exact).toBe(false);
    expect(countInputTokens(c.endpoint, c.body, { model: 'gpt-4o' })).toEqual({ tokens: c.billed, encoding: 'o200k_base', exact: true });
    expect(countInputTokens(c.endpoint, c.body, { overrides: { 'openllmetry-testing': 'o200k_base' } }).tokens).toBe(c.billed);
  });
});

describe('Gemini text is counted exactly with the Gemma vocabularies', () => {
  const textOnly = cases.filter((c) => c.provider === 'gemini' && c.count.exact);
  it('covers both vocabularies, system instructions and several turns', () => {
    expect(textOnly.length).toBeGreaterThanOrEqual(12);
    expect(new Set(textOnly.map((c) => c.count.encoding))).toEqual(new Set(['sentencepiece/gemma', 'sentencepiece/gemma3']));
  });
  it.each(textOnly.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    if (Object.hasOwn(GEMINI_EXEMPT, c.name)) expect(c.count.tokens).not.toBe(c.billed);
    else expect(c.count.tokens).toBe(c.billed);
  });
});

describe('estimates against the recordings (fit and held-back splits)', () => {
  const estimated = cases.filter((c) => c.provider !== 'openai');
  const main = (c: AccuracyCase): boolean => !c.count.serverTools;

  it('prints the accuracy table (README "Accuracy of the input pre-count")', () => {
    console.log(`\n${accuracyTable(cases, (c) => c.kind)}\n\n${accuracyTable(estimated.filter(main), (c) => c.family)}\n`);
    expect(cases.length).toBeGreaterThanOrEqual(120);
  });

  it('held-back split: Anthropic and Gemini median |error| ≤ 5% (server-side tools excluded)', () => {
    const held = estimated.filter((c) => c.split === 'holdout' && main(c));
    expect(held.length).toBeGreaterThanOrEqual(15);
    const med = median(held.map((c) => Math.abs(c.error)));
    console.log(`held-back Anthropic+Gemini: n=${held.length} median |error| ${(med * 100).toFixed(1)}%`);
    expect(med).toBeLessThanOrEqual(0.05);
  });

  it.each(['anthropic', 'gemini'] as const)('held-back split: %s median |error| ≤ 0.05 on its own (server-side tools excluded)', (provider) => {
    const held = estimated.filter((c) => c.provider === provider && c.split === 'holdout' && main(c));
    expect(held.length).toBeGreaterThanOrEqual(8);
    const med = median(held.map((c) => Math.abs(c.error)));
    console.log(`held-back ${provider}: n=${held.length} median |error| ${(med * 100).toFixed(1)}%`);
    expect(med).toBeLessThanOrEqual(0.05);
  });

  it('server-side tool requests are marked and never exact', () => {
    const server = cases.filter((c) => c.count.serverTools);
    expect(server.map((c) => c.name).sort()).toEqual(expect.arrayContaining([
      'llmanth_claude-3-5-sonnet_web-search', 'pyd_claude-sonnet-4_web-fetch_thinking', 'pyd_gemini-2.5-pro_code-execution',
      'pyd_gemini-2.0-flash_google-search', 'pyd_gpt-5_web-search_cached_stream',
    ]));
    for (const c of server) expect(c.count.exact).toBe(false);
  });

  it('Anthropic is never exact', () => {
    for (const c of cases.filter((x) => x.provider === 'anthropic')) expect(c.count.exact).toBe(false);
  });
});

describe('the fit reads the fit split only', () => {
  const asFit = (c: AccuracyCase): FitCase => ({ name: c.name, split: c.split, endpoint: c.endpoint, model: c.model, body: c.body, billed: c.billed });
  it('refuses a held-back exchange', () => {
    const held = cases.find((c) => c.split === 'holdout' && c.provider === 'anthropic') as AccuracyCase;
    expect(() => fitEstimates([asFit(held)])).toThrow(/holdout split/);
  });
  it('the committed constants are what the fit split produces (npm run gen writes them)', () => {
    const fit = fitEstimates(cases.filter((c) => c.split === 'fit' && c.provider !== 'openai').map(asFit));
    expect(fit.anthropic.factor).toBe(ANTHROPIC_FITTED.factor);
    expect(fit.anthropic.costs).toEqual(ANTHROPIC_FITTED.costs);
    expect(fit.gemini.costs).toEqual(GEMINI_FITTED.costs);
  });
});
