/**
 * `GET /v1/subjects?policy=[NS/]NAME[&q=TEXT][&sort=share|subject|LIMIT][&order=asc|desc][&offset=0][&page_size=50][&format=csv]`:
 * every subject with usage in the current window of a policy's limits, one row per subject with a cell per limit
 * (used, budget, share, reset time), searched, sorted and paged here (subject-table.ts). The console's policy page
 * shows exactly this. CSV: every matching row, in the same order. Bearer token like /v1/budgets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LedgerQuery } from '../ledger/query.js';
import type { CounterStore } from '../limits/store.js';
import { describeLimit } from '../policy/describe.js';
import { listedLimits, type ListedLimit } from '../policy/listed-limits.js';
import { policyKey, type TokenPolicy } from '../policy/types.js';
import { budgetRows } from './budget-list.js';
import { sendError, sendJson } from './http.js';
import { parseCount, parseFormat, parseOffset, sendCsv, toCsv, type Checked } from './ledger-params.js';
import { allValid, ledgerRead } from './spend-api.js';
import type { SnapshotCache } from './snapshot-cache.js';
import { groupBySubject, tableCsvColumns, tableCsvRecord, tablePage, type SortKey, type SubjectRow } from './subject-table.js';
import { authorizedPolicy } from './usage-api.js';

/** The policies in force, the counter store when this process can read it, and the clock. */
export interface PolicyBudgets {
  policies(): readonly TokenPolicy[];
  /** Absent: listings come from the ledger (`tokenmeter console` without Redis). */
  store?: CounterStore;
  now(): number;
}

export interface SubjectsApiDeps {
  source?: PolicyBudgets;
  ledger?: LedgerQuery;
  adminToken: string;
  /** Shares one listing per policy between requests until the data changes (the console's server sets it). */
  snapshots?: SnapshotCache<SubjectSnapshot>;
}

/** A policy's subject rows, where they came from, when, and the sorted orders asked for so far. */
export interface SubjectSnapshot {
  rows: SubjectRow[];
  source: 'counters' | 'ledger';
  now: number;
  sorted: Map<string, readonly SubjectRow[]>;
}

function parseSort(raw: string | null, policy: TokenPolicy): Checked<SortKey> {
  if (raw === null || raw === 'share') return { ok: true, value: { by: 'share' } };
  if (raw === 'subject') return { ok: true, value: { by: 'subject' } };
  const names = listedLimits(policy).map((l) => l.limit.name);
  if (names.includes(raw)) return { ok: true, value: { by: 'limit', limit: raw } };
  return { ok: false, message: `sort=${raw}: use share, subject or a limit of ${policyKey(policy)} (${names.join(', ')})` };
}

function parseOrder(raw: string | null, sort: SortKey): Checked<'asc' | 'desc'> {
  if (raw === null) return { ok: true, value: sort.by === 'subject' ? 'asc' : 'desc' };
  if (raw === 'asc' || raw === 'desc') return { ok: true, value: raw };
  return { ok: false, message: `order=${raw}: use asc or desc` };
}

/** The policy's subject rows (all of them), read from the counters or the ledger (or the shared snapshot). */
export function subjectRows(deps: SubjectsApiDeps & { source: PolicyBudgets }, policy: TokenPolicy): Promise<SubjectSnapshot> {
  const { source, ledger } = deps;
  const build = async (): Promise<SubjectSnapshot> => {
    const read = await budgetRows({ now: () => source.now(), ...(source.store ? { store: source.store } : {}), ...(ledger ? { ledger } : {}) }, policy);
    return { rows: groupBySubject(policy, read.rows), source: read.source, now: read.now, sorted: new Map() };
  };
  return deps.snapshots ? deps.snapshots.get(policyKey(policy), build) : build();
}

/** A column of the table: the limit in words (its listed budget), whose budget that is, and whether only overrides add it. */
function tableLimit(l: ListedLimit): ReturnType<typeof describeLimit> & { tier?: string; override_only?: true } {
  return { ...describeLimit(l.limit), ...(l.tier === undefined ? {} : { tier: l.tier }), ...(l.overrideOnly ? { override_only: true as const } : {}) };
}

export async function handleSubjects(req: IncomingMessage, res: ServerResponse, url: URL, deps: SubjectsApiDeps): Promise<void> {
  const policy = authorizedPolicy(req, res, url, deps);
  if (!policy || !deps.source) return;
  const q = url.searchParams;
  const sort = parseSort(q.get('sort'), policy);
  if (!sort.ok) return sendError(res, 400, 'TM_REQUEST_INVALID', sort.message);
  const p = allValid(res, {
    order: parseOrder(q.get('order'), sort.value), offset: parseOffset(q.get('offset')), pageSize: parseCount(q.get('page_size'), 'page_size', 50, 1000), format: parseFormat(q.get('format')),
  });
  if (!p) return;
  const source = deps.source;
  const read = await ledgerRead(res, () => subjectRows({ ...deps, source }, policy));
  if (!read) return;
  const search = q.get('q') ?? undefined;
  const limits = listedLimits(policy).map(tableLimit);
  const csv = p.format === 'csv';
  const page = tablePage(read.rows, { sort: sort.value, order: p.order, offset: csv ? 0 : p.offset, pageSize: csv ? Infinity : p.pageSize, ...(search ? { search } : {}) }, read.sorted);
  if (csv) return sendCsv(res, `subjects-${policy.name}`, toCsv(tableCsvColumns(limits), page.rows.map(tableCsvRecord)));
  sendJson(res, 200, {
    policy: policyKey(policy), source: read.source, as_of: new Date(read.now).toISOString(), limits, sort: q.get('sort') ?? 'share', order: p.order,
    ...page,
  });
}
