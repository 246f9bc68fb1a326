/**
 * `GET /v1/subject?policy=[NS/]NAME&subject=S`: one subject under one policy — per limit its current window (used,
 * budget, share, reset time: the same cell as /v1/subjects), its usage in the last windows (subject-history.ts) and
 * its typical request; and which limit refuses it next, after about how many requests. `subject` as the ledger
 * records it, or the value a hashed subject was made from (an API key, an address). Bearer token like /v1/budgets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeLimit } from '../policy/describe.js';
import { listedLimits } from '../policy/listed-limits.js';
import { overrideOf } from '../policy/override-budget.js';
import { policyKey } from '../policy/types.js';
import { sendError, sendJson } from './http.js';
import { subjectForms } from './ledger-params.js';
import { ledgerRead } from './spend-api.js';
import type { SubjectCell } from './subject-table.js';
import { nextRefusal, typicalRequest, windowHistory, windowCount, lastWindows } from './subject-history.js';
import { subjectRows, type SubjectsApiDeps } from './subjects-api.js';
import { authorizedPolicy } from './usage-api.js';

const DAY_MS = 86_400_000;

export async function handleSubject(req: IncomingMessage, res: ServerResponse, url: URL, deps: SubjectsApiDeps): Promise<void> {
  const policy = authorizedPolicy(req, res, url, deps);
  if (!policy || !deps.source) return;
  const raw = url.searchParams.get('subject')?.trim() ?? '';
  if (raw === '') return sendError(res, 400, 'TM_REQUEST_INVALID', 'give subject= (as the ledger records it, or the API key or address it was hashed from)');
  const forms = subjectForms(raw);
  const source = deps.source;
  const ledger = deps.ledger;
  const result = await ledgerRead(res, async () => {
    const current = await subjectRows({ ...deps, source }, policy);
    const row = current.rows.find((r) => forms.includes(r.subject));
    const subject = row?.subject ?? raw;
    const now = current.now;
    // A limit only overrides add is the subject's only when its override adds it.
    const own = overrideOf(policy, subject)?.limits;
    const listed = listedLimits(policy).filter((l) => !l.overrideOnly || own?.some((x) => x.name === l.limit.name));
    const limits = await Promise.all(listed.map(async ({ limit }) => {
      const words = describeLimit(limit);
      const cell: SubjectCell | undefined = row?.limits[limit.name];
      const history = ledger ? await windowHistory(ledger, policy, limit, forms, now) : [];
      const since = Math.min(now - DAY_MS, lastWindows(limit, now, windowCount(limit))[0]?.start ?? now);
      const typical = ledger ? (await typicalRequest(ledger, policy, limit, forms, { from: now - DAY_MS, now })) ?? (await typicalRequest(ledger, policy, limit, forms, { from: since, now })) : null;
      const used = cell?.used ?? 0;
      const budget = cell?.budget ?? words.budget;
      return {
        limit: limit.name, window: words.window, unit: words.unit, words: words.words, per_model: words.per_model,
        used, budget, remaining: cell?.remaining ?? budget, share: cell?.share ?? 0,
        reset_at: cell?.reset_at ?? (history.at(-1)?.end ?? new Date(now).toISOString()), ...(cell?.model ? { model: cell.model } : {}),
        typical_request: typical === null ? null : Math.round(typical * 1e6) / 1e6, history,
      };
    }));
    return { now, subject, source: current.source, limits };
  });
  if (!result) return;
  sendJson(res, 200, {
    policy: policyKey(policy), subject: result.subject, source: result.source, as_of: new Date(result.now).toISOString(), limits: result.limits,
    next_refusal: nextRefusal(result.limits.map((l) => ({ limit: l.limit, unit: l.unit, remaining: l.remaining, share: l.share, reset_at: l.reset_at, typical: l.typical_request })), result.now),
  });
}
