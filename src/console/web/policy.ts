/**
 * A policy: its limits, tiers and overrides in words, and every subject with usage in the current windows, a bar per
 * limit. Search, sort and paging happen on the server (/v1/subjects): the browser holds one page, so 10,000 subjects
 * stay fast. The view (search, sort, order, page) lives in the URL, so it can be linked, and the CSV link exports the
 * same view (every matching subject, in the same order).
 */
import { getJson, withQuery, type LimitWords, type PolicyWords, type Subjects } from './api.js';
import { bar, fill, h, link, section } from './dom.js';
import { amount, percent, time, until } from './format.js';

const PAGE = 50;

interface View {
  name: string;
  q: string;
  sort: string;
  order: string;
  page: number;
}

function readView(): View {
  const p = new URLSearchParams(location.search);
  return { name: p.get('name') ?? '', q: p.get('q') ?? '', sort: p.get('sort') ?? 'share', order: p.get('order') ?? '', page: Math.max(1, Number(p.get('page') ?? '1') || 1) };
}

function viewUrl(v: View): string {
  return withQuery('/console/policy', { name: v.name, q: v.q, sort: v.sort === 'share' ? undefined : v.sort, order: v.order, page: v.page > 1 ? v.page : undefined });
}

export class PolicyPage {
  private words: PolicyWords | undefined;
  private readonly tableBox = h('div', { class: 'subjects' });
  private searchTimer: number | undefined;

  constructor(private readonly main: HTMLElement) {}

  async render(): Promise<void> {
    const v = readView();
    if (this.words) return this.refresh();
    // First load: the policy's words and the first page of subjects at once.
    const [limits, subjects] = await Promise.all([getJson<{ policies: PolicyWords[] }>('/v1/limits', { policy: v.name }), this.fetch(v)]);
    this.words = limits.policies[0];
    this.layout(v);
    this.draw(subjects, v);
  }

  private fetch(v: View): Promise<Subjects> {
    return getJson<Subjects>('/v1/subjects', { policy: v.name, q: v.q, sort: v.sort, order: v.order, offset: (v.page - 1) * PAGE, page_size: PAGE });
  }

