/**
 * `GET /v1/spend?from=…&to=…&group_by=subject|model|policy|day|month[,…]&policy=…&subject=…&model=…[&format=csv]`:
 * request counts, token counts by type and cost in USD from the ledger, grouped as asked (default: by subject), for
 * [from, to) — by default the current UTC month so far. Whole UTC days are read from the daily roll-ups, partial
 * days from the raw records. Needs `authorization: Bearer <admin token>` when one is configured. Parameter rules and
 * time zones: ledger-params.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isTokenmeterError } from '../errors/catalogue.js';
import type { LedgerQuery, SpendRow } from '../ledger/query.js';
import { bearerAuthorized, sendError, sendJson, sendUnauthorized } from './http.js';
import { parseFormat, parseGroupBy, parseRange, policyParam, sendCsv, subjectForms, toCsv, type Checked } from './ledger-params.js';

export interface LedgerApiDeps {
  /** Absent: the ledger is off (--ledger-url none). */
  ledger?: LedgerQuery;
  adminToken: string;
  now: () => number;
}

const TOTAL_COLUMNS = ['requests', 'rejected_requests', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens', 'cost_usd'] as const;

/** The common start of every ledger endpoint: auth, the ledger present, a 400 for the first bad parameter. */
export function ledgerGate(req: IncomingMessage, res: ServerResponse, deps: LedgerApiDeps): LedgerQuery | undefined {
  if (!bearerAuthorized(req, deps.adminToken)) {
    sendUnauthorized(res);
    return undefined;
  }
  if (!deps.ledger) {
    sendError(res, 404, 'TM_NOT_FOUND', 'the spend ledger is off (--ledger-url none)');
    return undefined;
  }
  return deps.ledger;
}

/** Unwraps checked parameters, answering 400 for the first that failed. */
export function allValid<T extends Record<string, Checked<unknown>>>(res: ServerResponse, checks: T): { [K in keyof T]: T[K] extends Checked<infer V> ? V : never } | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, c] of Object.entries(checks)) {
    if (!c.ok) {
      sendError(res, 400, 'TM_REQUEST_INVALID', c.message);
      return undefined;
    }
    out[k] = c.value;
  }
  return out as { [K in keyof T]: T[K] extends Checked<infer V> ? V : never };
}

/** Runs a ledger read; a store that cannot answer is a 503 with its code. */
export async function ledgerRead<T>(res: ServerResponse, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (!isTokenmeterError(err)) throw err;
    sendError(res, 503, err.code, `the ledger cannot answer: ${err.message}`);
    return undefined;
  }
}

export async function handleSpend(req: IncomingMessage, res: ServerResponse, url: URL, deps: LedgerApiDeps): Promise<void> {
  const ledger = ledgerGate(req, res, deps);
  if (!ledger) return;
  const q = url.searchParams;
  const p = allValid(res, { range: parseRange(q, deps.now()), groupBy: parseGroupBy(q.get('group_by'), ['subject']), format: parseFormat(q.get('format')) });
  if (!p) return;
  const subject = q.get('subject');
  const policy = policyParam(q);
  const model = q.get('model') ?? undefined;
  const rows = await ledgerRead(res, () => ledger.spend({
    from: p.range.from, to: p.range.to, groupBy: p.groupBy, now: deps.now(),
    ...(policy ? { policy } : {}), ...(subject ? { subjects: subjectForms(subject) } : {}), ...(model ? { model } : {}),
  }));
  if (!rows) return;
  if (p.format === 'csv') {
    sendCsv(res, `spend-${new Date(p.range.from).toISOString().slice(0, 10)}`, toCsv([...p.groupBy, ...TOTAL_COLUMNS], rows as unknown as Record<string, unknown>[]));
    return;
  }
  const totals = rows.reduce<Record<string, number>>((t, r) => {
    for (const c of TOTAL_COLUMNS) t[c] = (t[c] ?? 0) + r[c];
    return t;
  }, Object.fromEntries(TOTAL_COLUMNS.map((c) => [c, 0])));
  totals.cost_usd = Math.round((totals.cost_usd ?? 0) * 1e10) / 1e10;
  sendJson(res, 200, {
    from: new Date(p.range.from).toISOString(), to: new Date(p.range.to).toISOString(), time_zone: 'UTC', group_by: p.groupBy,
    rows: rows satisfies SpendRow[], totals,
  });
}
