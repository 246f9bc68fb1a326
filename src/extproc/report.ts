/**
 * Turning one finished request into its outputs: Prometheus samples, the usage log line and the io.tokenmeter
 * dynamic metadata. No prompt or completion text is ever part of a record.
 */
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Endpoint, InputCount, Provider } from '../llm/types.js';
import { precountRelativeError } from '../metering/outcome.js';
import type { Usage } from '../llm/types.js';
import { statusClass } from './headers.js';
import { namespacedMetadata } from './metadata.js';
import type { Struct } from '../gen/google/protobuf/Struct.js';
import type { AdmissionLog } from '../limits/limiter.js';
import { costUSD, priceChoice, tokenUsage } from '../policy/charge.js';
import { listPriceOf, type SettledRequest } from '../ledger/record.js';

/** What the session reports when a request ends: the settled request the ledger records, and what only the log shows. */
export interface RequestRecord extends SettledRequest {
  precount?: InputCount;
  reportedUsage?: Usage;
  problems: readonly string[];
  injectedIncludeUsage: boolean;
}

const OPERATION: Record<Endpoint, string> = {
  'openai.chat': 'chat', 'openai.completions': 'text_completion', 'openai.responses': 'chat', 'openai.embeddings': 'embeddings',
  'anthropic.messages': 'chat', 'gemini.generate': 'generate_content', 'gemini.stream': 'generate_content',
};
const GENAI_PROVIDER: Record<Provider, string> = { openai: 'openai', anthropic: 'anthropic', gemini: 'gcp.gemini' };

/**
 * Spend at built-in list prices (or the fallback price for unknown models), for the cost metric and log; the
 * catalogue is looked up once per request (listPriceOf), shared with the log line and the usage record.
 */
export function listCostUSD(r: RequestRecord): { usd: number; unpriced: boolean; source: string } {
  const o = r.outcome;
  const { price, unpriced, source } = priceChoice(listPriceOf(r));
  const usd = costUSD(tokenUsage({ inputTokens: o.inputTokens, outputTokens: o.outputTokens, cachedInputTokens: o.cachedInputTokens, cacheWriteTokens: o.cacheWriteTokens, reasoningTokens: o.reasoningTokens }), price);
  return { usd, unpriced, source };
}

export function recordMetrics(metrics: Metrics, r: RequestRecord): void {
  const model = metrics.models.label(r.responseModel ?? r.requestModel);
  const { outcome } = r;
  metrics.requests.inc({ provider: r.provider, model, status_class: statusClass(r.status) });
  metrics.requestDuration.observe({ provider: r.provider }, r.durationSeconds);
  for (const reason of r.problems) metrics.parseFailures.inc({ phase: 'response', reason });
  if (outcome.source === 'none') return;
  const base = { provider: r.provider, model, source: outcome.source };
  const add = (type: string, n: number | undefined): void => {
    if (n !== undefined && n > 0) metrics.tokens.inc({ ...base, type }, n);
  };
  add('input', outcome.inputTokens);
  add('output', outcome.outputTokens);
  add('cached_input', outcome.cachedInputTokens);
  add('cache_write', outcome.cacheWriteTokens);
  add('reasoning', outcome.reasoningTokens);
  const cost = listCostUSD(r).usd;
  if (cost > 0) metrics.costUSD.inc({ provider: r.provider, model }, cost);
  const genai = {
    gen_ai_operation_name: OPERATION[r.endpoint], gen_ai_provider_name: GENAI_PROVIDER[r.provider],
    gen_ai_request_model: metrics.models.label(r.requestModel), gen_ai_response_model: model,
  };
  metrics.genaiTokenUsage.observe({ ...genai, gen_ai_token_type: 'input' }, outcome.inputTokens);
  if (r.endpoint !== 'openai.embeddings') metrics.genaiTokenUsage.observe({ ...genai, gen_ai_token_type: 'output' }, outcome.outputTokens);
  const err = precountRelativeError(r.precount, r.reportedUsage);
  // Requests with server-side tools are their own series: their input grows after the request (server-tools.ts).
  if (err !== undefined && r.precount) {
    metrics.precountError.observe({ provider: r.provider, exact: String(r.precount.exact), server_tools: String(r.precount.serverTools !== undefined) }, err);
  }
}

export function logRecord(logger: Logger, r: RequestRecord, admission?: AdmissionLog, charged?: Record<string, number>): void {
  const o = r.outcome;
  const cost = listCostUSD(r);
  logger.info({
    request_id: r.requestId, provider: r.provider, endpoint: r.endpoint, model: r.requestModel, response_model: r.responseModel,
    stream: r.stream, status: r.status ?? null, input_tokens: o.inputTokens, output_tokens: o.outputTokens, total_tokens: o.totalTokens,
    cached_input_tokens: o.cachedInputTokens, cache_write_tokens: o.cacheWriteTokens, reasoning_tokens: o.reasoningTokens,
    usage_source: o.source, precount_tokens: r.precount?.tokens, precount_encoding: r.precount?.encoding, precount_exact: r.precount?.exact,
    server_tools: r.precount?.serverTools,
    duration_ms: Math.round(r.durationSeconds * 1e4) / 10, problems: r.problems.length > 0 ? r.problems : undefined,
    injected_include_usage: r.injectedIncludeUsage || undefined,
    cost_usd: Math.round(cost.usd * 1e8) / 1e8, cost_unpriced: cost.unpriced || undefined, price_source: cost.source,
    subject: admission?.subject, policies: admission && admission.policies.length > 0 ? admission.policies : undefined,
    limits: admission && admission.limits.length > 0 ? admission.limits : undefined, decision: admission?.decision,
    reserved: admission?.reserved, charged, dry_run_limited: admission?.dry_run_limited,
    // Per policy: the tier and the override that applied (names or log ids, never a subject value or credential).
    tiers: admission?.tiers, tier_unknown: admission?.tier_unknown, overrides: admission?.overrides, exempt: admission?.exempt,
    output_clamped: admission?.output_clamped,
  }, 'request metered');
}

export function metadataFor(r: RequestRecord): Struct {
  const o = r.outcome;
  return namespacedMetadata({
    input_tokens: o.inputTokens, output_tokens: o.outputTokens, total_tokens: o.totalTokens,
    cached_input_tokens: o.cachedInputTokens, cache_write_tokens: o.cacheWriteTokens, reasoning_tokens: o.reasoningTokens,
    model: r.responseModel ?? r.requestModel, provider: r.provider, usage_source: o.source,
  });
}
