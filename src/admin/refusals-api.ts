/**
 * `GET /v1/refusals[?from=…][&to=…][&policy=…][&subject=…][&format=csv]`: the requests tokenmeter refused (and those a
 * DryRun policy would have refused) by policy, limit, decision and status, with how many subjects each reason hit —
 * "requests refused and why" on the console's overview. Read from the raw records: the range defaults to today (UTC)
 * so far. Times as in /v1/spend (ledger-params.ts); bearer token like /v1/spend.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './http.js';
import { parseFormat, parseTime, policyParam, sendCsv, subjectForms, toCsv, type Checked } from './ledger-params.js';
import { allValid, ledgerGate, ledgerRead, type LedgerApiDeps } from './spend-api.js';

const DAY_MS = 86_400_000;
const CSV_COLUMNS = ['policy', 'limit', 'decision', 'status', 'requests', 'subjects'];

function range(q: URLSearchParams, now: number): Checked<{ from: number; to: number }> {
  const from = q.has('from') ? parseTime(q.get('from') ?? '', 'from') : { ok: true as const, value: Math.floor(now / DAY_MS) * DAY_MS };
  if (!from.ok) return from;
  const to = q.has('to') ? parseTime(q.get('to') ?? '', 'to') : { ok: true as const, value: now + 1 };
  if (!to.ok) return to;
  if (from.value >= to.value) return { ok: false, message: `from (${new Date(from.value).toISOString()}) must be before to (${new Date(to.value).toISOString()})` };
  return { ok: true, value: { from: from.value, to: to.value } };
}

export async function handleRefusals(req: IncomingMessage, res: ServerResponse, url: URL, deps: LedgerApiDeps): Promise<void> {
  const ledger = ledgerGate(req, res, deps);
  if (!ledger) return;
  const q = url.searchParams;
  const p = allValid(res, { range: range(q, deps.now()), format: parseFormat(q.get('format')) });
  if (!p) return;
  const policy = policyParam(q);
  const subject = q.get('subject');
  const rows = await ledgerRead(res, () => ledger.refusals({ ...p.range, ...(policy ? { policy } : {}), ...(subject ? { subjects: subjectForms(subject) } : {}) }));
  if (!rows) return;
  if (p.format === 'csv') return sendCsv(res, 'refusals', toCsv(CSV_COLUMNS, rows as unknown as Record<string, unknown>[]));
  sendJson(res, 200, {
    from: new Date(p.range.from).toISOString(), to: new Date(p.range.to).toISOString(), rows,
    totals: { refused: rows.filter((r) => r.decision !== 'dry-run-limited').reduce((n, r) => n + r.requests, 0), would_refuse: rows.filter((r) => r.decision === 'dry-run-limited').reduce((n, r) => n + r.requests, 0) },
  });
}
