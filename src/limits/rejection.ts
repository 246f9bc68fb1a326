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

/** x-ratelimit-* headers (OpenAI's names and formats), also sent on allowed responses. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'x-ratelimit-limit-tokens': amount(state.limit),
    'x-ratelimit-remaining-tokens': amount(Math.max(0, state.remaining)),
    'x-ratelimit-reset-tokens': formatReset(state.resetMs),
  };
}

function errorBody(provider: Provider, status: number, message: string): string {
  switch (provider) {
    case 'anthropic':
      return JSON.stringify({ type: 'error', error: { type: status === 429 ? 'rate_limit_error' : status === 503 ? 'overloaded_error' : status === 401 ? 'authentication_error' : 'invalid_request_error', message } });
    case 'gemini':
      return JSON.stringify({ error: { code: status, message, status: status === 429 ? 'RESOURCE_EXHAUSTED' : status === 503 ? 'UNAVAILABLE' : status === 401 ? 'UNAUTHENTICATED' : 'INVALID_ARGUMENT' } });
    default:
      return JSON.stringify({ error: { message, type: status === 429 ? 'tokens' : status === 503 ? 'server_error' : 'invalid_request_error', param: null, code: status === 429 ? 'rate_limit_exceeded' : status === 503 ? 'service_unavailable' : 'invalid_request' } });
  }
}

/** 429: the budget `limitName` of `policy` is spent until the window resets. */
export function tokenLimitRejection(provider: Provider, policy: string, limitName: string, state: RateLimitState, unit: 'tokens' | 'USD'): Rejection {
  const retryAfter = Math.max(1, Math.ceil(state.resetMs / 1000));
  const message = `Rate limit reached for ${unit === 'USD' ? 'spend' : 'tokens'} on limit "${limitName}" of policy "${policy}": `
    + `limit ${amount(state.limit)}${unit === 'USD' ? ' USD' : ''}, remaining ${amount(Math.max(0, state.remaining))}. Please try again in ${formatReset(state.resetMs)}.`;
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
