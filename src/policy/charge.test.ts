import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FALLBACK_PRICE, chargeFor, costUSD, counterBudget, counterUnits, reservationFor, reservationParts, reservedOutputTokens, tokenUsage, type TokenUsage,
} from './charge.js';
import { overridePrice } from './prices.js';
import type { CostLimit, CountMode, Reservation, TokenLimit, Weights } from './types.js';

const ONES: Weights = { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 };
const win = { kind: 'fixed', ms: 60_000, text: '1m' } as const;
const tokenLimit = (count: CountMode, weights: Weights = ONES, tokens = 1_000_000): TokenLimit =>
  ({ name: 'l', kind: 'tokens', tokens, count, weights, window: win, perModel: false });
const costLimit = (costUSD = 100): CostLimit => ({ name: 'c', kind: 'cost', costUSD, window: win, perModel: false });

// 1000 input of which 300 cached and 200 cache writes (so 500 uncached); 400 output of which 100 reasoning.
const usage: TokenUsage = { input: 1000, cachedInput: 300, cacheWrite: 200, output: 400, reasoning: 100 };
const ctx = { pricing: [] };

describe('chargeFor: token limits', () => {
  it.each<[CountMode, Weights, number]>([
    ['Input', ONES, 1000],
    ['Output', ONES, 400],
    ['Total', ONES, 1400],
    ['Weighted', ONES, 1400],
    // 500·1 + 200·2 + 300·0.1 + 300·4 + 100·8
    ['Weighted', { input: 1, cacheWrite: 2, cachedInput: 0.1, output: 4, reasoning: 8 }, 500 + 400 + 30 + 1200 + 800],
    ['Weighted', { input: 0, cacheWrite: 0, cachedInput: 0, output: 1, reasoning: 0 }, 300],
  ])('%s %j', (count, weights, want) => {
    const c = chargeFor(tokenLimit(count, weights), usage, ctx);
    expect(c.unit).toBe('tokens');
    expect(c.amount).toBeCloseTo(want, 9);
    expect(c.unpriced).toBe(false);
  });

  it('floors inconsistent parts at 0', () => {
    const odd: TokenUsage = { input: 10, cachedInput: 30, cacheWrite: 0, output: 5, reasoning: 9 };
    const w = { input: 1, cacheWrite: 1, cachedInput: 1, output: 1, reasoning: 1 };
    expect(chargeFor(tokenLimit('Weighted', w), odd, ctx).amount).toBe(30 + 9);
    expect(chargeFor(tokenLimit('Total'), { input: -5, cachedInput: 0, cacheWrite: 0, output: Number.NaN, reasoning: 0 }, ctx).amount).toBe(0);
  });

  it('converts metered usage, unknown as 0', () => {
    expect(tokenUsage({ inputTokens: 5, outputTokens: 2 })).toEqual({ input: 5, cachedInput: 0, cacheWrite: 0, output: 2, reasoning: 0 });
  });
});

describe('chargeFor: cost limits', () => {
  it.each<[string, number]>([
    // gpt-4o: 500·2.5 + 200·2.5 + 300·1.25 + 400·10, per million
    ['gpt-4o-2024-08-06', (500 * 2.5 + 200 * 2.5 + 300 * 1.25 + 400 * 10) / 1e6],
    // claude-sonnet-4-5: cache writes at 1.25× input
    ['claude-sonnet-4-5', (500 * 3 + 200 * 3.75 + 300 * 0.3 + 400 * 15) / 1e6],
    ['gemini-2.5-flash', (500 * 0.3 + 200 * 0.3 + 300 * 0.03 + 400 * 2.5) / 1e6],
  ])('%s', (model, want) => {
    const c = chargeFor(costLimit(), usage, { model, pricing: [] });
    expect(c).toEqual({ amount: expect.closeTo(want, 12) as number, unit: 'usd', unpriced: false });
  });

  it('prices unknown models at the fallback, flagged; a policy "*" price replaces it', () => {
    expect(chargeFor(costLimit(), usage, { model: 'llama-3', pricing: [] })).toEqual({ amount: costUSD(usage, FALLBACK_PRICE), unit: 'usd', unpriced: true });
    expect(chargeFor(costLimit(), usage, { pricing: [] }).unpriced).toBe(true);
    const pricing = [overridePrice({ model: '*', input: 1, output: 1 })];
    expect(chargeFor(costLimit(), usage, { model: 'llama-3', pricing })).toEqual({ amount: 1400 / 1e6, unit: 'usd', unpriced: false });
  });
});

