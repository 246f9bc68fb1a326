/**
 * Input-token count of a parsed request body, before it goes upstream.
 *
 * - OpenAI shapes with a known OpenAI model (or one named in `overrides`, or `opts.model` from config): exact BPE
 *   plus the chat format's overhead (openai-format.ts), `exact: true` unless the body has media, tool calls,
 *   pathological runs, … For an unknown model (DeepSeek, an Azure deployment name) the same count with
 *   DEFAULT_ENCODING is returned with `exact: false`.
 * - Anthropic: an estimate from Anthropic's published figures and fitted constants (anthropic-estimate.ts), never exact.
 * - Gemini: text counted exactly with the model's Gemma vocabulary (gemini-vocab.ts), `exact: true` for text-only
 *   requests; media, tools and schemas estimated (gemini-estimate.ts).
 * - Requests with server-side tools carry `serverTools` and are never exact (server-tools.ts).
 * Malformed bodies never throw: whatever is countable is counted.
 *
 * `countInputTokens` is synchronous and meant for small bodies; `countInputTokensAsync` slices the work and yields
 * to the event loop (or, when given a pool, counts large bodies on a worker thread).
 */
import type { Endpoint, InputCount } from '../llm/types.js';
import { anthropicPlan } from './anthropic-estimate.js';
import { ANTHROPIC_FITTED, GEMINI_FITTED } from './fitted-constants.js';
import { GEMINI_FEATURES, GEMINI_LEGACY_FEATURES, geminiPlan } from './gemini-estimate.js';
import { gemmaTokenizer, geminiTokenization } from './gemini-vocab.js';
import { serverTools } from './server-tools.js';
import { normalizeModel, replyPrimingTokens, resolveEncoding, type EncodingOverrides } from './encodings.js';
import { chatPlan, openAiFormat, promptPlan, responsesPlan } from './openai-format.js';
import { evaluatePlan, evaluatePlanAsync, isObj, PlanBuilder, planChars, type CountPlan } from './plan.js';
import type { AsyncCountOptions } from './text-count.js';
import { createTokenizer, type TokenizerImpl } from './tokenizer.js';

export interface CountOptions {
  /** The model, when config knows better than the body (Azure deployments); otherwise body.model is used. */
  model?: string;
  /** Model / deployment name → encoding (config). */
  overrides?: EncodingOverrides;
  /** Tokenizer implementation (default: the fastest exact one). */
  impl?: TokenizerImpl;
}

export interface AsyncCountRequestOptions extends CountOptions, AsyncCountOptions {
  /** Bodies with more text than this are counted by `offload` when given (default 64 Ki chars). */
  offloadAboveChars?: number;
  /** Counts a plan elsewhere (e.g. WorkerPool.count); falls back to in-thread slicing when absent. */
  offload?: (plan: CountPlan) => Promise<InputCount>;
}

/** Fitted per-feature costs, per provider (fitted-constants.ts); the fitter passes zeros to read raw features. */
export interface FittedCosts {
  anthropicFactor: number;
  anthropic: Readonly<Record<string, number>>;
  gemini: Readonly<Record<string, number>>;
}

export const FITTED: FittedCosts = { anthropicFactor: ANTHROPIC_FITTED.factor, anthropic: ANTHROPIC_FITTED.costs, gemini: GEMINI_FITTED.costs };

/** Gemini: exact text with the model's Gemma vocabulary when its file is available, else the o200k estimate. */
function geminiCountPlan(b: PlanBuilder, obj: Record<string, unknown>, model: string | undefined, costs: FittedCosts, opts: CountOptions): CountPlan {
  const t = geminiTokenization(model);
  const tok = gemmaTokenizer(t.vocabulary);
  geminiPlan(b, obj, tok ? t.perContent : 0, t.vocabulary === 'gemma' ? GEMINI_LEGACY_FEATURES : GEMINI_FEATURES);
  b.applyFeatures(costs.gemini);
  if (tok) return b.build(tok, tok.name);
  b.exact = false;
  return b.build(createTokenizer('o200k_base', opts.impl), 'estimate:gemini');
}

/** Build the count plan for a body: cheap (no tokenization; the first Gemini request loads its vocabulary). */
export function planInputTokens(endpoint: Endpoint, body: unknown, opts: CountOptions = {}, costs: FittedCosts = FITTED): CountPlan {
  const obj = isObj(body) ? body : {};
  const bodyModel = typeof obj['model'] === 'string' ? obj['model'] : undefined;
  const model = opts.model ?? bodyModel;
  const b = new PlanBuilder();
  const tools = serverTools(endpoint, obj, model);
  if (tools.length > 0) b.serverTools = tools;
  if (endpoint === 'anthropic.messages') {
    anthropicPlan(b, obj, model);
    b.applyFeatures(costs.anthropic);
    return b.build(createTokenizer('o200k_base', opts.impl), 'estimate:anthropic', costs.anthropicFactor);
  }
  if (endpoint === 'gemini.generate' || endpoint === 'gemini.stream') return geminiCountPlan(b, obj, model, costs, opts);
  const { encoding, known } = resolveEncoding(model, opts.overrides);
  const fmt = openAiFormat(encoding, model, replyPrimingTokens(model === undefined ? undefined : normalizeModel(model)));
  switch (endpoint) {
    case 'openai.chat':
      chatPlan(b, fmt, obj);
      break;
    case 'openai.responses':
      responsesPlan(b, fmt, obj);
      break;
    case 'openai.completions':
      promptPlan(b, obj['prompt']);
      break;
    case 'openai.embeddings':
      promptPlan(b, obj['input']);
      break;
  }
  if (!known) b.exact = false;
  return b.build(createTokenizer(encoding, opts.impl), encoding);
}

/** Synchronous count (small bodies; bounded cost, but ~100 ms per MB of text). */
export function countInputTokens(endpoint: Endpoint, body: unknown, opts: CountOptions = {}): InputCount {
  return evaluatePlan(planInputTokens(endpoint, body, opts), undefined);
}

/** Same count without blocking the event loop for more than ~budgetMs at a time. */
export async function countInputTokensAsync(
  endpoint: Endpoint,
  body: unknown,
  opts: AsyncCountRequestOptions = {},
): Promise<InputCount> {
  const plan = planInputTokens(endpoint, body, opts);
  if (opts.offload !== undefined && planChars(plan) > (opts.offloadAboveChars ?? 65536)) return opts.offload(plan);
  return evaluatePlanAsync(plan, opts);
}
