/**
 * `GET /v1/requests?subject=…[&policy=…][&from=…][&to=…][&limit=100][&cursor=…][&format=csv]`: the raw usage
 * records of a subject (or of a policy, or all), newest first, `limit` per page (at most 1000); `next` is the cursor
 * of the next, older page (null on the last). Bearer token like /v1/usage. Times as in /v1/spend (ledger-params.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeCursor } from '../ledger/query.js';
import { sendError, sendJson } from './http.js';
import { parseCount, parseFormat, parseTime, policyParam, sendCsv, subjectForms, toCsv, type Checked } from './ledger-params.js';
import { allValid, ledgerGate, ledgerRead, type LedgerApiDeps } from './spend-api.js';

const CSV_COLUMNS = ['time', 'id', 'request_id', 'policy', 'limit', 'tier', 'override', 'subject', 'provider', 'endpoint', 'request_model', 'response_model',
  'model', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens', 'usage_source', 'cost_usd', 'price_version',
  'decision', 'rejected', 'status', 'stream', 'duration_ms'];

const optionalTime = (q: URLSearchParams, name: string): Checked<number | undefined> => (q.has(name) ? parseTime(q.get(name) ?? '', name) : { ok: true, value: undefined });

export async function handleRequests(req: IncomingMessage, res: ServerResponse, url: URL, deps: LedgerApiDeps): Promise<void> {
  const ledger = ledgerGate(req, res, deps);
  if (!ledger) return;
  const q = url.searchParams;
  const p = allValid(res, {
    from: optionalTime(q, 'from'), to: optionalTime(q, 'to'), limit: parseCount(q.get('limit'), 'limit', 100, 1000), format: parseFormat(q.get('format')),
  });
  if (!p) return;
  const cursor = q.get('cursor') ?? undefined;
  if (cursor !== undefined && !decodeCursor(cursor)) return sendError(res, 400, 'TM_REQUEST_INVALID', 'cursor: not a cursor this API returned (use the `next` value of the previous page)');
  const subject = q.get('subject');
  const policy = policyParam(q);
  const page = await ledgerRead(res, () => ledger.requests({
    limit: p.limit, ...(cursor ? { cursor } : {}), ...(p.from !== undefined ? { from: p.from } : {}), ...(p.to !== undefined ? { to: p.to } : {}),
    ...(subject ? { subjects: subjectForms(subject) } : {}), ...(policy ? { policy } : {}),
  }));
  if (!page) return;
  if (p.format === 'csv') return sendCsv(res, 'requests', toCsv(CSV_COLUMNS, page.records));
  sendJson(res, 200, page);
}
