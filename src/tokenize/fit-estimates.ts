/**
 * Fits the estimate constants (fitted-constants.ts) on recorded exchanges: the `fit` split of test/fixtures/llm only.
 * `fitEstimates` refuses any exchange of another split, so the held-back exchanges can judge the result honestly.
 *
 * Model: billed ≈ base + Σ θ_f · x_f, where base is what the request shows (text through the tokenizer, published
 * figures such as Anthropic's tool-use system prompt, media formulas) and x_f the count of each fitted feature
 * (messages, tools, …). For Anthropic the text tokens are a feature too (θ = Claude tokens per o200k token). θ is
 * the maximum a posteriori estimate: squared relative error (weights 1/billed², an assumed spread of RESIDUAL_SPREAD)
 * plus a Gaussian prior per feature (a documented or plausible value and how far it may be off). A feature the fit
 * split shows in few requests cannot then absorb whatever those requests disagree on — e.g. a recording made before
 * the provider changed its tool prompt — and a feature absent from the fit split keeps its prior. Requests with
 * server-side tools are left out (their input is not in the request). Pure: no file access.
 */
import type { Endpoint } from '../llm/types.js';
import { planInputTokens, type FittedCosts } from './count-request.js';
import { evaluatePlan } from './plan.js';

export interface FitCase {
  name: string;
  split: string;
  endpoint: Endpoint;
  model: string;
  body: unknown;
  /** Input tokens the provider billed, in tokenmeter's terms. */
  billed: number;
}

export interface FittedConstants {
  anthropic: { factor: number; costs: Record<string, number>; fitCases: number };
  gemini: { costs: Record<string, number>; fitCases: number };
}

/**
 * Prior per fitted feature: [value, standard deviation] in tokens per unit (text: Claude tokens per o200k token).
 * Framing costs (per message, per tool definition, per tool call) are a few tokens; prompts whose size nobody
 * publishes (structured output, strict tools, tool input examples, Gemini response schemas) get a wide prior so the
 * fit decides.
 */
const PRIORS: Record<'anthropic' | 'gemini', Record<string, readonly [number, number]>> = {
  anthropic: {
    text: [1.12, 0.1], 'anthropic.message': [4, 5], 'anthropic.tool': [8, 5], 'anthropic.tool_use': [3, 10],
    'anthropic.tool_result': [3, 10], 'anthropic.thinking': [29, 20], 'anthropic.structured_output': [130, 100],
    'anthropic.strict_tool': [0, 100], 'anthropic.tool_examples': [0, 100],
  },
  gemini: {
    'gemini.function_declaration': [10, 10], 'gemini.property': [3, 5], 'gemini1.function_declaration': [10, 10],
    'gemini1.property': [3, 5], 'gemini.function_call': [2, 5], 'gemini.function_response': [2, 5],
    'gemini.response_schema': [0, 100],
  },
};
/** Assumed spread of the relative error of a request (the scale the priors' deviations are weighed against). */
const RESIDUAL_SPREAD = 0.05;
/** Reweighting rounds of the least-absolute-deviations fit, and the relative error below which a weight stops growing. */
const LAD_ROUNDS = 50;
const LAD_FLOOR = 0.005;

const ZERO: FittedCosts = { anthropicFactor: 0, anthropic: {}, gemini: {} };

interface Row {
  y: number;
  base: number;
  x: number[];
}

/** Solves (AᵀWA + Λ)θ = AᵀW(y − base) + Λθ₀ (W = weight/billed², Λ = (spread/sd)²) by Gaussian elimination. */
function solveWeighted(rows: Row[], weights: readonly number[], prior: number[], sd: number[]): number[] {
  const k = prior.length;
  const m = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  for (const [n, r] of rows.entries()) {
    const w = (weights[n] as number) / (r.y * r.y);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) (m[i] as number[])[j] = ((m[i] as number[])[j] as number) + w * (r.x[i] as number) * (r.x[j] as number);
      (m[i] as number[])[k] = ((m[i] as number[])[k] as number) + w * (r.x[i] as number) * (r.y - r.base);
    }
  }
  for (let i = 0; i < k; i++) {
    const lambda = (RESIDUAL_SPREAD / (sd[i] as number)) ** 2;
    (m[i] as number[])[i] = ((m[i] as number[])[i] as number) + lambda;
    (m[i] as number[])[k] = ((m[i] as number[])[k] as number) + lambda * (prior[i] as number);
  }
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs((m[r] as number[])[c] as number) > Math.abs((m[p] as number[])[c] as number)) p = r;
    [m[c], m[p]] = [m[p] as number[], m[c] as number[]];
    const piv = (m[c] as number[])[c] as number;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = ((m[r] as number[])[c] as number) / piv;
      for (let j = c; j <= k; j++) (m[r] as number[])[j] = ((m[r] as number[])[j] as number) - f * ((m[c] as number[])[j] as number);
    }
  }
  return m.map((row, i) => (row[k] as number) / (row[i] as number));
}

/**
 * Least absolute relative deviations (iteratively reweighted least squares: each request weighted by the inverse of
 * its error, floored at LAD_FLOOR), so requests that follow another regime do not pull every constant towards them.
 */
