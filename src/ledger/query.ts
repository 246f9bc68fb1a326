/**
 * Reading the ledger: the one place that knows the record columns for reading. Spend totals over any time range
 * (whole UTC months from the monthly roll-ups, the other whole UTC days from the daily ones, the partial days at
 * either end from the raw rows), and the raw records of a subject, newest first, paged by a cursor. Both stores (SQLite, PostgreSQL) run the same SQL through SqlSource; the
 * spend, requests and budgets APIs, the `tokenmeter spend` command and the console read through here.
 */
import { RECORD_COLUMNS, TOTALS, utcDay } from './columns.js';

export type Param = string | number | null;
export type Row = Record<string, unknown>;

/** A store's read side: `?` placeholders (PostgreSQL's store numbers them). */
export interface SqlSource {
  readonly dialect: 'sqlite' | 'postgres';
  all(sql: string, params?: Param[]): Promise<Row[]>;
}

export const GROUP_KEYS = ['policy', 'subject', 'model', 'day', 'month'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

export interface SpendQuery {
  /** Inclusive start and exclusive end, ms since the epoch. */
  from: number;
  to: number;
  groupBy: readonly GroupKey[];
  policy?: string;
  /** Any of these subject forms (a value and its hash: see subjectForms). */
  subjects?: readonly string[];
  model?: string;
  /** The query's clock: a range reaching it reads the current day from the roll-ups (see splitRange). */
  now?: number;
}

export interface SpendRow {
  policy?: string | null;
  subject?: string | null;
  model?: string;
  day?: string;
  month?: string;
  requests: number;
  rejected_requests: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
}

export interface RequestsQuery {
  subjects?: readonly string[];
  policy?: string;
  from?: number;
  to?: number;
  /** Page size. */
  limit: number;
  /** The `next` cursor of the previous page. */
  cursor?: string;
}

/** A raw record as the APIs show it. */
export type RecordView = Record<string, string | number | boolean | null>;

export interface RequestsPage {
  records: RecordView[];
  /** Cursor of the next (older) page; null on the last page. */
  next: string | null;
}

export interface LedgerQuery {
  spend(q: SpendQuery): Promise<SpendRow[]>;
  requests(q: RequestsQuery): Promise<RequestsPage>;
  /** Refused (and DryRun would-be-refused) requests by policy, limit, decision and status (raw rows of the range). */
  refusals(q: RefusalsQuery): Promise<RefusalRow[]>;
  /** Totals per fixed time bucket (raw rows of the range; buckets aligned to multiples of bucketMs since the epoch). */
  buckets(q: BucketsQuery): Promise<BucketRow[]>;
  /** A cheap mark of today's roll-ups that changes whenever records are written (the live updates poll it). */
  changeMark(now: number): Promise<string>;
}

const DAY_MS = 86_400_000;
type Table = 'usage_records' | 'usage_daily' | 'usage_monthly';
const KEY_SQL: Record<GroupKey, string> = {
  policy: "coalesce(policy, '')", subject: "coalesce(subject, '')", model: 'model', day: 'day', month: 'substr(day, 1, 7)',
};
/** The monthly roll-ups have no day (splitRange leaves them out of a query grouped by day). */
const keySql = (table: Table, k: GroupKey): string => (table === 'usage_monthly' && k === 'month' ? 'month' : KEY_SQL[k]);

interface Range {
  table: Table;
  where: string;
  params: Param[];
}

/** The start of the UTC month `ms` falls in, plus `add` months. */
function monthStart(ms: number, add = 0): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1);
}

/** Whole days [from, to) as daily roll-ups, the whole months inside them as monthly roll-ups (when `months`). */
function dayRanges(from: number, to: number, months: boolean, reachesNow: boolean): Range[] {
  const daily = (a: number, b: number): Range[] => (a < b ? [{ table: 'usage_daily', where: 'day >= ? AND day < ?', params: [utcDay(a), utcDay(b)] }] : []);
  const firstMonth = monthStart(from - 1, 1);
  // Reaching now, the current month's roll-up holds everything recorded so far (as the current day's does).
  const lastMonth = reachesNow ? monthStart(to - 1, 1) : monthStart(to);
  if (!months || firstMonth >= lastMonth) return daily(from, to);
  const month = (ms: number): string => utcDay(ms).slice(0, 7);
  return [
    ...daily(from, firstMonth),
    { table: 'usage_monthly', where: 'month >= ? AND month < ?', params: [month(firstMonth), month(lastMonth)] },
    ...daily(lastMonth, to),
  ];
}

/**
 * The ranges a query reads: monthly roll-ups for the whole UTC months inside [from, to) (unless `months` is false:
 * a query grouped by day), daily roll-ups for the other whole UTC days, raw rows for the rest. A range that runs to
 * `now` or later takes the current day and month from their roll-ups too: the roll-ups are written with the
 * records, so today's and this month's hold everything recorded so far (a month-to-date report reads no raw rows).
 */
