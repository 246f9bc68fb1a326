/**
 * Just enough PromQL reading for the dashboard test: the metric names and label names an expression uses. Strings,
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
