/**
 * What a request costs a limit, in the limit's unit (tokens, or USD for costUSD limits).
 *
 * Usage is split into disjoint kinds (input includes cached input and cache writes; output includes reasoning):
 *   uncached = input − cachedInput − cacheWrite,  visible = output − reasoning   (each floored at 0)
 * - Input: input. Output: output. Total: input + output.
 * - Weighted: w.input·uncached + w.cacheWrite·cacheWrite + w.cachedInput·cachedInput + w.output·visible
 *   + w.reasoning·reasoning (every token weighted once, by its kind).
 * - USD: (p.input·uncached + p.cacheWrite·cacheWrite + p.cachedInput·cachedInput + p.output·output) / 1e6, prices
 *   per million tokens from the policy's pricing, then the built-ins. A model with no price is charged at
 *   FALLBACK_PRICE (a current flagship price, so an unknown model is neither free nor wildly overcharged) and the
 *   charge is flagged `unpriced` for the log line and metrics; a policy can set its own with `model: "*"`.
 *
 * Reservation (before the request goes upstream): the input pre-count plus the output reservation (MaxTokens and
 * Clamp: the request's cap, else the model's output limit, else reservation.defaultMaxTokens; Observed: the caller's
 * p95, at least minOutputTokens, at most the cap; None: 0). Which input will be cached and which output will be
 * reasoning is unknown then, so each is charged at the highest weight (or price) its kinds can have: input at
 * max(input, cachedInput, cacheWrite), output at max(output, reasoning). A reservation is therefore an upper bound of
 * the real charge whenever the real input and output stay within the pre-count and the reserved output. It is never
 * reduced to fit: a reservation larger than a limit's whole budget can never be admitted, and src/limits answers it
 * with a non-retryable error saying what would make it fit (src/limits/fit.ts).
 */
import type { Usage } from '../llm/types.js';
import { lookupPrice, priceSourceVersion, type PriceLookup, type PriceMatch } from './prices.js';
import type { CountMode, Limit, Price, PriceOverride, Reservation } from './types.js';

/** Token counts of one request. Non-negative integers; input includes cached input and cache writes. */
export interface TokenUsage {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
}

export interface Charge {
  /** In the limit's unit: tokens (may be fractional for Weighted) or USD. */
  amount: number;
  unit: 'tokens' | 'usd';
  /** Cost limits: the model had no price and FALLBACK_PRICE was used. */
  unpriced: boolean;
}

/** Price used for models neither the policy nor the built-in table prices (USD per million tokens). */
export const FALLBACK_PRICE: Price = { input: 5, cachedInput: 5, cacheWrite: 5, output: 25 };

/** Converts metered usage (unknown = undefined) to counts; unknown counts as 0. */
export function tokenUsage(u: Usage): TokenUsage {
  return {
    input: u.inputTokens ?? 0, cachedInput: u.cachedInputTokens ?? 0, cacheWrite: u.cacheWriteTokens ?? 0,
    output: u.outputTokens ?? 0, reasoning: u.reasoningTokens ?? 0,
  };
}

interface Parts { uncached: number; cacheWrite: number; cached: number; visible: number; reasoning: number }

function parts(u: TokenUsage): Parts {
  const nn = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);
  const cached = nn(u.cachedInput);
  const cacheWrite = nn(u.cacheWrite);
  const reasoning = nn(u.reasoning);
  return { uncached: nn(u.input - cached - cacheWrite), cacheWrite, cached, visible: nn(u.output - reasoning), reasoning };
}

/** Cost in USD of `usage` at `price` (USD per million tokens). */
export function costUSD(usage: TokenUsage, price: Price): number {
  const p = parts(usage);
  return (p.uncached * price.input + p.cacheWrite * price.cacheWrite + p.cached * price.cachedInput +
    (p.visible + p.reasoning) * price.output) / 1e6;
}

export interface PriceChoice {
  price: Price;
  /** No price was found: FALLBACK_PRICE was used. */
  unpriced: boolean;
  /** `policy`, `genai-prices@X.Y.Z (date)`, or `fallback`: what a spend record keeps with its cost. */
  source: string;
}

/**
 * The price a cost limit uses for `model` (tiered by `hint.inputTokens`, provider from `hint`), and whether it is the
 * fallback.
 */
export function priceFor(model: string | undefined, pricing: readonly PriceOverride[], hint: PriceLookup = {}): PriceChoice {
  return priceChoice(lookupPrice(model, pricing, hint));
}

/** A looked-up price as charged: the match's, or FALLBACK_PRICE flagged unpriced when nothing matched. */
export function priceChoice(m: PriceMatch | undefined): PriceChoice {
  return m ? { price: m.price, unpriced: false, source: priceSourceVersion(m) ?? 'policy' } : { price: FALLBACK_PRICE, unpriced: true, source: 'fallback' };
}

function tokens(limit: Extract<Limit, { kind: 'tokens' }>, p: Parts): number {
  const input = p.uncached + p.cacheWrite + p.cached;
  const output = p.visible + p.reasoning;
  switch (limit.count) {
    case 'Input': return input;
    case 'Output': return output;
    case 'Total': return input + output;
    case 'Weighted': {
      const w = limit.weights;
      return w.input * p.uncached + w.cacheWrite * p.cacheWrite + w.cachedInput * p.cached + w.output * p.visible + w.reasoning * p.reasoning;
    }
  }
}

