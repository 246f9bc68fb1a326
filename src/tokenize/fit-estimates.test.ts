import { describe, expect, it } from 'vitest';
import { planInputTokens, type FittedCosts } from './count-request.js';
import { fitEstimates, type FitCase } from './fit-estimates.js';
import { evaluatePlan } from './plan.js';

/** Synthetic Anthropic requests billed by a known rule, so the fit's answer is known. */
const WORDS = ['alpha', 'budget', 'cluster', 'delta', 'envoy', 'fixture', 'gateway', 'holdout', 'input', 'judge'];
const TRUE = { factor: 1.1, message: 6, tool: 12 };
const MODEL = 'claude-sonnet-4-5'; // published tool prompt: 496 (auto)

function body(i: number): Record<string, unknown> {
  const text = Array.from({ length: 5 + ((i * 7) % 40) }, (_, k) => WORDS[(i + k * 3) % WORDS.length]).join(' ');
  const messages = Array.from({ length: 1 + (i % 3) * 2 }, (_, k) => ({ role: k % 2 ? 'assistant' : 'user', content: `${text} ${k}` }));
  const tools = Array.from({ length: i % 3 }, (_, k) => ({ name: `tool_${k}`, description: '', input_schema: { type: 'object', properties: {} } }));
  return { model: MODEL, max_tokens: 10, messages, ...(tools.length > 0 ? { tools } : {}) };
}

function billed(b: Record<string, unknown>): number {
  const zero: FittedCosts = { anthropicFactor: 1, anthropic: {}, gemini: {} };
  const plan = planInputTokens('anthropic.messages', b, { model: MODEL }, zero);
  const text = evaluatePlan({ ...plan, fixed: 0 }).tokens;
  const tools = Array.isArray(b['tools']) ? b['tools'].length : 0;
  return Math.round(TRUE.factor * text + TRUE.message * (b['messages'] as unknown[]).length + TRUE.tool * tools + plan.fixed);
}

describe('fitEstimates', () => {
  const cases: FitCase[] = Array.from({ length: 24 }, (_, i) => {
    const b = body(i);
    return { name: `synthetic-${i}`, split: 'fit', endpoint: 'anthropic.messages', model: MODEL, body: b, billed: billed(b) };
  });

  it('recovers the constants a consistent set of requests was billed with', () => {
    const fit = fitEstimates(cases).anthropic;
    expect(Math.abs(fit.factor - TRUE.factor)).toBeLessThan(0.01);
    expect(fit.costs['anthropic.message']).toBeGreaterThan(TRUE.message - 1.5);
    expect(fit.costs['anthropic.message']).toBeLessThan(TRUE.message + 1.5);
    expect(Math.abs((fit.costs['anthropic.tool'] as number) - TRUE.tool)).toBeLessThan(2);
  });

  it('a few requests from another regime (a tool prompt 150 tokens smaller) do not drag the constants', () => {
    const shifted = cases.map((c, i) => (i % 6 === 1 && /tools/.test(JSON.stringify(c.body)) ? { ...c, billed: c.billed - 150 } : c));
    expect(shifted.filter((c, i) => c.billed !== cases[i]?.billed).length).toBeGreaterThanOrEqual(3);
    const fit = fitEstimates(shifted).anthropic;
    expect(Math.abs((fit.costs['anthropic.tool'] as number) - TRUE.tool)).toBeLessThan(3);
    expect(fit.factor).toBeCloseTo(TRUE.factor, 1);
  });

  it('a feature the fit split never shows keeps its prior', () => {
    expect(fitEstimates(cases).anthropic.costs['anthropic.tool_examples']).toBe(0);
  });

  it('refuses an exchange that is not from the fit split', () => {
    expect(() => fitEstimates([{ ...(cases[0] as FitCase), split: 'holdout' }])).toThrow(/holdout split/);
  });
});
