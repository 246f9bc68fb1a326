/**
 * Overview: spend today and this month against the same stretch of the previous period, spend per day by policy and
 * by model (charts, with tables of the month's totals), requests refused today and why, the subjects closest to a
 * limit, and the policies in words.
 */
import { getJson, withQuery, type PolicyWords, type RefusalRow, type Spend, type Subjects } from './api.js';
import { pivotDays, timeChart } from './chart.js';
import { bar, fill, h, link, section, table } from './dom.js';
import { amount, change, decision, percent, tokens, until, usd } from './format.js';

const DAY = 86_400_000;
const iso = (t: number): string => new Date(t).toISOString();

export function ranges(now: number): { today: number; yesterday: number; month: number; prevMonth: number; prevMonthSame: number } {
  const today = Math.floor(now / DAY) * DAY;
  const d = new Date(now);
  const month = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const prevMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
  return { today, yesterday: today - DAY, month, prevMonth, prevMonthSame: Math.min(month, prevMonth + (now - month)) };
}

function kpi(title: string, value: string, before: string, note: string): HTMLElement {
  return h('div', { class: 'kpi' }, h('h3', {}, title), h('p', { class: 'kpi-value' }, value), h('p', { class: 'kpi-note' }, `${before} · ${note}`));
}

const policyHref = (p: string): string => withQuery('/console/policy', { name: p });
const subjectHref = (p: string, s: string): string => withQuery('/console/subject', { policy: p, subject: s });

/** Top keys by cost; the rest are summed as "other". */
function topKeys(rows: { key: string; cost: number }[], n: number): string[] {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.key, (by.get(r.key) ?? 0) + r.cost);
  return [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k]) => k);
}

function spendChart(title: string, spend: Spend, keyOf: (r: Spend['rows'][number]) => string): HTMLElement {
  const rows = spend.rows.map((r) => ({ day: r.day, key: keyOf(r), cost: r.cost_usd }));
  const keys = topKeys(rows, 6);
  const others = rows.some((r) => !keys.includes(r.key));
  const all = others ? [...keys, 'other'] : keys;
  const pivot = pivotDays(rows.map((r) => ({ day: r.day, key: keys.includes(r.key) ? r.key : 'other', value: r.cost })), all, spend.from, spend.to);
  return timeChart({ label: title, times: pivot.times, series: pivot.series, format: usd, stacked: true });
}

function totalsTable(label: string, keyName: string, spend: Spend, keyOf: (r: Spend['rows'][number]) => string, href?: (k: string) => string): HTMLElement {
  const by = new Map<string, { requests: number; rejected: number; tokens: number; cost: number }>();
  for (const r of spend.rows) {
    const k = keyOf(r);
    const t = by.get(k) ?? { requests: 0, rejected: 0, tokens: 0, cost: 0 };
    by.set(k, { requests: t.requests + r.requests, rejected: t.rejected + r.rejected_requests, tokens: t.tokens + r.input_tokens + r.output_tokens, cost: t.cost + r.cost_usd });
  }
  const rows = [...by.entries()].sort((a, b) => b[1].cost - a[1].cost).map(([k, t]) => h('tr', {},
    h('th', { scope: 'row' }, href && k !== '(none)' ? link(href(k), k) : k),
    h('td', { class: 'num' }, t.requests.toLocaleString('en-US')), h('td', { class: 'num' }, t.rejected.toLocaleString('en-US')),
    h('td', { class: 'num' }, tokens(t.tokens)), h('td', { class: 'num' }, usd(t.cost))));
  return table(label, [keyName, 'requests', 'refused', 'tokens', 'cost'], rows, { class: 'totals', 'data-table': keyName });
}