export function splitRange(from: number, to: number, now = Infinity, months = true): Range[] {
  const firstDay = Math.ceil(from / DAY_MS) * DAY_MS;
  const reachesNow = to >= now;
  const lastDay = (reachesNow ? Math.ceil(to / DAY_MS) : Math.floor(to / DAY_MS)) * DAY_MS;
  if (firstDay >= lastDay) return to > from ? [{ table: 'usage_records', where: 'ts >= ? AND ts < ?', params: [from, to] }] : [];
  const out: Range[] = [];
  if (from < firstDay) out.push({ table: 'usage_records', where: 'ts >= ? AND ts < ?', params: [from, firstDay] });
  out.push(...dayRanges(firstDay, lastDay, months, reachesNow));
  if (lastDay < to) out.push({ table: 'usage_records', where: 'ts >= ? AND ts < ?', params: [lastDay, to] });
  return out;
}

function filters(q: { policy?: string; subjects?: readonly string[]; model?: string }): { where: string; params: Param[] } {
  const parts: string[] = [];
  const params: Param[] = [];
  if (q.policy !== undefined) {
    parts.push('policy = ?');
    params.push(q.policy);
  }
  if (q.subjects && q.subjects.length > 0) {
    parts.push(`subject IN (${q.subjects.map(() => '?').join(', ')})`);
    params.push(...q.subjects);
  }
  if (q.model !== undefined) {
    parts.push('model = ?');
    params.push(q.model);
  }
  return { where: parts.map((p) => ` AND ${p}`).join(''), params };
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : '');

function spendSql(r: Range, q: SpendQuery): { sql: string; params: Param[] } {
  const keys = q.groupBy.map((k) => `${keySql(r.table, k)} AS ${k}`);
  const count = r.table === 'usage_records' ? 'count(*)' : 'sum(requests)';
  const sums = [`${count} AS requests`, 'sum(rejected) AS rejected_requests', ...TOTALS.map((c) => `sum(${c}) AS ${c}`)];
  const f = filters(q);
  const group = q.groupBy.length > 0 ? ` GROUP BY ${q.groupBy.map((k) => keySql(r.table, k)).join(', ')}` : '';
  return { sql: `SELECT ${[...keys, ...sums].join(', ')} FROM ${r.table} WHERE ${r.where}${f.where}${group}`, params: [...r.params, ...f.params] };
}

/** Time-grouped rows in time order (then by the other keys); others by cost, highest first. */
function compareRows(groupBy: readonly GroupKey[]): (a: SpendRow, b: SpendRow) => number {
  const order = [...groupBy.filter((k) => k === 'day' || k === 'month'), ...groupBy.filter((k) => k !== 'day' && k !== 'month')];
  const timeFirst = order.length > 0 && (order[0] === 'day' || order[0] === 'month');
  const keyOf = (r: SpendRow): string => order.map((k) => r[k] ?? '').join('\u0000');
  return (a, b) => {
    if (!timeFirst && a.cost_usd !== b.cost_usd) return b.cost_usd - a.cost_usd;
    return keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
  };
}

function newRow(groupBy: readonly GroupKey[], row: Row): SpendRow {
  const out: SpendRow = { requests: 0, rejected_requests: 0, input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cost_usd: 0 };
  for (const k of groupBy) {
    const v = str(row[k]);
    if (k === 'policy' || k === 'subject') out[k] = v === '' ? null : v;
    else out[k] = v;
  }
  return out;
}

async function spend(source: SqlSource, q: SpendQuery): Promise<SpendRow[]> {
  const merged = new Map<string, SpendRow>();
  for (const range of splitRange(q.from, q.to, q.now, !q.groupBy.includes('day'))) {
    const { sql, params } = spendSql(range, q);
    for (const row of await source.all(sql, params)) {
      if (q.groupBy.length === 0 && num(row.requests) === 0) continue;
      const key = q.groupBy.map((k) => str(row[k])).join('\u0000');
      const out = merged.get(key) ?? newRow(q.groupBy, row);
      merged.set(key, out);
      out.requests += num(row.requests);
      out.rejected_requests += num(row.rejected_requests);
      for (const c of TOTALS) out[c] += num(row[c]);
    }
  }
  const rows = [...merged.values()];
  for (const r of rows) r.cost_usd = Math.round(r.cost_usd * 1e10) / 1e10;
  return rows.sort(compareRows(q.groupBy));
}

const READ = RECORD_COLUMNS.filter(([c]) => c !== 'day');
const READ_COLUMNS = READ.map(([c]) => c);

/** A raw row as JSON: ts → time (ISO 8601, UTC), flags → booleans, numbers as numbers (PostgreSQL sends bigints as text). */
function view(row: Row): RecordView {
  const out: RecordView = {};
  for (const [c, type] of READ) {
    const v = row[c];
    if (c === 'ts') out.time = new Date(num(v)).toISOString();
    else if (v === null || v === undefined) out[c === 'limit_name' ? 'limit' : c] = null;
    else if (type === 'flag') out[c] = num(v) === 1;
    else if (type === 'int' || type === 'real') out[c] = num(v);
    else out[c === 'limit_name' ? 'limit' : c] = str(v);
  }
  return out;
}