export interface ChargeContext {
  model?: string;
  /** The policy's pricing overrides. */
  pricing: readonly PriceOverride[];
  /** Provider and upstream host, for the catalogue's provider-specific prices. */
  hint?: Omit<PriceLookup, 'inputTokens'>;
}

/** What `usage` costs `limit`. */
export function chargeFor(limit: Limit, usage: TokenUsage, ctx: ChargeContext): Charge {
  if (limit.kind === 'cost') {
    const { price, unpriced } = priceFor(ctx.model, ctx.pricing, { ...ctx.hint, inputTokens: usage.input });
    return { amount: costUSD(usage, price), unit: 'usd', unpriced };
  }
  return { amount: tokens(limit, parts(usage)), unit: 'tokens', unpriced: false };
}

export interface ReservationRequest {
  /** Exact (or estimated) input pre-count. */
  inputTokens: number;
  /** The request's output cap (max_tokens…), when it has one. */
  maxOutputTokens?: number;
  /** Observed p95 of output tokens (this subject's for the model, else the model's), when the caller tracks it. */
  observedP95?: number;
  /** The model's own output limit (src/policy/output-limits.ts), for requests without a cap. */
  modelMaxOutput?: number;
}

/** The request's own output cap, when it has one. */
function requestCap(req: ReservationRequest): number | undefined {
  return req.maxOutputTokens !== undefined && req.maxOutputTokens >= 0 ? Math.ceil(req.maxOutputTokens) : undefined;
}

/**
 * Output tokens a request reserves under `reservation` (Clamp: before any clamping, which src/limits does against
 * the counters' usage). Without a cap the model's own output limit is the true upper bound; defaultMaxTokens for
 * unknown models (and for Observed before any history).
 */
export function reservedOutputTokens(reservation: Reservation, req: ReservationRequest): number {
  const cap = requestCap(req);
  switch (reservation.output) {
    case 'None': return 0;
    case 'Observed': {
      const seen = req.observedP95 !== undefined && req.observedP95 >= 0 ? Math.ceil(req.observedP95) : reservation.defaultMaxTokens;
      return Math.min(Math.max(seen, reservation.minOutputTokens), cap ?? Infinity, req.modelMaxOutput ?? Infinity);
    }
    case 'MaxTokens':
    case 'Clamp': return cap ?? req.modelMaxOutput ?? reservation.defaultMaxTokens;
  }
}

/**
 * A reservation as a linear function of the output tokens reserved: `input + perOutputToken × output`, in the limit's
 * unit. Input is charged at the highest weight (or price) its kinds can have, output at max(output, reasoning).
 */
export interface ReservationParts {
  input: number;
  perOutputToken: number;
  unit: 'tokens' | 'usd';
  unpriced: boolean;
}

export function reservationParts(limit: Limit, inputTokens: number, ctx: ChargeContext): ReservationParts {
  const input = Math.max(0, inputTokens);
  if (limit.kind === 'cost') {
    const p = priceFor(ctx.model, ctx.pricing);
    const inputPrice = Math.max(p.price.input, p.price.cachedInput, p.price.cacheWrite);
    return { input: (input * inputPrice) / 1e6, perOutputToken: p.price.output / 1e6, unit: 'usd', unpriced: p.unpriced };
  }
  const w = limit.weights;
  const weighted = limit.count === 'Weighted';
  const counts = (kind: CountMode): boolean => kind === limit.count || limit.count === 'Total' || weighted;
  return {
    input: counts('Input') ? input * (weighted ? Math.max(w.input, w.cachedInput, w.cacheWrite) : 1) : 0,
    perOutputToken: counts('Output') ? (weighted ? Math.max(w.output, w.reasoning) : 1) : 0,
    unit: 'tokens', unpriced: false,
  };
}

/** What `limit` reserves for a request before it goes upstream (see the module comment). Never clamped. */
export function reservationFor(limit: Limit, reservation: Reservation, req: ReservationRequest, ctx: ChargeContext): Charge {
  const p = reservationParts(limit, req.inputTokens, ctx);
  return { amount: p.input + p.perOutputToken * reservedOutputTokens(reservation, req), unit: p.unit, unpriced: p.unpriced };
}

function roundUp(n: number): number {
  return Math.ceil(Math.round(n * 1e6) / 1e6);
}

/**
 * An amount as an integer for counter stores: tokens rounded up, USD as micro-dollars rounded up. Use the same
 * conversion for the budget (`counterBudget`).
 */
export function counterUnits(limit: Limit, amount: number): number {
  return roundUp(limit.kind === 'cost' ? amount * 1e6 : amount);
}

/** A limit's budget in counter units (tokens, or micro-dollars). */
export function counterBudget(limit: Limit): number {
  return limit.kind === 'cost' ? Math.floor(Math.round(limit.costUSD * 1e12) / 1e6) : limit.tokens;
}
