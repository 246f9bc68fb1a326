/**
 * The policy page's table: the budget rows of a policy (one per limit × subject [× model], budget-list.ts) grouped
 * into one row per subject with a cell per limit, then searched, sorted and paged on the server so a policy with
 * 10,000 subjects sends the browser one page. A perModel limit's cell is the subject's model closest to its budget.
 * When the policy has per-subject overrides, a cell shows the subject's own budget (override-budget.ts). With plan
 * tiers a cell says whose budget it shows (`tier`, or `override`): the listing cannot know the tier of a subject's
 * next request (each request names its own), so it shows the default tier's budget (README, the console).
 */
import type { PolicyWithPlans } from '../policy/describe.js';
import { overrideBudget } from '../policy/override-budget.js';
import type { BudgetRow } from './budget-list.js';
import { subjectForms } from './ledger-params.js';

export interface SubjectCell {
  used: number;
  budget: number;
  remaining: number;
  share: number;
  reset_at: string;
  /** perModel limits: the model of this cell. */
  model?: string;
  /** Policies with tiers: the tier whose budget this is (the default tier, or the tier that adds the limit). */
  tier?: string;
  /** The subject's override sets this budget. */
  override?: true;
}

export interface SubjectRow {
  subject: string;
  /** The highest share over its limits: what the default sort uses, and what turns a row red (≥ 1). */
  max_share: number;
  limits: Record<string, SubjectCell>;
}

export type SortKey = { by: 'share' } | { by: 'subject' } | { by: 'limit'; limit: string };

export interface TableQuery {
  /** Case-insensitive substring of the subject, or a value whose hash is the subject (API keys, addresses). */
  search?: string;
  sort: SortKey;
  order: 'asc' | 'desc';
  offset: number;
  pageSize: number;
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;

function cellOf(row: BudgetRow, own: number | undefined): SubjectCell {
  const budget = own ?? row.budget;
  const cell: SubjectCell = {
    used: row.used, budget, remaining: Math.max(0, round6(budget - row.used)), share: budget > 0 ? round6(row.used / budget) : 1, reset_at: row.reset_at,
  };
  if (row.model !== undefined) cell.model = row.model;
  if (own !== undefined) cell.override = true;
  else if (row.tier !== undefined) cell.tier = row.tier;
  return cell;
}

/** One row per subject. */
export function groupBySubject(policy: PolicyWithPlans, rows: readonly BudgetRow[]): SubjectRow[] {
  const bySubject = new Map<string, SubjectRow>();
  const overrides = (policy.overrides?.length ?? 0) > 0;
  for (const r of rows) {
    let s = bySubject.get(r.subject);
    if (!s) bySubject.set(r.subject, (s = { subject: r.subject, max_share: 0, limits: {} }));
    const cell = cellOf(r, overrides ? overrideBudget(policy, r.limit, r.subject) : undefined);
    const prev = s.limits[r.limit];
    if (!prev || cell.share > prev.share) s.limits[r.limit] = cell;
    if (cell.share > s.max_share) s.max_share = cell.share;
  }
  return [...bySubject.values()];
}

function matcher(search: string | undefined): (subject: string) => boolean {
  const q = search?.trim().toLowerCase() ?? '';
  if (q === '') return () => true;
  const forms = new Set(subjectForms(search ?? ''));
  return (subject) => forms.has(subject) || subject.toLowerCase().includes(q);
}

function comparator(sort: SortKey, order: 'asc' | 'desc'): (a: SubjectRow, b: SubjectRow) => number {
  const sign = order === 'asc' ? 1 : -1;
  const bySubject = (a: SubjectRow, b: SubjectRow): number => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0);
  if (sort.by === 'subject') return (a, b) => sign * bySubject(a, b);
  const value = sort.by === 'share' ? (r: SubjectRow): number => r.max_share : (r: SubjectRow): number => r.limits[sort.limit]?.share ?? -1;
  return (a, b) => sign * (value(a) - value(b)) || bySubject(a, b);
}

export interface TablePage {
  total: number;
  offset: number;
  next_offset: number | null;
  rows: SubjectRow[];
}

/**
 * Search, sort and one page (or every matching row with pageSize Infinity, for CSV). With `sorted` (a memo kept with
 * the rows), each order is sorted once and later requests only filter and slice it.
 */
export function tablePage(all: readonly SubjectRow[], q: TableQuery, sorted?: Map<string, readonly SubjectRow[]>): TablePage {
  const keep = matcher(q.search);
  const key = `${q.sort.by === 'limit' ? `limit:${q.sort.limit}` : q.sort.by}:${q.order}`;
  let ordered = sorted?.get(key);
  if (!ordered) {
    ordered = [...all].sort(comparator(q.sort, q.order));
    sorted?.set(key, ordered);
  }
  const rows = q.search?.trim() ? ordered.filter((r) => keep(r.subject)) : ordered;
  const end = q.offset + q.pageSize;
  return { total: rows.length, offset: q.offset, next_offset: end < rows.length ? end : null, rows: rows.slice(q.offset, end) };
}

/** CSV columns of a table: subject, max_share, then used/budget/share/reset_at (and model) per limit. */
export function tableCsvColumns(limits: readonly { name: string; per_model: boolean }[]): string[] {
  return ['subject', 'max_share', ...limits.flatMap((l) => [`${l.name}_used`, `${l.name}_budget`, `${l.name}_share`, `${l.name}_reset_at`, ...(l.per_model ? [`${l.name}_model`] : [])])];
}

export function tableCsvRecord(row: SubjectRow): Record<string, unknown> {
  const out: Record<string, unknown> = { subject: row.subject, max_share: row.max_share };
  for (const [name, c] of Object.entries(row.limits)) {
    out[`${name}_used`] = c.used;
    out[`${name}_budget`] = c.budget;
    out[`${name}_share`] = c.share;
    out[`${name}_reset_at`] = c.reset_at;
    if (c.model !== undefined) out[`${name}_model`] = c.model;
  }
  return out;
}
