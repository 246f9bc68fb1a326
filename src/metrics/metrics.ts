/**
 * Every Prometheus metric the data plane exports, on a private registry (no global state). Label sets are fixed and
 * bounded: provider (3 values + unknown), model (normalised, capped), token type, source, status class, phase, reason.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ModelLabels } from './model-label.js';
import { SubjectUsageMetric } from './subject-usage.js';
import { createLedgerMetrics, type LedgerMetrics } from './ledger-metrics.js';

/** OpenTelemetry GenAI semantic conventions: gen_ai.client.token.usage explicit bucket boundaries. */
export const GENAI_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

export type TokenType = 'input' | 'output' | 'cached_input' | 'cache_write' | 'reasoning';

export interface Metrics {
  registry: Registry;
  models: ModelLabels;
  tokens: Counter<'type' | 'provider' | 'model' | 'source'>;
  requests: Counter<'provider' | 'model' | 'status_class'>;
  unmetered: Counter;
  genaiTokenUsage: Histogram<'gen_ai_operation_name' | 'gen_ai_provider_name' | 'gen_ai_request_model' | 'gen_ai_response_model' | 'gen_ai_token_type'>;
  messageDuration: Histogram<'message'>;
  requestDuration: Histogram<'provider'>;
  precountError: Histogram<'provider' | 'exact' | 'server_tools'>;
  openStreams: Gauge;
  parseFailures: Counter<'phase' | 'reason'>;
  streamErrors: Counter<'reason'>;
  costUSD: Counter<'provider' | 'model'>;
  limitDecisions: Counter<'policy' | 'limit' | 'tier' | 'outcome'>;
  reservationError: Histogram<'policy' | 'limit'>;
  settleDuration: Histogram;
  storeDuration: Histogram<'store' | 'op'>;
  storeErrors: Counter<'store'>;
  policiesLoaded: Gauge;
  policyReloads: Counter<'result'>;
  /** 1 for the limits version loaded from the operator's ConfigMap (only the current one is kept). */
  policiesVersion: Gauge<'version'>;
  /** Subjects near or over a limit (thresholded, capped): see subject-usage.ts. */
  subjectUsage: SubjectUsageMetric;
  ledger: LedgerMetrics;
}

export interface MetricsOptions {
  maxModelLabels: number;
  /** Also export Node.js process metrics (CPU, memory, event loop lag). */
  processMetrics?: boolean;
  /** tokenmeter_budget_subject_usage_ratio: share from which a subject is exported (default 0.8) and series cap (default 100). */
  subjectUsage?: { threshold: number; maxSeries: number };
}

/** The options `tokenmeter extproc` and `tokenmeter console` take from their config. */
export function metricsOptionsOf(c: { maxModelLabels: number; subjectMetricThreshold: number; subjectMetricMaxSeries: number }): MetricsOptions {
  return { maxModelLabels: c.maxModelLabels, subjectUsage: { threshold: c.subjectMetricThreshold, maxSeries: c.subjectMetricMaxSeries } };
}

