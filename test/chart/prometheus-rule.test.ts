/**
 * The chart's PrometheusRule: off by default, valid against the Prometheus Operator's CRD schema, every expression
 * naming only metrics and labels the code registers (plus the target labels Prometheus adds), every alert with a
 * severity, a summary, a description and a runbook_url whose anchor is a section of the README.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, describeChart, objectsOf, one, renderChart } from '../helpers/helm.js';
import { schemaErrors } from '../helpers/schemas.js';
import { TARGET_LABELS, problemsOf, registeredSeries } from './promql.js';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: Record<string, string>;
}

/** GitHub's anchor of a README heading. */
const anchor = (heading: string): string => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

describeChart('the PrometheusRule', () => {
  const render = (): ReturnType<typeof renderChart> => renderChart({ values: [{ prometheusRule: { enabled: true, labels: { release: 'kps' } } }], namespace: 'llm' });

  it('is off by default, and valid against the Prometheus Operator schema when on', () => {
    expect(objectsOf(renderChart().objects, 'PrometheusRule')).toEqual([]);
    const rule = one(render().objects, 'PrometheusRule');
    expect(schemaErrors(rule)).toEqual([]);
    expect((rule.metadata as { labels: Record<string, string> }).labels).toMatchObject({ release: 'kps' });
  });

  it('alerts on what a platform team needs, each PromQL expression naming only registered metrics and labels', () => {
    const groups = (one(render().objects, 'PrometheusRule').spec as { groups: { rules: Rule[] }[] }).groups;
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining([
      'TokenmeterSubjectNearBudget', 'TokenmeterSubjectBudgetExhausted', 'TokenmeterHighRejectionRate', 'TokenmeterCounterStoreErrors',
      'TokenmeterLedgerDroppingRecords', 'TokenmeterLedgerLagging', 'TokenmeterPrecountDrift', 'TokenmeterExtprocDown',
    ]));
    const series = registeredSeries();
    expect(rules.flatMap((r) => problemsOf(r.expr, series, TARGET_LABELS).map((p) => `${r.alert}: ${p}`))).toEqual([]);
    for (const r of rules) expect(r.expr, r.alert).toContain('namespace="llm"');
    // The checker catches a made-up metric or label in an alert.
    expect(problemsOf('max by (tenant) (tokenmeter_budget_subject_usage_ratio) > 1', series, TARGET_LABELS)).toEqual(['label tenant is not on tokenmeter_budget_subject_usage_ratio']);
  });

  it('every alert: a severity, a summary, a description, and a runbook section that exists in the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const anchors = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchor(m[1] ?? '')));
    const rules = (one(render().objects, 'PrometheusRule').spec as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
    for (const r of rules) {
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      expect(r.annotations.description, r.alert).toBeTruthy();
      const url = r.annotations.runbook_url ?? '';
      expect(url, r.alert).toMatch(/README\.md#/);
      expect(anchors, `${r.alert}: README has no section #${url.split('#')[1] ?? ''}`).toContain(url.split('#')[1]);
    }
  });
});