  private layout(v: View): void {
    const w = this.words as PolicyWords;
    const search = h('input', { type: 'search', id: 'search', name: 'q', value: v.q, placeholder: 'subject contains…', autocomplete: 'off', 'aria-describedby': 'search-hint' });
    search.addEventListener('input', () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => this.go({ ...readView(), q: search.value.trim(), page: 1 }), 250);
    });
    fill(this.main,
      h('p', { class: 'crumbs' }, link('/console/', 'Overview'), ' › policy'),
      h('h1', {}, w.policy, w.mode === 'DryRun' ? h('span', { class: 'badge' }, 'DryRun: never refuses') : null),
      h('p', { class: 'lede' }, `Applies to ${w.applies_to}; budgets ${w.subject}.${w.failure_mode === 'Closed' ? ' Refuses requests (503) when the counter store is down.' : ''}`),
      section('Limits', 'limits', h('ul', { class: 'limits' }, w.limits.map((l) => h('li', {}, h('strong', {}, l.name), `: ${l.words}`)))),
      w.tiers ? section('Plan tiers', 'tiers', h('p', {}, `Chosen by ${w.tiers.selector}; default ${w.tiers.default}.`), h('ul', { class: 'changes' }, w.tiers.plans.map((t) => h('li', {}, t.words)))) : null,
      w.overrides ? section('Overrides', 'overrides', h('ul', { class: 'changes' }, w.overrides.map((o) => h('li', { class: o.exempt ? 'exempt' : '' }, o.words)))) : null,
      section('Subjects', 'subjects-title',
        h('div', { class: 'toolbar' }, h('label', { for: 'search' }, 'Search'), search, h('span', { id: 'search-hint', class: 'hint' }, 'Part of a subject, or an API key or address (matched by its hash).')),
        this.tableBox),
    );
  }

  private go(v: View): void {
    history.replaceState(null, '', viewUrl(v));
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const v = readView();
    this.draw(await this.fetch(v), v);
  }

  private draw(data: Subjects, v: View): void {
    const focused = document.activeElement?.getAttribute('data-focus-key');
    fill(this.tableBox, this.summary(data, v), this.table(data, v), this.pager(data, v),
      h('p', { class: 'export' }, link(withQuery('/v1/subjects', { policy: v.name, q: v.q, sort: v.sort, order: v.order, format: 'csv' }), `Download CSV (the ${data.total.toLocaleString('en-US')} subjects of this view)`, { download: '' })));
    if (focused) this.tableBox.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
  }

  private summary(d: Subjects, v: View): HTMLElement {
    const first = d.total === 0 ? 0 : d.offset + 1;
    const last = d.offset + d.rows.length;
    return h('p', { class: 'summary', 'aria-live': 'polite', id: 'subjects-summary' },
      d.total === 0 ? (v.q ? `No subject matches "${v.q}".` : 'No subject has used this policy\'s budgets in the current windows.') : `Subjects ${first.toLocaleString('en-US')}–${last.toLocaleString('en-US')} of ${d.total.toLocaleString('en-US')}${v.q ? ` matching "${v.q}"` : ''}, counted from the ${d.source} as of ${time(d.as_of)}.`);
  }

  private sortHeader(label: string, key: string, v: View, limit?: LimitWords): HTMLElement {
    const active = v.sort === key;
    const defaultOrder = key === 'subject' ? 'asc' : 'desc';
    const order = active ? (v.order || defaultOrder) : undefined;
    const next = active ? (order === 'asc' ? 'desc' : 'asc') : defaultOrder;
    const button = h('button', { type: 'button', class: 'sort', 'data-focus-key': `sort-${key}`, onclick: () => this.go({ ...v, sort: key, order: next, page: 1 }) },
      label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (order === 'asc' ? ' ▲' : ' ▼') : ' ↕'));
    return h('th', { scope: 'col', 'aria-sort': active ? (order === 'asc' ? 'ascending' : 'descending') : 'none', title: limit ? limit.words : undefined }, button);
  }

  private table(d: Subjects, v: View): HTMLElement {
    const head = [this.sortHeader('Subject', 'subject', v), this.sortHeader('Highest share', 'share', v), ...d.limits.map((l) => this.sortHeader(`${l.name} (${l.window})`, l.name, v, l))];
    const rows = d.rows.map((r) => h('tr', { class: r.max_share >= 1 ? 'over' : r.max_share >= 0.8 ? 'near' : '', 'data-subject': r.subject },
      h('th', { scope: 'row' }, link(withQuery('/console/subject', { policy: d.policy, subject: r.subject }), r.subject)),
      h('td', { class: 'num share' }, percent(r.max_share), r.max_share >= 1 ? h('span', { class: 'flag' }, ' over budget') : null),
      ...d.limits.map((l) => {
        const c = r.limits[l.name];
        if (!c) return h('td', { class: 'usage none' }, '—');
        const text = `${amount(l.unit, c.used)} of ${amount(l.unit, c.budget)}${c.model ? ` (${c.model})` : ''}`;
        return h('td', { class: 'usage', 'data-limit': l.name, 'data-share': c.share },
          bar(c.share, `${l.name}: ${text}, ${percent(c.share)}`), h('span', { class: 'usage-text' }, text), h('span', { class: 'reset' }, `resets ${until(c.reset_at)}`),
          c.override ? h('span', { class: 'budget-from' }, 'override budget') : c.tier !== undefined ? h('span', { class: 'budget-from' }, `${c.tier} tier budget`) : null);
      })));
    return h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Subjects and their budgets', tabindex: 0 },
      h('table', { 'data-table': 'subjects' }, h('thead', {}, h('tr', {}, head)), h('tbody', {}, rows)));
  }

  private pager(d: Subjects, v: View): HTMLElement {
    const pages = Math.max(1, Math.ceil(d.total / PAGE));
    return h('nav', { class: 'pager', 'aria-label': 'Pages of subjects' },
      h('button', { type: 'button', 'data-focus-key': 'prev', disabled: v.page <= 1, onclick: () => this.go({ ...v, page: v.page - 1 }) }, '← Previous'),
      h('span', {}, `Page ${v.page} of ${pages}`),
      h('button', { type: 'button', 'data-focus-key': 'next', disabled: d.next_offset === null, onclick: () => this.go({ ...v, page: v.page + 1 }) }, 'Next →'));
  }
}