describe('reservations', () => {
  const res = (output: Reservation['output'], defaultMaxTokens = 4096, minOutputTokens = 1): Reservation => ({ output, defaultMaxTokens, minOutputTokens });

  it.each<[Reservation, { maxOutputTokens?: number; observedP95?: number; modelMaxOutput?: number }, number]>([
    [res('MaxTokens'), { maxOutputTokens: 500 }, 500],
    [res('MaxTokens'), {}, 4096],
    [res('MaxTokens'), { modelMaxOutput: 16_384 }, 16_384],
    [res('MaxTokens', 100), { observedP95: 50 }, 100],
    [res('Clamp'), { maxOutputTokens: 500, modelMaxOutput: 16_384 }, 500],
    [res('Clamp'), { modelMaxOutput: 16_384 }, 16_384],
    [res('Clamp', 300), {}, 300],
    [res('Observed'), { observedP95: 250.2 }, 251],
    [res('Observed'), { observedP95: 900, maxOutputTokens: 300 }, 300],
    [res('Observed'), { maxOutputTokens: 300 }, 300],
    [res('Observed', 64), {}, 64],
    // the floor raises a small p95, but never above the request's own cap or the model's limit
    [res('Observed', 4096, 256), { observedP95: 20 }, 256],
    [res('Observed', 4096, 256), { observedP95: 20, maxOutputTokens: 100 }, 100],
    [res('Observed', 4096, 256), { modelMaxOutput: 1000 }, 1000],
    [res('None'), { maxOutputTokens: 500 }, 0],
    // endpoints without output (embeddings): the caller passes a cap of 0
    [res('MaxTokens'), { maxOutputTokens: 0 }, 0],
    [res('Observed'), { maxOutputTokens: 0, observedP95: 40 }, 0],
  ])('%j with %j reserves %d output tokens', (reservation, req, want) => {
    expect(reservedOutputTokens(reservation, { inputTokens: 10, ...req })).toBe(want);
  });

  it.each<[TokenLimit, number]>([
    [tokenLimit('Input'), 1000],
    [tokenLimit('Output'), 500],
    [tokenLimit('Total'), 1500],
    // input at max(input, cachedInput, cacheWrite) weight, output at max(output, reasoning) weight
    [tokenLimit('Weighted', { input: 2, cacheWrite: 9, cachedInput: 0.1, output: 3, reasoning: 5 }), 9000 + 2500],
    [tokenLimit('Weighted', { input: 2, cacheWrite: 1, cachedInput: 0.1, output: 3, reasoning: 0 }), 2000 + 1500],
  ])('token limit %#', (limit, want) => {
    expect(reservationFor(limit, res('MaxTokens'), { inputTokens: 1000, maxOutputTokens: 500 }, ctx)).toEqual(
      { amount: want, unit: 'tokens', unpriced: false });
  });

  it('prices cost reservations at the highest input price (Anthropic cache writes) plus output', () => {
    const r = reservationFor(costLimit(), res('MaxTokens'), { inputTokens: 1000, maxOutputTokens: 500 }, { model: 'gpt-4o', pricing: [] });
    expect(r).toEqual({ amount: expect.closeTo((1000 * 2.5 + 500 * 10) / 1e6, 12) as number, unit: 'usd', unpriced: false });
    const c = reservationFor(costLimit(), res('MaxTokens'), { inputTokens: 1000, maxOutputTokens: 500 }, { model: 'claude-sonnet-4-5', pricing: [] });
    expect(c.amount).toBeCloseTo((1000 * 3.75 + 500 * 15) / 1e6, 12);
    expect(reservationFor(costLimit(), res('None'), { inputTokens: 1000 }, { model: 'llama', pricing: [] })).toMatchObject({ unpriced: true });
  });

  it('is never reduced to fit a budget: larger than the whole budget is for src/limits to refuse', () => {
    const small = tokenLimit('Total', ONES, 2000);
    expect(reservationFor(small, res('MaxTokens'), { inputTokens: 1000, maxOutputTokens: 100_000 }, ctx)).toMatchObject({ amount: 101_000 });
    expect(reservationFor(small, res('None'), { inputTokens: 5000 }, ctx)).toMatchObject({ amount: 5000 });
  });

  it('is linear in the output: input part + per-output-token rate', () => {
    expect(reservationParts(tokenLimit('Weighted', { input: 2, cacheWrite: 9, cachedInput: 0.1, output: 3, reasoning: 5 }), 1000, ctx))
      .toEqual({ input: 9000, perOutputToken: 5, unit: 'tokens', unpriced: false });
    expect(reservationParts(tokenLimit('Input'), 1000, ctx)).toMatchObject({ input: 1000, perOutputToken: 0 });
    expect(reservationParts(tokenLimit('Output'), 1000, ctx)).toMatchObject({ input: 0, perOutputToken: 1 });
    const usd = reservationParts(costLimit(), 1000, { model: 'gpt-4o', pricing: [] });
    expect(usd.input).toBeCloseTo(2500 / 1e6, 12);
    expect(usd.perOutputToken).toBeCloseTo(10 / 1e6, 12);
  });

  it('a reservation bounds the real charge when real use stays within it (property)', () => {
    const counts = fc.constantFrom<CountMode>('Input', 'Output', 'Total', 'Weighted');
    const weight = fc.double({ min: 0, max: 10, noNaN: true });
    const weights = fc.record({ input: weight, cachedInput: weight, cacheWrite: weight, output: weight, reasoning: weight });
    const models = fc.constantFrom('gpt-4o', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'unknown-model');
    const split = fc.tuple(fc.nat(100_000), fc.nat(100_000), fc.nat(100_000), fc.nat(10_000), fc.nat(10_000));
    fc.assert(fc.property(counts, weights, models, split, (count, w, model, [input, cached, written, out, reasoning]) => {
      const real: TokenUsage = {
        input, cachedInput: Math.min(cached, input), cacheWrite: Math.min(written, input - Math.min(cached, input)), output: out,
        reasoning: Math.min(reasoning, out),
      };
      const req = { inputTokens: input, maxOutputTokens: out };
      for (const limit of [tokenLimit(count, w, Number.MAX_SAFE_INTEGER), costLimit(Number.MAX_SAFE_INTEGER)]) {
        const c = { model, pricing: [] };
        const reserved = reservationFor(limit, res('MaxTokens'), req, c).amount;
        expect(chargeFor(limit, real, c).amount).toBeLessThanOrEqual(reserved * (1 + 1e-12) + 1e-9);
      }
    }));
  });
});

describe('counter units', () => {
  it.each<[TokenLimit | CostLimit, number, number]>([
    [tokenLimit('Total'), 10, 10],
    [tokenLimit('Weighted'), 0.1 + 0.2, 1],
    [tokenLimit('Weighted'), 3.0000000000000004, 3],
    [tokenLimit('Weighted'), 2.5, 3],
    [costLimit(), 0.0123, 12300],
    [costLimit(), 1e-9, 1],
    [costLimit(), 0, 0],
  ])('%#: %d → %d', (limit, amount, want) => {
    expect(counterUnits(limit, amount)).toBe(want);
  });

  it('budgets: tokens as is, USD in micro-dollars', () => {
    expect(counterBudget(tokenLimit('Total', ONES, 5000))).toBe(5000);
    expect(counterBudget(costLimit(500))).toBe(500_000_000);
    expect(counterBudget(costLimit(0.0000015))).toBe(1);
  });
});
