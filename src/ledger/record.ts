/**
 * The usage record: one per metered request, built once when the request has settled, from the session's final
 * numbers and the budget decision. Plain data and a pure builder: no database, no clock, no randomness (the caller
 * gives the id and the time). Never prompt or completion text, never a credential: the subject is the value the
 * request carried (Header, JWTClaim) or a hash (APIKey, ClientIP, or when the policy asks), see recordedSubject().
 */
import type { Endpoint, Provider } from '../llm/types.js';
import type { Outcome, UsageSource } from '../metering/outcome.js';
import { costUSD, FALLBACK_PRICE, tokenUsage } from '../policy/charge.js';
import { lookupPrice, priceLookupOf, type PriceMatch } from '../policy/prices.js';
import type { PriceOverride } from '../policy/types.js';
import { priceVersion } from './price-version.js';

export type Decision = 'allowed' | 'limited' | 'dry-run-limited' | 'store-error' | 'subject-missing' | 'never-fits' | 'tier-unknown' | 'none';

export interface UsageRecord {
  /** Unique id, assigned once when the record is built: the idempotency key of every write, retry and replay. */
  id: string;
  /** x-request-id as Envoy sent it ('' when absent); not unique (clients can reuse it). */
  requestId: string;
  /** When the request arrived, ms since the epoch (UTC). Days and windows are UTC. */
  ts: number;
  /** The policy the request is charged to (see Attribution in src/limits/limiter.ts); null when none matched. */
  policy: string | null;
  /** The limit that rejected the request (or would have, DryRun). */
  limit: string | null;
  /** Plan tier and per-subject override the policy applied, when the admission carries them. */
  tier: string | null;
  override: string | null;
  /** As recorded: the value (Header, JWTClaim) or a hash; null without a policy or when the request carried none. */
  subject: string | null;
  provider: Provider;
  endpoint: Endpoint;
  requestModel: string | null;
  responseModel: string | null;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  usageSource: UsageSource;
  costUsd: number;
  /** The price table used (priceVersion()), `policy:NS/NAME` for a policy's pricing override, `fallback` when unpriced. */
  priceVersion: string;
  decision: Decision;
  /** tokenmeter answered the request itself (a budget, a missing subject, or a store outage with failureMode Closed). */
  rejected: boolean;
  /** HTTP status the client got (the rejection's status when tokenmeter answered); null when none. */
  status: number | null;
  stream: boolean;
  durationMs: number;
}

/** What the record reads from the budget decision (a src/limits Admission is one). */
export interface AdmissionView {
  log: { decision: Decision; tier?: string | null; override?: string | null };
  attribution?: { policy: string; subject: string | null; limit?: string; pricing: readonly PriceOverride[] };
}

/** What the session knows when the request has settled. */
export interface SettledRequest {
  /** Rejected by tokenmeter before going upstream. */
  rejected: boolean;
  requestId: string;
  provider: Provider;
  endpoint: Endpoint;
  requestModel?: string;
  responseModel?: string;
  stream: boolean;
  status?: number;
  outcome: Outcome;
  durationSeconds: number;
  /** The upstream host (Azure, OpenAI-compatible hosts and Vertex are priced as their own provider). */
  apiHost?: string;
  /**
   * Memo of listPriceOf(): the catalogue's price for this request (null: none), once looked up. The cost metric, the
   * log line and the usage record of one request share the lookup (the catalogue search is most of a record's cost).
   */
  listPrice?: PriceMatch | null;
}

const MAX_TEXT = 256;
const text = (s: string | undefined | null): string | null => (s === undefined || s === null || s === '' ? null : s.slice(0, MAX_TEXT));

/** The model a record is priced and grouped by: what the response said, else what the request asked for. */
export function recordModel(r: Pick<UsageRecord, 'requestModel' | 'responseModel'>): string {
  return r.responseModel ?? r.requestModel ?? '';
}

/**
 * The request's list price, without policy overrides (lookupPrice(model, [], priceLookupOf(req))): looked up on the
 * first call and kept in `req.listPrice` for the next (the same request, moments later, gets the same answer).
 */
export function listPriceOf(req: SettledRequest): PriceMatch | undefined {
  if (req.listPrice === undefined) req.listPrice = lookupPrice(req.responseModel ?? req.requestModel, [], priceLookupOf(req)) ?? null;
  return req.listPrice ?? undefined;
}

function price(req: SettledRequest, a: AdmissionView['attribution']): { usd: (o: Outcome) => number; version: string } {
  const pricing = a?.pricing ?? [];
  const m = pricing.length === 0 ? listPriceOf(req) : lookupPrice(req.responseModel ?? req.requestModel, pricing, priceLookupOf(req));
  const p = m?.price ?? FALLBACK_PRICE;
  const version = !m ? 'fallback' : m.source === 'policy' ? `policy:${a?.policy ?? ''}` : priceVersion();
  return { usd: (o) => costUSD(tokenUsage(o), p), version };
}

export function buildUsageRecord(req: SettledRequest, admission: AdmissionView | undefined, id: string, ts: number): UsageRecord {
  const o = req.outcome;
  const a = admission?.attribution;
  const { usd, version } = price(req, a);
  return {
    id, requestId: req.requestId.slice(0, MAX_TEXT), ts,
    policy: a?.policy ?? null, limit: a?.limit ?? null,
    tier: text(admission?.log.tier), override: text(admission?.log.override), subject: text(a?.subject),
    provider: req.provider, endpoint: req.endpoint, requestModel: text(req.requestModel), responseModel: text(req.responseModel),
    inputTokens: o.inputTokens, cachedInputTokens: o.cachedInputTokens ?? 0, cacheWriteTokens: o.cacheWriteTokens ?? 0,
    outputTokens: o.outputTokens, reasoningTokens: o.reasoningTokens ?? 0, usageSource: o.source,
    costUsd: o.source === 'none' ? 0 : usd(o), priceVersion: version,
    decision: admission?.log.decision ?? 'none', rejected: req.rejected, status: req.status ?? null, stream: req.stream,
    durationMs: Math.round(req.durationSeconds * 1e4) / 10,
  };
}