export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'tokenmeter_' });
  const registers = [registry];
  return {
    registry,
    models: new ModelLabels(opts.maxModelLabels),
    tokens: new Counter({
      name: 'tokenmeter_tokens_total', help: 'Tokens metered, by type (input, output, cached_input, cache_write, reasoning), provider, model and source (provider or estimated).',
      labelNames: ['type', 'provider', 'model', 'source'], registers,
    }),
    requests: new Counter({
      name: 'tokenmeter_requests_total', help: 'Metered LLM requests by provider, model and upstream status class (2xx, 4xx, 5xx, none when the stream ended before a response).',
      labelNames: ['provider', 'model', 'status_class'], registers,
    }),
    unmetered: new Counter({ name: 'tokenmeter_unmetered_requests_total', help: 'Requests that matched no LLM endpoint and passed through untouched.', registers }),
    genaiTokenUsage: new Histogram({
      name: 'gen_ai_client_token_usage', help: 'OpenTelemetry GenAI semantic convention gen_ai.client.token.usage: tokens per request by token type.',
      labelNames: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model', 'gen_ai_token_type'],
      buckets: GENAI_TOKEN_BUCKETS, registers,
    }),
    messageDuration: new Histogram({
      name: 'tokenmeter_extproc_message_duration_seconds', help: 'Time to answer one ext_proc message, by message kind.',
      labelNames: ['message'], buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2], registers,
    }),
    requestDuration: new Histogram({
      name: 'tokenmeter_request_duration_seconds', help: 'Lifetime of one ext_proc stream (one HTTP request), by provider.',
      labelNames: ['provider'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers,
    }),
    precountError: new Histogram({
      name: 'tokenmeter_input_precount_relative_error', help: 'Absolute relative error of the input pre-count against the input tokens the provider reported.',
      labelNames: ['provider', 'exact', 'server_tools'], buckets: [0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1], registers,
    }),
    openStreams: new Gauge({ name: 'tokenmeter_open_streams', help: 'ext_proc streams currently open.', registers }),
    parseFailures: new Counter({
      name: 'tokenmeter_parse_failures_total', help: 'Bodies that could not be fully read (passed through unchanged), by phase (request, response) and reason.',
      labelNames: ['phase', 'reason'], registers,
    }),
    streamErrors: new Counter({
      name: 'tokenmeter_stream_errors_total', help: 'ext_proc streams that ended abnormally (protocol misuse, gRPC errors), by reason. Envoy cancelling a finished stream is not counted.',
      labelNames: ['reason'], registers,
    }),
    costUSD: new Counter({
      name: 'tokenmeter_cost_usd_total', help: 'Estimated spend in USD at built-in list prices (see README), by provider and model.',
      labelNames: ['provider', 'model'], registers,
    }),
    limitDecisions: new Counter({
      name: 'tokenmeter_limit_decisions_total',
      help: 'Budget decisions by policy, limit, tier (a declared tier name, empty without tiers) and outcome (allowed, clamped, limited, never-fits, dry-run-limited, exempt, store-error, subject-missing, tier-unknown).',
      labelNames: ['policy', 'limit', 'tier', 'outcome'], registers,
    }),
    reservationError: new Histogram({
      name: 'tokenmeter_reservation_error_ratio', help: '(settled - reserved) / reserved per limit: negative = reserved too much (released at settle), positive = overshoot.',
      labelNames: ['policy', 'limit'], buckets: [-1, -0.9, -0.75, -0.5, -0.25, -0.1, 0, 0.1, 0.25, 0.5, 1, 2, 5], registers,
    }),
    settleDuration: new Histogram({
      name: 'tokenmeter_settle_duration_seconds', help: 'Time to settle a request\'s reservations with the counter store.',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25], registers,
    }),
    storeDuration: new Histogram({
      name: 'tokenmeter_store_duration_seconds', help: 'Counter store round trips by store (memory, redis) and operation (reserve, settle).',
      labelNames: ['store', 'op'], buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.25], registers,
    }),
    storeErrors: new Counter({ name: 'tokenmeter_store_errors_total', help: 'Counter store operations that failed (store unreachable or timed out).', labelNames: ['store'], registers }),
    policiesLoaded: new Gauge({ name: 'tokenmeter_policies_loaded', help: 'TokenPolicies currently enforced.', registers }),
    policyReloads: new Counter({ name: 'tokenmeter_policy_reloads_total', help: 'Policy reloads by result (ok, invalid: some files had errors and their previous policies were kept).', labelNames: ['result'], registers }),
    policiesVersion: new Gauge({
      name: 'tokenmeter_policies_version_info', help: 'The limits version loaded from the operator\'s ConfigMap (--policies-configmap): 1 for the current version.',
      labelNames: ['version'], registers,
    }),
    subjectUsage: new SubjectUsageMetric({ threshold: opts.subjectUsage?.threshold ?? 0.8, maxSeries: opts.subjectUsage?.maxSeries ?? 100, registers }),
    ledger: createLedgerMetrics(registers),
  };
}