function encodeCursor(ts: number, id: string): string {
  return Buffer.from(`${ts}:${id}`).toString('base64url');
}

/** The (ts, id) a cursor stands for; undefined when it is not one of ours. */
export function decodeCursor(cursor: string): { ts: number; id: string } | undefined {
  const m = /^(\d{1,16}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? { ts: Number(m[1]), id: m[2] as string } : undefined;
}

async function requests(source: SqlSource, q: RequestsQuery): Promise<RequestsPage> {
  const f = filters(q);
  const parts = ['1 = 1'];
  const params: Param[] = [];
  if (q.from !== undefined) {
    parts.push('ts >= ?');
    params.push(q.from);
  }
  if (q.to !== undefined) {
    parts.push('ts < ?');
    params.push(q.to);
  }
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  if (after) {
    parts.push('(ts < ? OR (ts = ? AND id < ?))');
    params.push(after.ts, after.ts, after.id);
  }
  const sql = `SELECT ${READ_COLUMNS.join(', ')} FROM usage_records WHERE ${parts.join(' AND ')}${f.where} ORDER BY ts DESC, id DESC LIMIT ?`;
  const rows = await source.all(sql, [...params, ...f.params, q.limit + 1]);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return { records: page.map(view), next: rows.length > q.limit && last ? encodeCursor(num(last.ts), String(last.id)) : null };
}

export function createLedgerQuery(source: SqlSource): LedgerQuery {
  return {
    spend: (q) => spend(source, q), requests: (q) => requests(source, q),
    refusals: (q) => refusals(source, q), buckets: (q) => buckets(source, q), changeMark: (now) => changeMark(source, now),
  };
}

// ---- Reads for the console (refusals by reason, usage per time bucket, a change mark). ----

export interface RefusalsQuery {
  from: number;
  to: number;
  policy?: string;
  subjects?: readonly string[];
}

export interface RefusalRow {
  policy: string | null;
  limit: string | null;
  /** limited, store-error, subject-missing, dry-run-limited (not refused: would have been). */
  decision: string;
  status: number | null;
  requests: number;
  /** Distinct subjects refused. */
  subjects: number;
}

async function refusals(source: SqlSource, q: RefusalsQuery): Promise<RefusalRow[]> {
  const f = filters(q);
  const rows = await source.all(
    `SELECT policy, limit_name, decision, status, count(*) AS requests, count(DISTINCT subject) AS subjects FROM usage_records
     WHERE ts >= ? AND ts < ? AND (rejected = 1 OR decision = 'dry-run-limited')${f.where}
     GROUP BY policy, limit_name, decision, status`,
    [q.from, q.to, ...f.params],
  );
  const nullable = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));
  return rows.map((r) => ({
    policy: nullable(r.policy), limit: nullable(r.limit_name), decision: str(r.decision), status: r.status === null || r.status === undefined ? null : num(r.status),
    requests: num(r.requests), subjects: num(r.subjects),
  })).sort((a, b) => b.requests - a.requests || String(a.policy).localeCompare(String(b.policy)) || String(a.limit).localeCompare(String(b.limit)));
}

export interface BucketsQuery {
  from: number;
  to: number;
  /** Bucket length (ms); buckets start at multiples of it since the epoch, like fixed limit windows. */
  bucketMs: number;
  policy?: string;
  subjects?: readonly string[];
  /** Also split by model (perModel limits). */
  byModel?: boolean;
}

export type BucketRow = Omit<SpendRow, 'policy' | 'subject' | 'day' | 'month'> & { start: number };

async function buckets(source: SqlSource, q: BucketsQuery): Promise<BucketRow[]> {
  const f = filters(q);
  const size = Math.max(1, Math.floor(q.bucketMs));
  const model = q.byModel ? ', model' : '';
  const rows = await source.all(
    `SELECT (ts / ${size}) AS bucket${model}, count(*) AS requests, sum(rejected) AS rejected_requests, ${TOTALS.map((c) => `sum(${c}) AS ${c}`).join(', ')}
     FROM usage_records WHERE ts >= ? AND ts < ?${f.where} GROUP BY (ts / ${size})${model}`,
    [q.from, q.to, ...f.params],
  );
  return rows.map((r) => {
    const out: BucketRow = { start: Math.floor(num(r.bucket)) * size, requests: num(r.requests), rejected_requests: num(r.rejected_requests), input_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cost_usd: 0 };
    for (const c of TOTALS) out[c] = num(r[c]);
    if (q.byModel) out.model = str(r.model);
    return out;
  }).sort((a, b) => a.start - b.start || (a.model ?? '').localeCompare(b.model ?? ''));
}

async function changeMark(source: SqlSource, now: number): Promise<string> {
  const [row] = await source.all('SELECT count(*) AS n, sum(requests) AS requests, sum(cost_usd) AS cost FROM usage_daily WHERE day = ?', [utcDay(now)]);
  return `${utcDay(now)}:${num(row?.n)}:${num(row?.requests)}:${num(row?.cost)}`;
}
