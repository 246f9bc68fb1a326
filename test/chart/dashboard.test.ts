import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_DIR } from '../helpers/helm.js';
import { problemsOf, promqlUses, registeredSeries } from './promql.js';

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards', 'tokenmeter.json'), 'utf8')) as { panels: Panel[] };
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

describe('the Grafana dashboard', () => {
  const series = registeredSeries();

  it('reads PromQL well enough to catch a made-up metric or label', () => {
    expect(promqlUses('histogram_quantile(0.99, sum by (le, model) (rate(tokenmeter_x_bucket{outcome="a"}[$__rate_interval])))'))
      .toEqual({ metrics: ['tokenmeter_x_bucket'], labels: ['outcome', 'le', 'model'] });
    expect(promqlUses('sum(rate(a_total[5m])) * 3600 / sum(b)')).toEqual({ metrics: ['a_total', 'b'], labels: [] });
    expect(problemsOf('sum by (tenant) (rate(tokenmeter_tokens_total[5m]))', series)).toEqual(['label tenant is not on tokenmeter_tokens_total']);
    expect(problemsOf('rate(tokenmeter_token_total[5m])', series)).toEqual(['tokenmeter_token_total is not registered']);
    expect(problemsOf('sum by (le) (rate(tokenmeter_request_duration_seconds_bucket[5m]))', series)).toEqual([]);
  });

  it('uses only metrics the code registers, with labels they have', () => {
    expect(exprs.length).toBeGreaterThan(10);
    expect(exprs.flatMap(({ panel, expr }) => problemsOf(expr, series).map((p) => `${panel}: ${p}`))).toEqual([]);
  });
  it('has the panels the chart promises', () => {
    const used = new Set(exprs.flatMap(({ expr }) => promqlUses(expr).metrics));
    for (const m of ['tokenmeter_tokens_total', 'tokenmeter_cost_usd_total', 'tokenmeter_limit_decisions_total', 'tokenmeter_request_duration_seconds_bucket',
      'tokenmeter_extproc_message_duration_seconds_bucket', 'tokenmeter_open_streams', 'tokenmeter_operator_reconciles_total',
      'tokenmeter_spend_usd_total', 'tokenmeter_budget_subject_usage_ratio', 'tokenmeter_ledger_records_dropped_total']) expect(used, m).toContain(m);
    expect(exprs.some(({ expr }) => expr.includes('outcome="limited"') && expr.includes('by (policy)'))).toBe(true);
  });

  it('queries the data source chosen in its variable, and has unique panel ids', () => {
    const ids = panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels.filter((x) => x.type !== 'row')) expect((p as unknown as { datasource: unknown }).datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });
});
