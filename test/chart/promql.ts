import { createMetrics } from '../../src/metrics/metrics.js';
import { createOperatorMetrics } from '../../src/operator/metrics.js';

/**
 * Just enough PromQL reading for the dashboard and alert tests: the metric names and label names an expression uses. Strings,
 * range selectors and Grafana variables are dropped; `by (...)`/`without (...)` and `{...}` give label names; any
 * remaining identifier not followed by `(` and not a keyword is a metric name.
 */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

export interface PromqlUse {
  metrics: string[];
  labels: string[];
}

export function promqlUses(expr: string): PromqlUse {
  const labels: string[] = [];
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\[[^\]]*\]/g, '');
  rest = rest.replace(/\{([^}]*)\}/g, (_m, body: string) => {
    for (const m of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)/g)) labels.push(m[1] as string);
    return ' ';
  });
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, _kw: string, list: string) => {
    labels.push(...list.split(',').map((s) => s.trim()).filter(Boolean));
    return ' ';
  });
  // Whole identifiers only (no backtracking into "su" of "sum("), not part of a number, not a function call.
  const metrics = [...rest.matchAll(/(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(?![A-Za-z0-9_:]|\s*\()/g)]
    .map((m) => m[1] as string)
    .filter((name) => !KEYWORDS.has(name));
  return { metrics, labels };
}

/** Labels Prometheus adds to every scraped series (ServiceMonitor targets), not registered by the code. */
export const TARGET_LABELS = ['namespace', 'pod', 'job', 'instance', 'service', 'container', 'endpoint'];

/** Every series name the data plane and the operator export (histograms as _bucket/_sum/_count), with its labels. */
export function registeredSeries(): Map<string, Set<string>> {
  const metrics = [
    ...createMetrics({ maxModelLabels: 10, processMetrics: true }).registry.getMetricsAsArray(),
    ...createOperatorMetrics({ processMetrics: true }).registry.getMetricsAsArray(),
  ] as unknown as { name: string; type: string; labelNames?: readonly string[] }[];
  const out = new Map<string, Set<string>>();
  for (const m of metrics) {
    const labels = new Set(m.labelNames ?? []);
    if (m.type === 'histogram') {
      out.set(`${m.name}_bucket`, new Set([...labels, 'le']));
      out.set(`${m.name}_sum`, labels);
      out.set(`${m.name}_count`, labels);
    } else out.set(m.name, labels);
  }
  return out;
}

/** Why an expression is wrong: metrics no code registers, labels none of its metrics has (`extra`: labels allowed anyway). */
export function problemsOf(expr: string, series: Map<string, Set<string>>, extra: readonly string[] = []): string[] {
  const { metrics, labels } = promqlUses(expr);
  const problems = metrics.length === 0 ? [`no metric in ${expr}`] : [];
  const known = new Set<string>(extra);
  for (const m of metrics) {
    const l = series.get(m);
    if (!l) problems.push(`${m} is not registered`);
    for (const x of l ?? []) known.add(x);
  }
  for (const l of labels) if (!known.has(l)) problems.push(`label ${l} is not on ${metrics.join(', ')}`);
  return problems;
}
