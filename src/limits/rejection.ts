/**
 * What a rejected request gets back, shaped as its provider would answer so SDKs retry correctly: status, the
 * provider's error body, `retry-after` and OpenAI's x-ratelimit-* headers, and a `details` string for Envoy's access
 * log (%RESPONSE_CODE_DETAILS%). Pure.
 */
import type { Provider } from '../llm/types.js';

export interface RateLimitState {
  /** The limit's budget (tokens, or USD for cost limits). */
  limit: number;
  /** What is left after this request (never negative). */
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

export interface Rejection {
  status: number;
  headers: Record<string, string>;
  body: string;
  details: string;
}

/** OpenAI's reset format: "1s", "6m0s", "1h2m3s", "20ms". */
export function formatReset(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return `${total}ms`;
  let s = Math.ceil(total / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

function amount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

/** The text of a budget, once per number: budgets are few and constant, and every allowed response sends one. */
const budgetTexts = new Map<number, string>();

function budgetText(n: number): string {
  let t = budgetTexts.get(n);
  if (t === undefined) {
    if (budgetTexts.size >= 10_000) budgetTexts.clear();
    budgetTexts.set(n, (t = amount(n)));
  }
  return t;
}

/** x-ratelimit-* headers (OpenAI's names and formats), also sent on allowed responses. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'x-ratelimit-limit-tokens': budgetText(state.limit),
    'x-ratelimit-remaining-tokens': amount(Math.max(0, state.remaining)),
    'x-ratelimit-reset-tokens': formatReset(state.resetMs),
  };
}

/** OpenAI's `param` and `code` for a 400 (defaults: null, invalid_request). */
interface OpenAiDetail { param?: string; code?: string }

function errorBody(provider: Provider, status: number, message: string, detail: OpenAiDetail = {}): string {
  switch (provider) {
    case 'anthropic':
      return JSON.stringify({ type: 'error', error: { type: status === 429 ? 'rate_limit_error' : status === 503 ? 'overloaded_error' : status === 401 ? 'authentication_error' : 'invalid_request_error', message } });
    case 'gemini':
      return JSON.stringify({ error: { code: status, message, status: status === 429 ? 'RESOURCE_EXHAUSTED' : status === 503 ? 'UNAVAILABLE' : status === 401 ? 'UNAUTHENTICATED' : 'INVALID_ARGUMENT' } });
    default: {
      const code = status === 429 ? 'rate_limit_exceeded' : status === 503 ? 'service_unavailable' : detail.code ?? 'invalid_request';
      return JSON.stringify({ error: { message, type: status === 429 ? 'tokens' : status === 503 ? 'server_error' : 'invalid_request_error', param: detail.param ?? null, code } });
    }
  }
}

/** What a request reserves on a limit, for messages: `4316 tokens (220 input + 4096 output, <why>)`. */
export interface ReservedAmount {
  /** In the limit's unit (tokens, or USD). */
  amount: number;
  inputTokens: number;
  outputTokens: number;
  /** Why the output reservation is what it is, e.g. "the request's max_tokens". */
  outputReason: string;
}

function describeReserved(r: ReservedAmount, unit: 'tokens' | 'USD'): string {
  const total = unit === 'USD' ? `${amount(r.amount)} USD` : `${amount(r.amount)} tokens`;
  return `${total} (${r.inputTokens} input + ${r.outputTokens} output tokens: ${r.outputReason})`;
}

/** 429: the budget `limitName` of `policy` is spent until the window resets (or reservations in flight settle). */
export function tokenLimitRejection(
  provider: Provider, policy: string, limitName: string, state: RateLimitState,
  opts: { unit: 'tokens' | 'USD'; reserved?: ReservedAmount; /** It fits once the requests in flight settle. */ inFlight?: boolean },
): Rejection {
  const { unit, reserved } = opts;
  // Held by reservations of requests in flight: they settle within seconds, not at the window's end.
  const waitMs = opts.inFlight ? 1000 : state.resetMs;
  const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
  const needs = reserved ? `; this request reserves ${describeReserved(reserved, unit)}` : '';
  const held = opts.inFlight ? ', most of it reserved by requests in flight' : '';
  const message = `Rate limit reached for ${unit === 'USD' ? 'spend' : 'tokens'} on limit "${limitName}" of policy "${policy}": `
    + `limit ${amount(state.limit)}${unit === 'USD' ? ' USD' : ''}, remaining ${amount(Math.max(0, state.remaining))}${held}${needs}. Please try again in ${formatReset(waitMs)}.`;
  return {
    status: 429,
    headers: { 'content-type': 'application/json', 'retry-after': String(retryAfter), ...rateLimitHeaders(state) },
    body: errorBody(provider, 429, message),
    details: `tokenmeter_rate_limited{${policy}/${limitName}}`,
  };
}

/** 503 when the counter store cannot answer and the policy fails closed. */
export function storeUnavailableRejection(provider: Provider, policy: string): Rejection {
  return {
    status: 503,
    headers: { 'content-type': 'application/json', 'retry-after': '1' },
    body: errorBody(provider, 503, `Token budget store unavailable and policy "${policy}" fails closed; please retry shortly.`),
    details: `tokenmeter_store_unavailable{${policy}}`,
  };
}

/** 400/401 when a policy needs a subject (tenant header, API key, JWT claim…) that the request lacks and onMissing is Reject. */
export function missingSubjectRejection(provider: Provider, policy: string, status: 400 | 401, reason: string): Rejection {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: errorBody(provider, status, `Request rejected by policy "${policy}": ${reason}`),
    details: `tokenmeter_subject_missing{${policy}}`,
  };
}

/** What a request that can never fit a limit is told (see `neverFitsRejection`). */
export interface NeverFitsDetail {
  policy: string;
  limit: string;
  unit: 'tokens' | 'USD';
  /** The limit's whole budget (tokens, or USD) and window text. */
  budget: number;
  window: string;
  reserved: ReservedAmount;
  /** The provider's output cap field (max_completion_tokens…), when the endpoint has one. */
  capField?: string;
  /** The largest output cap that fits every limit; < 1 when the input alone is too large. */
  maxOutput: number;
}

/**
 * 400 (never retried by the OpenAI, Anthropic or Gemini SDKs; no retry-after): the request's smallest reservation is
 * larger than a limit's whole budget, so waiting cannot help. Says what would make it fit.
 */
export function neverFitsRejection(provider: Provider, d: NeverFitsDetail): Rejection {
  const budget = d.unit === 'USD' ? `${amount(d.budget)} USD` : `${amount(d.budget)} tokens`;
  const fix = d.maxOutput >= 1 && d.capField !== undefined
    ? `Set ${d.capField} to at most ${d.maxOutput} (or shorten the input) and send it again.`
    : `The input alone is more than the budget allows: shorten it and send it again.`;
  const message = `Request can never fit limit "${d.limit}" of policy "${d.policy}": it reserves ${describeReserved(d.reserved, d.unit)} `
    + `and the limit's whole budget is ${budget} per ${d.window}. ${fix}`;
  const detail: OpenAiDetail = { code: 'token_budget_exceeded', ...(d.maxOutput >= 1 && d.capField !== undefined ? { param: d.capField } : {}) };
  return {
    status: 400,
    headers: { 'content-type': 'application/json' },
    body: errorBody(provider, 400, message, detail),
    details: `tokenmeter_never_fits{${d.policy}/${d.limit}}`,
  };
}

/** 400 for a tier value the policy does not declare, with onUnknown: Reject. */
export function unknownTierRejection(provider: Provider, policy: string, reason: string): Rejection {
  return {
    status: 400,
    headers: { 'content-type': 'application/json' },
    body: errorBody(provider, 400, `Request rejected by policy "${policy}": ${reason}`, { code: 'unknown_tier' }),
    details: `tokenmeter_tier_unknown{${policy}}`,
  };
}