function solve(rows: Row[], prior: number[], sd: number[]): number[] {
  let theta = solveWeighted(rows, rows.map(() => 1), prior, sd);
  for (let round = 0; round < LAD_ROUNDS; round++) {
    const weights = rows.map((r) => {
      const fitted = r.base + r.x.reduce((acc, x, i) => acc + x * (theta[i] as number), 0);
      return RESIDUAL_SPREAD / Math.max(LAD_FLOOR, Math.abs(fitted - r.y) / r.y);
    });
    theta = solveWeighted(rows, weights, prior, sd);
  }
  return theta;
}

/** Raw decomposition of one request with every fitted cost at zero. */
function decompose(c: FitCase): { base: number; text: number; features: Record<string, number>; serverTools: boolean } {
  const plan = planInputTokens(c.endpoint, c.body, { model: c.model }, ZERO);
  const text = evaluatePlan({ ...plan, fixed: 0, factor: 1 }).tokens;
  const features: Record<string, number> = {};
  // planInputTokens applied zero costs; re-read the features from a fresh builder pass through the plan's fixed part.
  const withOnes = (name: string): number => {
    const costs: FittedCosts = { anthropicFactor: 0, anthropic: { [name]: 1 }, gemini: { [name]: 1 } };
    return planInputTokens(c.endpoint, c.body, { model: c.model }, costs).fixed - plan.fixed;
  };
  const names = c.endpoint === 'anthropic.messages' ? Object.keys(PRIORS.anthropic) : Object.keys(PRIORS.gemini);
  for (const n of names) if (n !== 'text') features[n] = withOnes(n);
  return { base: plan.fixed, text, features, serverTools: (plan.serverTools ?? []).length > 0 };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Fits both providers' constants. Throws if any case is not from the `fit` split. */
export function fitEstimates(cases: readonly FitCase[]): FittedConstants {
  const foreign = cases.find((c) => c.split !== 'fit');
  if (foreign) throw new Error(`fitEstimates: ${foreign.name} belongs to the ${foreign.split} split`);
  const anthropic: Row[] = [];
  const gemini: Row[] = [];
  for (const c of cases) {
    if (c.billed <= 0) continue;
    const d = decompose(c);
    if (d.serverTools) continue;
    if (c.endpoint === 'anthropic.messages') {
      anthropic.push({ y: c.billed, base: d.base, x: Object.keys(PRIORS.anthropic).map((n) => (n === 'text' ? d.text : (d.features[n] ?? 0))) });
    } else if (c.endpoint === 'gemini.generate' || c.endpoint === 'gemini.stream') {
      gemini.push({ y: c.billed, base: d.base + d.text, x: Object.keys(PRIORS.gemini).map((n) => d.features[n] ?? 0) });
    }
  }
  const aNames = Object.keys(PRIORS.anthropic);
  const aPrior = Object.values(PRIORS.anthropic);
  const aTheta = solve(anthropic, aPrior.map(([v]) => v), aPrior.map(([, sd]) => sd));
  const gNames = Object.keys(PRIORS.gemini);
  const gPrior = Object.values(PRIORS.gemini);
  const gTheta = solve(gemini, gPrior.map(([v]) => v), gPrior.map(([, sd]) => sd));
  const aCosts: Record<string, number> = {};
  aNames.forEach((n, i) => {
    if (n !== 'text') aCosts[n] = round(aTheta[i] as number, 1);
  });
  const gCosts: Record<string, number> = {};
  gNames.forEach((n, i) => (gCosts[n] = round(gTheta[i] as number, 1)));
  return {
    anthropic: { factor: round(aTheta[aNames.indexOf('text')] as number, 3), costs: aCosts, fitCases: anthropic.length },
    gemini: { costs: gCosts, fitCases: gemini.length },
  };
}

/** The generated fitted-constants.ts for these constants. */
export function fittedConstantsSource(c: FittedConstants): string {
  const obj = (o: Record<string, number>): string => `{ ${Object.entries(o).map(([k, v]) => `'${k}': ${v}`).join(', ')} }`;
  return [
    '// Generated by scripts/fit-estimates.mjs from the `fit` split of test/fixtures/llm (never the holdout). Do not edit:',
    '// run `npm run gen`; `npm test` fails when these differ from what the fit produces.',
    '',
    '/** Claude tokens per o200k token on text, and the cost of each fitted request feature (tokens per unit). */',
    'export const ANTHROPIC_FITTED = {',
    `  factor: ${c.anthropic.factor},`,
    `  costs: ${obj(c.anthropic.costs)},`,
    `  fitCases: ${c.anthropic.fitCases},`,
    '} as const;',
    '',
    '/** Cost of each fitted Gemini request feature (tokens per unit); text is exact (Gemma vocabulary). */',
    'export const GEMINI_FITTED = {',
    `  costs: ${obj(c.gemini.costs)},`,
    `  fitCases: ${c.gemini.fitCases},`,
    '} as const;',
    '',
  ].join('\n');
}
