/**
 * `GET /v1/budgets?policy=[NS/]NAME[&namespace=NS][&limit=NAME][&offset=0][&page_size=100][&format=csv]`: the subjects
 * with usage in the current window of each limit of a policy, sorted by the share of the budget used, paged
 * (budget-list.ts says where the numbers come from). Bearer token like /v1/usage.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LedgerQuery } from '../ledger/query.js';
import { listedLimits } from '../policy/listed-limits.js';
import { policyKey, type TokenPolicy } from '../policy/types.js';
import type { CounterStore } from '../limits/store.js';
import { listBudgets } from './budget-list.js';
import { sendError, sendJson } from './http.js';
import { parseCount, parseFormat, parseOffset, sendCsv, toCsv } from './ledger-params.js';
import { allValid, ledgerRead } from './spend-api.js';
import { authorizedPolicy } from './usage-api.js';

export interface BudgetsApiDeps {
  /** Absent: budgets are off. */
  source?: { policies(): readonly TokenPolicy[]; store?: CounterStore; now(): number };
  ledger?: LedgerQuery;
  adminToken: string;
}

const CSV_COLUMNS = ['limit', 'window', 'unit', 'subject', 'model', 'used', 'budget', 'remaining', 'share', 'reset_at', 'tier'];

export async function handleBudgets(req: IncomingMessage, res: ServerResponse, url: URL, deps: BudgetsApiDeps): Promise<void> {
  const policy = authorizedPolicy(req, res, url, deps);
  if (!policy || !deps.source) return;
  const q = url.searchParams;
  const limit = q.get('limit') ?? undefined;
  const names = listedLimits(policy).map((l) => l.limit.name);
  if (limit !== undefined && !names.includes(limit)) {
    return sendError(res, 400, 'TM_REQUEST_INVALID', `limit=${limit}: policy ${policyKey(policy)} has ${names.join(', ')}`);
  }
  const p = allValid(res, { offset: parseOffset(q.get('offset')), pageSize: parseCount(q.get('page_size'), 'page_size', 100, 10_000), format: parseFormat(q.get('format')) });
  if (!p) return;
  const source = deps.source;
  const list = await ledgerRead(res, () => listBudgets({ now: () => source.now(), ...(source.store ? { store: source.store } : {}), ...(deps.ledger ? { ledger: deps.ledger } : {}) }, policy, {
    offset: p.offset, pageSize: p.pageSize, ...(limit ? { limit } : {}),
  }));
  if (!list) return;
  if (p.format === 'csv') return sendCsv(res, 'budgets', toCsv(CSV_COLUMNS, list.rows as unknown as Record<string, unknown>[]));
  sendJson(res, 200, list);
}
