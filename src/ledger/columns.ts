/**
 * The ledger's tables, described once for both stores: the raw records (`usage_records`, one row per metered
 * request) and the daily roll-ups (`usage_daily`: day × policy × subject × model totals, maintained in the same
 * transaction as the rows they sum). Times are integer milliseconds since the epoch (UTC) and days `YYYY-MM-DD`
 * (UTC) in both stores, so the read queries (query.ts) are the same SQL for SQLite and PostgreSQL.
 */
import { recordModel, type UsageRecord } from './record.js';

export type ColumnType = 'id' | 'text' | 'int' | 'real' | 'flag';

/** Raw record columns, in write order. `limit_name`: `limit` is an SQL keyword. */
export const RECORD_COLUMNS = [
  ['id', 'id'], ['request_id', 'text'], ['ts', 'int'], ['day', 'text'], ['policy', 'text'], ['limit_name', 'text'],
  ['tier', 'text'], ['override', 'text'], ['subject', 'text'], ['provider', 'text'], ['endpoint', 'text'],
  ['request_model', 'text'], ['response_model', 'text'], ['model', 'text'],
  ['input_tokens', 'int'], ['cached_input_tokens', 'int'], ['cache_write_tokens', 'int'], ['output_tokens', 'int'],
  ['reasoning_tokens', 'int'], ['usage_source', 'text'], ['cost_usd', 'real'], ['price_version', 'text'],
  ['decision', 'text'], ['rejected', 'flag'], ['status', 'int'], ['stream', 'flag'], ['duration_ms', 'real'],
] as const satisfies readonly (readonly [string, ColumnType])[];

export type RecordColumn = (typeof RECORD_COLUMNS)[number][0];

/** Columns that may be NULL (absent values); every other column is NOT NULL. */
export const NULLABLE = new Set<RecordColumn>(['policy', 'limit_name', 'tier', 'override', 'subject', 'request_model', 'response_model', 'status']);

/** The summed columns of a roll-up row (besides `requests` and `rejected`). */
export const TOTALS = ['input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens', 'cost_usd'] as const;

/** The key of a roll-up row. NULL policy/subject are stored as '' (a key column cannot be NULL). */
export const ROLLUP_KEY = ['day', 'policy', 'subject', 'model'] as const;

/** `YYYY-MM-DD` of a time in UTC. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export type Cell = string | number | null;

/** A record as a row of RECORD_COLUMNS values. */
export function recordRow(r: UsageRecord): Cell[] {
  return [
    r.id, r.requestId, r.ts, utcDay(r.ts), r.policy, r.limit, r.tier, r.override, r.subject, r.provider, r.endpoint,
    r.requestModel, r.responseModel, recordModel(r),
    r.inputTokens, r.cachedInputTokens, r.cacheWriteTokens, r.outputTokens, r.reasoningTokens, r.usageSource, r.costUsd,
    r.priceVersion, r.decision, r.rejected ? 1 : 0, r.status, r.stream ? 1 : 0, r.durationMs,
  ];
}

/** Position of a column in recordRow(). */
export function columnIndex(name: RecordColumn): number {
  return RECORD_COLUMNS.findIndex(([c]) => c === name);
}
