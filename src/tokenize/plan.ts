/**
 * A count plan: what a request body contributes, gathered without tokenizing (cheap), then evaluated either
 * synchronously or in slices that yield to the event loop. tokens = round(factor · Σ BPE(texts)) + fixed.
 */
import type { InputCount } from '../llm/types.js';
import { countText, countTextAsync, DEFAULT_MAX_RUN, Yielder, type AsyncCountOptions } from './text-count.js';
import type { Tokenizer } from './tokenizer.js';

export interface CountPlan {
  tokenizer: Tokenizer;
  /** Text counted with `tokenizer` (bounded cost; long runs make the result an estimate). */
  texts: string[];
  /** Tokens added as-is: format overhead, media estimates. */
  fixed: number;
  /** Multiplier applied to the BPE count (1 for OpenAI; calibrated for other providers' estimates). */
  factor: number;
  /** Reported encoding / estimator name. */
  encoding: string;
  /** false when any part of the plan is an estimate. */
  exact: boolean;
  /** Server-side tools the request enables (server-tools.ts). */
  serverTools?: string[];
}

/** Counts of the request features whose per-unit cost is fitted (fitted-constants.ts), by feature name. */
export type Features = Record<string, number>;

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Accumulates a plan while walking a body of unknown shape. */
export class PlanBuilder {
  readonly texts: string[] = [];
  readonly features: Features = {};
  fixed = 0;
  exact = true;
  serverTools: string[] | undefined;

  /** Count `v` if it is a non-empty string; returns whether it was. */
  text(v: unknown): boolean {
    if (typeof v !== 'string') return false;
    if (v.length > 0) this.texts.push(v);
    return true;
  }
  /** Exact format overhead. */
  add(tokens: number): void {
    this.fixed += tokens;
  }
  /** An estimated contribution: makes the whole count inexact. */
  estimate(tokens: number): void {
    this.fixed += tokens;
    this.exact = false;
  }
  /** `n` units of a fitted feature (its cost is applied by `applyFeatures`); makes the count an estimate. */
  feature(name: string, n = 1): void {
    this.exact = false;
    this.features[name] = (this.features[name] ?? 0) + n;
  }
  /** Adds the fitted cost of the recorded features: Σ cost[name] · count. */
  applyFeatures(cost: Readonly<Record<string, number>>): void {
    for (const [name, n] of Object.entries(this.features)) this.fixed += (cost[name] ?? 0) * n;
  }
  /** Count arbitrary JSON as its compact serialisation (estimate). */
  json(v: unknown): void {
    this.exact = false;
    if (v === undefined) return;
    try {
      const s = JSON.stringify(v);
      if (s) this.texts.push(s);
    } catch {
      // cyclic cannot come from JSON.parse; BigInt neither. Nothing countable.
    }
  }
  build(tokenizer: Tokenizer, encoding: string, factor = 1): CountPlan {
    const plan: CountPlan = { tokenizer, texts: this.texts, fixed: this.fixed, factor, encoding, exact: this.exact };
    if (this.serverTools) plan.serverTools = this.serverTools;
    return plan;
  }
}

function finish(plan: CountPlan, textTokens: number, estimated: boolean): InputCount {
  const tokens = Math.max(0, Math.round(plan.factor * textTokens + plan.fixed));
  const count: InputCount = { tokens, encoding: plan.encoding, exact: plan.exact && !estimated && plan.factor === 1 && !plan.serverTools };
  if (plan.serverTools) count.serverTools = plan.serverTools;
  return count;
}

export function evaluatePlan(plan: CountPlan, maxRun: number = DEFAULT_MAX_RUN): InputCount {
  let total = 0;
  let estimated = false;
  for (const t of plan.texts) {
    const c = countText(plan.tokenizer, t, maxRun);
    total += c.tokens;
    estimated ||= c.estimated;
  }
  return finish(plan, total, estimated);
}

export async function evaluatePlanAsync(plan: CountPlan, opts: AsyncCountOptions = {}): Promise<InputCount> {
  const yielder = new Yielder(opts.budgetMs);
  let total = 0;
  let estimated = false;
  for (const t of plan.texts) {
    const c = await countTextAsync(plan.tokenizer, t, opts, yielder);
    total += c.tokens;
    estimated ||= c.estimated;
  }
  return finish(plan, total, estimated);
}

/** Total characters of text in a plan (to decide between the sync path, the async path and a worker). */
export function planChars(plan: CountPlan): number {
  let n = 0;
  for (const t of plan.texts) n += t.length;
  return n;
}
