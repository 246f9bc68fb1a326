/**
 * A subject under a policy: what it would take to be refused next, per limit the current window (bar) and its usage
 * in the last windows against the budget (chart), its spend this month by model, and its recent requests from the
 * ledger (tokens, cost, decision, status — the ledger holds no prompt or completion text).
 */
import { getJson, withQuery, type RecordView, type Spend, type SubjectDetail, type SubjectLimit } from './api.js';
import { timeChart } from './chart.js';
import { bar, fill, h, link, section, table } from './dom.js';
import { amount, decision, percent, time, tokens, until, usd } from './format.js';

function limitCard(l: SubjectLimit): HTMLElement {
  const text = `${amount(l.unit, l.used)} of ${amount(l.unit, l.budget)} (${percent(l.share)})${l.model ? ` on ${l.model}` : ''}`;
  const times = l.history.map((w) => Date.parse(w.start) / 1000);
  return h('article', { class: `limit-card ${l.share >= 1 ? 'over' : l.share >= 0.8 ? 'near' : ''}`, 'data-limit': l.limit },
    h('h3', {}, `${l.limit}`, h('span', { class: 'window' }, ` · ${l.words}`)),
    h('p', { class: 'usage' }, bar(l.share, `${l.limit}: ${text}`), h('span', { class: 'usage-text' }, text), h('span', { class: 'reset' }, `resets ${until(l.reset_at)}`)),
    timeChart({
      label: `${l.limit}: usage per ${l.window} window, last ${l.history.length} windows, against the budget`, times, height: 180,
      series: [{ label: 'used', values: l.history.map((w) => w.used) }, { label: 'budget', kind: 'line', values: l.history.map(() => l.budget) }],
      format: (v) => amount(l.unit, v),
    }),
    h('p', { class: 'hint' }, l.typical_request === null ? 'No admitted request in the last day.' : `Typical request: ${amount(l.unit, l.typical_request)}${l.unit === 'tokens' ? ' tokens' : ''}.`));
}

export class SubjectPage {
  private readonly requests = h('div', {});
  private cursor: string | null = null;
  private shown: RecordView[] = [];

  constructor(private readonly main: HTMLElement) {}

  private params(): { policy: string; subject: string } {
    const p = new URLSearchParams(location.search);
    return { policy: p.get('policy') ?? '', subject: p.get('subject') ?? '' };
  }

  async render(): Promise<void> {
    const { policy, subject } = this.params();
    const month = new Date();
    const from = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1)).toISOString();
    const [detail, byModel, recent] = await Promise.all([
      getJson<SubjectDetail>('/v1/subject', { policy, subject }),
      getJson<Spend>('/v1/spend', { policy, subject, from, group_by: 'model' }),
      getJson<{ records: RecordView[]; next: string | null }>('/v1/requests', { policy, subject, limit: 25 }),
    ]);
    this.shown = recent.records;
    this.cursor = recent.next;
    const next = detail.next_refusal;
    fill(this.main,
      h('p', { class: 'crumbs' }, link('/console/', 'Overview'), ' › ', link(withQuery('/console/policy', { name: policy }), policy), ' › subject'),
      h('h1', {}, detail.subject),
      h('p', { class: 'lede' }, `Under ${detail.policy}, as of ${time(detail.as_of)}.`),
      next ? h('p', { class: `callout ${next.requests_left === 0 ? 'over' : ''}`, role: 'note', id: 'next-refusal' }, h('strong', {}, 'What would refuse it next: '), next.words) : null,
      section('Limits', 'limits', h('div', { class: 'limit-cards' }, detail.limits.map(limitCard))),
      section('This month by model', 'models', byModel.rows.length === 0 ? h('p', { class: 'empty' }, 'No usage this month.') :
        table('Spend this month by model', ['model', 'requests', 'refused', 'input tokens', 'output tokens', 'cost'], byModel.rows.map((r) => h('tr', {},
          h('th', { scope: 'row' }, r.model ?? ''), h('td', { class: 'num' }, r.requests.toLocaleString('en-US')), h('td', { class: 'num' }, r.rejected_requests.toLocaleString('en-US')),
          h('td', { class: 'num' }, tokens(r.input_tokens)), h('td', { class: 'num' }, tokens(r.output_tokens)), h('td', { class: 'num' }, usd(r.cost_usd)))), { 'data-table': 'models' }),
        h('p', { class: 'export' }, link(withQuery('/v1/spend', { policy, subject, from, group_by: 'model', format: 'csv' }), 'Download CSV (this month by model)', { download: '' }))),
      section('Recent requests', 'recent', this.requests,
        h('p', { class: 'export' }, link(withQuery('/v1/requests', { policy, subject, limit: 1000, format: 'csv' }), 'Download CSV (the last 1,000 requests)', { download: '' }))),
    );
    this.drawRequests();
  }

  private drawRequests(): void {
    const rows = this.shown.map((r) => h('tr', { class: r.decision === 'limited' || (r.status ?? 0) >= 400 ? 'refused' : '' },
      h('td', {}, time(r.time)), h('td', {}, r.model), h('td', { class: 'num' }, tokens(r.input_tokens)), h('td', { class: 'num' }, tokens(r.output_tokens)),
      h('td', { class: 'num' }, usd(r.cost_usd)), h('td', {}, decision(r.decision), r.limit ? ` (${r.limit})` : ''), h('td', { class: 'num' }, r.status ?? '—')));
    const more = this.cursor ? h('button', { type: 'button', onclick: () => void this.more() }, 'Show older requests') : null;
    fill(this.requests, this.shown.length === 0 ? h('p', { class: 'empty' }, 'No request recorded.') :
      table('Recent requests, newest first', ['time', 'model', 'input', 'output', 'cost', 'decision', 'status'], rows, { 'data-table': 'requests' }), more);
  }

  private async more(): Promise<void> {
    const { policy, subject } = this.params();
    const page = await getJson<{ records: RecordView[]; next: string | null }>('/v1/requests', { policy, subject, limit: 25, cursor: this.cursor ?? undefined });
    this.shown.push(...page.records);
    this.cursor = page.next;
    this.drawRequests();
  }
}
