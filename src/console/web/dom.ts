/**
 * A tiny DOM builder: elements from tag, attributes and children, text always as text (never parsed as HTML), so
 * nothing a subject name contains can become markup; no inline style (the CSP forbids it), classes instead.
 */
export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | null | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A bar of used / budget: a meter with a text equivalent; `over` at or above the budget, `near` from 80 %. */
export function bar(share: number, label: string): HTMLElement {
  const level = share >= 1 ? 'over' : share >= 0.8 ? 'near' : 'ok';
  const fillEl = h('span', { class: 'bar-fill' });
  // Width through the CSSOM (allowed under the CSP, unlike a style attribute).
  fillEl.style.width = `${Math.min(100, Math.max(0, share * 100)).toFixed(1)}%`;
  return h('span', { class: `bar ${level}`, role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(share * 100), 'aria-label': label }, fillEl);
}

export function link(href: string, text: string, attrs: Attrs = {}): HTMLAnchorElement {
  return h('a', { href, ...attrs }, text);
}

/** A table inside a focusable, labelled scroll container (narrow screens scroll it sideways). */
export function table(label: string, head: (string | HTMLElement)[], rows: HTMLElement[], attrs: Attrs = {}): HTMLElement {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: 0 },
    h('table', attrs,
      h('thead', {}, h('tr', {}, head.map((c) => (typeof c === 'string' ? h('th', { scope: 'col' }, c) : c)))),
      h('tbody', {}, rows)));
}

export function section(title: string, id: string, ...children: (Child | Child[])[]): HTMLElement {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}
