/**
 * The admin API the console reads (the same endpoints curl reads). The browser's session cookie (or the trusted
 * proxy) authenticates it; a 401 sends the browser to the sign-in page.
 */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function getJson<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
  const res = await fetch(withQuery(path, params), { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) {
    location.assign(`/console/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'sign in first');
  }
  const body = (await res.json().catch(() => ({}))) as T & { error?: { message: string } };
  if (!res.ok) throw new ApiError(res.status, body.error?.message ?? `${path}: HTTP ${res.status}`);
  return body;
}

export function withQuery(path: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? path : `${path}?${s}`;
}

// ---- The JSON the console reads: the admin API's own types (type-only imports: nothing of the server is bundled). ----

export type { SpendRow, RefusalRow } from '../../ledger/query.js';
export type { LimitWords, PolicyWords } from '../../policy/describe.js';
export type { SubjectCell, SubjectRow } from '../../admin/subject-table.js';
import type { SpendRow } from '../../ledger/query.js';
import type { LimitWords } from '../../policy/describe.js';
import type { SubjectCell, TablePage } from '../../admin/subject-table.js';

export interface Spend {
  from: string;
  to: string;
  rows: SpendRow[];
  totals: Omit<SpendRow, 'policy' | 'subject' | 'model' | 'day' | 'month'>;
}

/** GET /v1/subjects. */
export interface Subjects extends TablePage {
  policy: string;
  source: string;
  as_of: string;
  limits: LimitWords[];
}

/** One limit of GET /v1/subject. */
export interface SubjectLimit extends SubjectCell {
  limit: string;
  window: string;
  unit: 'tokens' | 'usd';
  words: string;
  typical_request: number | null;
  history: { start: string; end: string; used: number }[];
}

export interface SubjectDetail {
  policy: string;
  subject: string;
  as_of: string;
  limits: SubjectLimit[];
  next_refusal: { limit: string; requests_left: number | null; words: string } | null;
}

/** A raw record of GET /v1/requests (the fields the console shows). */
export interface RecordView {
  time: string;
  id: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  decision: string;
  status: number | null;
  limit: string | null;
}

