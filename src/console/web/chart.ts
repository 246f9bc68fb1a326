/**
 * Charts with uPlot (a small canvas time-series library: no framework, no CDN — bundled by npm run build, in a chunk
 * of its own that only pages with charts load; the figure is drawn into once it has arrived). Colours come from the
 * page's CSS variables, so charts follow the light or dark theme. Each chart sits in a figure whose caption and
 * aria-label say what it shows; the same numbers are in a table next to it.
 */
import type uPlot from 'uplot';
import { h } from './dom.js';

let library: Promise<typeof uPlot> | undefined;
const loadUPlot = (): Promise<typeof uPlot> => (library ??= import('uplot').then((m) => m.default));

export interface SeriesSpec {
  label: string;
  values: (number | null)[];
  /** Bars (default) or a line (a budget). */
  kind?: 'bars' | 'line';
}

const css = (name: string): string => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

/** The palette, from CSS (--series-1 … --series-8). */
function colour(i: number): string {
  return css(`--series-${(i % 8) + 1}`);
}

/** Tick labels of a time axis: dates for daily or longer steps, else times (UTC). */
function timeLabels(splits: number[], step: number): string[] {
  return splits.map((s) => {
    const iso = new Date(s * 1000).toISOString();
    return step >= 86_400 ? iso.slice(5, 10) : iso.slice(11, 16);
  });
}

/**
 * Bars (stacked when `stacked`: the legend still shows each series' own value) with an optional dashed line (a
 * budget), over UTC time.
 */
export interface ChartSpec {
  label: string;
  /** Seconds since the epoch. */
  times: number[];
  series: SeriesSpec[];
  format: (v: number) => string;
  height?: number;
  stacked?: boolean;
}

export function timeChart(o: ChartSpec): HTMLElement {
  const box = h('div', { class: 'chart', role: 'img', 'aria-label': o.label });
  const fig = h('figure', { class: 'chart-figure' }, box, h('figcaption', {}, o.label));
  void loadUPlot().then((UPlot) => draw(UPlot, box, o));
  return fig;
}

function draw(UPlot: typeof uPlot, box: HTMLElement, o: ChartSpec): void {
  const fg = css('--fg-muted');
  const grid = css('--grid');
  const bars = UPlot.paths.bars?.({ size: [0.7, 40], gap: 1 });
  const n = o.series.length;
  const step = o.times.length > 1 ? (o.times[1] as number) - (o.times[0] as number) : 86_400;
  // Stacked: each bar series holds the running sum, drawn from the top of the stack down so each stays visible.
  const sums = o.series.map((s) => [...s.values]);
  if (o.stacked) {
    for (let i = 1; i < sums.length; i++) {
      const below = sums[i - 1] as (number | null)[];
      sums[i] = (sums[i] as (number | null)[]).map((v, k) => (v ?? 0) + (below[k] ?? 0));
    }
  }
  const order = o.stacked ? [...o.series.keys()].reverse() : [...o.series.keys()];
  const data: uPlot.AlignedData = [o.times, ...order.map((i) => sums[i] as (number | null)[])];
  const opts: uPlot.Options = {
    width: 600, height: o.height ?? 220,
    legend: { show: n > 1 || o.series.some((s) => s.kind === 'line') },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (_u, splits) => timeLabels(splits, step), ...(step >= 86_400 ? { incrs: [86_400, 2 * 86_400, 7 * 86_400, 30 * 86_400] } : {}) },
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 70, values: (_u, vals) => vals.map((v) => o.format(v)) },
    ],
    series: [
      { label: 'UTC' },
      ...order.map((i): uPlot.Series => {
        const s = o.series[i] as SeriesSpec;
        const c = s.kind === 'line' ? css('--over') : colour(i);
        const value = (_u: uPlot, _v: number | null, _si: number, idx: number | null): string => {
          const raw = idx === null ? null : s.values[idx] ?? null;
          return raw === null ? '—' : o.format(raw);
        };
        return s.kind === 'line'
          ? { label: s.label, stroke: c, width: 2, dash: [6, 4], points: { show: false }, value }
          : { label: s.label, stroke: c, fill: `${c}cc`, width: 1, ...(bars ? { paths: bars } : {}), points: { show: false }, value };
      }),
    ],
  };
  const plot = new UPlot(opts, data, box);
  const fit = (): void => {
    const w = Math.max(260, Math.floor(box.clientWidth));
    if (w !== plot.width) plot.setSize({ width: w, height: o.height ?? 220 });
  };
  new ResizeObserver(fit).observe(box);
  requestAnimationFrame(fit);
}

/** Daily values per key (policy, model) for a time chart: one series per key, days as times. */
export function pivotDays(rows: { day?: string; key: string; value: number }[], keys: string[], from: string, to: string): { times: number[]; series: SeriesSpec[] } {
  const days: string[] = [];
  for (let t = Date.parse(`${from.slice(0, 10)}T00:00:00Z`); t < Date.parse(to); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const index = new Map(days.map((d, i) => [d, i]));
  const series = keys.map((k) => ({ label: k, values: days.map((): number | null => 0) }));
  for (const r of rows) {
    const i = index.get(r.day ?? '');
    const s = series[keys.indexOf(r.key)];
    if (i === undefined || !s) continue;
    s.values[i] = (s.values[i] ?? 0) + r.value;
  }
  return { times: days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000), series };
}
