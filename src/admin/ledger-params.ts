/**
 * Query parameters of the ledger APIs (/v1/spend, /v1/requests, /v1/budgets), checked once with messages that say
 * what was wrong and what is accepted (400 `TM_REQUEST_INVALID`), and the CSV and subject helpers they share.
 *
 * Times are UTC unless they say otherwise: `2026-01` (the month's first instant), `2026-01-31` (00:00 UTC), or an
 * ISO 8601 time with `Z` or an offset (`2026-01-31T18:00:00+02:00`). A time without a zone is refused rather than
 * guessed. Days in group_by=day are UTC days; `from` is inclusive, `to` exclusive.
 */
import type { ServerResponse } from 'node:http';
import { GROUP_KEYS, type GroupKey } from '../ledger/query.js';
import { hashKey, normaliseIp } from '../policy/subject.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = (message: string): { ok: false; message: string } => ({ ok: false, message });

/** A time parameter (see the module comment). */
export function parseTime(raw: string, name: string): Checked<number> {
  const v = raw.trim();
  let ms = NaN;
  if (/^\d{4}-\d{2}$/.test(v)) ms = Date.parse(`${v}-01T00:00:00Z`);
  else if (/^\d{4}-\d{2}-\d{2}$/.test(v)) ms = Date.parse(`${v}T00:00:00Z`);
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(v)) {
    return bad(`${name}=${v} has no time zone: add Z (UTC) or an offset such as +02:00`);
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(v)) ms = Date.parse(v);
  if (!Number.isFinite(ms)) return bad(`${name}=${v} is not a time: use YYYY-MM, YYYY-MM-DD (UTC) or an ISO 8601 time with Z or an offset`);
  return ok(ms);
}

export function startOfMonthUtc(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** from/to with their defaults (the current UTC month so far); from must be before to. */
export function parseRange(q: URLSearchParams, now: number): Checked<{ from: number; to: number }> {
  const from = q.has('from') ? parseTime(q.get('from') ?? '', 'from') : ok(startOfMonthUtc(now));
  if (!from.ok) return from;
  const to = q.has('to') ? parseTime(q.get('to') ?? '', 'to') : ok(now);
  if (!to.ok) return to;
  if (from.value >= to.value) return bad(`from (${new Date(from.value).toISOString()}) must be before to (${new Date(to.value).toISOString()})`);
  return ok({ from: from.value, to: to.value });
}

export function parseGroupBy(raw: string | null, fallback: GroupKey[]): Checked<GroupKey[]> {
  if (raw === null) return ok(fallback);
  const keys = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = keys.filter((k) => !(GROUP_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) return bad(`group_by: unknown ${unknown.map((k) => `"${k}"`).join(', ')}; use a comma-separated list of ${GROUP_KEYS.join(', ')}`);
  if (new Set(keys).size !== keys.length) return bad(`group_by: ${raw} names a key twice`);
  return ok(keys as GroupKey[]);
}

export function parseFormat(raw: string | null): Checked<'json' | 'csv'> {
  if (raw === null || raw === 'json') return ok('json');
  if (raw === 'csv') return ok('csv');
  return bad(`format=${raw}: use json or csv`);
}

export function parseCount(raw: string | null, name: string, fallback: number, max: number): Checked<number> {
  if (raw === null) return ok(fallback);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) return bad(`${name}=${raw}: expected an integer from 1 to ${max}`);
  return ok(n);
}

export function parseOffset(raw: string | null): Checked<number> {
  if (raw === null) return ok(0);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) return bad(`offset=${raw}: expected an integer >= 0`);
  return ok(n);
}

/**
 * The forms a subject can have in the ledger: the value itself (Header, JWTClaim), its hash (APIKey — the key, or a
 * `Bearer …` value —, a policy with hashInLedger), and the hash of the normalised address (ClientIP). A value that is
 * already a hash (`#` + 32 hex digits) is only itself.
 */
export function subjectForms(value: string): string[] {
  const v = value.trim();
  if (/^#[0-9a-f]{32}$/.test(v)) return [v];
  const forms = new Set([v, hashKey(v)]);
  const bearer = /^bearer\s+(\S+)$/i.exec(v)?.[1];
  if (bearer) forms.add(hashKey(bearer));
  const ip = normaliseIp(v);
  if (ip !== undefined) forms.add(hashKey(ip));
  return [...forms];
}

/** `policy` as recorded: `NS/NAME`, or NAME with `namespace=NS`, or a NAME without namespace. */
export function policyParam(q: URLSearchParams): string | undefined {
  const name = q.get('policy')?.trim();
  if (!name) return undefined;
  const ns = q.get('namespace')?.trim();
  return ns && !name.includes('/') ? `${ns}/${name}` : name;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  // Quote when needed; a leading = + - @ is prefixed with ' so a spreadsheet never evaluates a subject as a formula.
  const safe = /^[=+\-@]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** RFC 4180 CSV with a header line. */
export function toCsv(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\r\n') + '\r\n';
}

export function sendCsv(res: ServerResponse, name: string, body: string): void {
  res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${name}.csv"`, 'cache-control': 'no-store' }).end(body);
}