export async function renderOverview(main: HTMLElement): Promise<void> {
  const now = Date.now();
  const r = ranges(now);
  const spend = (from: number, to: number, group = 'policy'): Promise<Spend> => getJson<Spend>('/v1/spend', { from: iso(from), to: iso(to), group_by: group });
  const [limits, today, yesterday, month, prevMonth, byPolicy, byModel, refusals] = await Promise.all([
    getJson<{ policies: PolicyWords[] }>('/v1/limits'),
    spend(r.today, now + 1), spend(r.yesterday, now + 1 - DAY), spend(r.month, now + 1), spend(r.prevMonth, r.prevMonthSame + 1),
    spend(r.month, now + 1, 'day,policy'), spend(r.month, now + 1, 'day,model'),
    getJson<{ rows: RefusalRow[]; totals: { refused: number; would_refuse: number } }>('/v1/refusals', { from: iso(r.today), to: iso(now + 1) }),
  ]);
  const closest = (await Promise.all(limits.policies.map((p) => getJson<Subjects>('/v1/subjects', { policy: p.policy, page_size: 10 }))))
    .flatMap((s) => s.rows.map((row) => ({ policy: s.policy, limits: s.limits, row })))
    .sort((a, b) => b.row.max_share - a.row.max_share).slice(0, 10);

  const monthName = new Date(r.month).toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });
  fill(main,
    h('h1', {}, 'Overview'),
    h('p', { class: 'lede' }, `Spend and budgets as recorded by tokenmeter. Times are UTC; "today" started at 00:00 UTC.`),
    h('div', { class: 'kpis' },
      kpi('Spend today', usd(today.totals.cost_usd), `yesterday by now ${usd(yesterday.totals.cost_usd)}`, change(today.totals.cost_usd, yesterday.totals.cost_usd)),
      kpi(`Spend in ${monthName}`, usd(month.totals.cost_usd), `last month by now ${usd(prevMonth.totals.cost_usd)}`, change(month.totals.cost_usd, prevMonth.totals.cost_usd)),
      kpi('Requests today', today.totals.requests.toLocaleString('en-US'), `yesterday by now ${yesterday.totals.requests.toLocaleString('en-US')}`, `${tokens(today.totals.input_tokens + today.totals.output_tokens)} tokens`),
      kpi('Refused today', refusals.totals.refused.toLocaleString('en-US'), `${today.totals.rejected_requests.toLocaleString('en-US')} in the ledger's totals`, refusals.totals.would_refuse > 0 ? `${refusals.totals.would_refuse} more in DryRun` : 'see the reasons below')),
    section(`Spend this month by policy`, 'by-policy',
      spendChart(`Spend per day in ${monthName} by policy (USD)`, byPolicy, (x) => x.policy ?? '(none)'),
      totalsTable(`Spend in ${monthName} by policy`, 'policy', byPolicy, (x) => x.policy ?? '(none)', policyHref),
      h('p', { class: 'export' }, link(withQuery('/v1/spend', { from: iso(r.month), to: iso(now + 1), group_by: 'policy,model', format: 'csv' }), 'Download CSV (this month by policy and model)', { download: '' }))),
    section(`Spend this month by model`, 'by-model',
      spendChart(`Spend per day in ${monthName} by model (USD)`, byModel, (x) => x.model ?? ''),
      totalsTable(`Spend in ${monthName} by model`, 'model', byModel, (x) => x.model ?? '')),
    section('Refused today, and why', 'refusals', refusalTable(refusals.rows),
      h('p', { class: 'export' }, link(withQuery('/v1/refusals', { from: iso(r.today), to: iso(now + 1), format: 'csv' }), 'Download CSV (refusals today)', { download: '' }))),
    section('Closest to a limit', 'closest', closestTable(closest)),
    section('Policies', 'policies', h('ul', { class: 'policies' }, limits.policies.map((p) => h('li', {},
      link(policyHref(p.policy), p.policy), p.mode === 'DryRun' ? h('span', { class: 'badge' }, 'DryRun') : null,
      h('ul', {}, p.limits.map((l) => h('li', {}, `${l.name}: ${l.words}`))))))),
  );
}

function refusalTable(rows: RefusalRow[]): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, 'No request was refused today.');
  return table('Refusals today by reason', ['policy', 'limit', 'why', 'status', 'requests', 'subjects'], rows.map((x) => h('tr', { class: x.decision === 'dry-run-limited' ? 'dry' : 'refused' },
    h('td', {}, x.policy ? link(policyHref(x.policy), x.policy) : '—'), h('td', {}, x.limit ?? '—'), h('td', {}, decision(x.decision)),
    h('td', { class: 'num' }, x.status ?? '—'), h('td', { class: 'num' }, x.requests.toLocaleString('en-US')), h('td', { class: 'num' }, x.subjects.toLocaleString('en-US')))), { 'data-table': 'refusals' });
}

function closestTable(rows: { policy: string; limits: Subjects['limits']; row: Subjects['rows'][number] }[]): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, 'No subject has used any budget in the current windows.');
  return table('Subjects closest to a limit', ['subject', 'policy', 'limit', 'used', 'resets'], rows.map(({ policy, limits, row }) => {
    const [name, cell] = Object.entries(row.limits).sort((a, b) => b[1].share - a[1].share)[0] ?? ['', undefined];
    const unit = limits.find((l) => l.name === name)?.unit ?? 'tokens';
    const text = cell ? `${amount(unit, cell.used)} of ${amount(unit, cell.budget)} (${percent(cell.share)})` : '';
    return h('tr', { class: row.max_share >= 1 ? 'over' : row.max_share >= 0.8 ? 'near' : '' },
      h('th', { scope: 'row' }, link(subjectHref(policy, row.subject), row.subject)), h('td', {}, policy), h('td', {}, name),
      h('td', { class: 'usage' }, cell ? bar(cell.share, `${name}: ${text}`) : null, h('span', { class: 'usage-text' }, text)),
      h('td', {}, cell ? until(cell.reset_at) : ''));
  }), { 'data-table': 'closest' });
}
