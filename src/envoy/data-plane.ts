/**
 * What the operator publishes beside the limits for the ext_proc, as `dataplane.json` in the limits ConfigMap: the
 * filter it rendered (message timeout, body modes: src/envoy/filter-facts.ts) and the route index (which policies
 * each route is attached to: src/policy/routes.ts). Part of the limits version, so Programmed waits until every
 * replica loaded it. Pure.
 */
import { filterFactsFrom, type FilterFacts } from './filter-facts.js';
import { routeIndexFrom, type RouteIndex } from '../policy/routes.js';

export const DATA_PLANE_KEY = 'dataplane.json';

export interface DataPlaneDoc {
  filter: FilterFacts;
  routes: RouteIndex;
}

/** Stable JSON (fixed key order): the same facts always give the same bytes, so the version does not churn. */
export function formatDataPlaneDoc(doc: DataPlaneDoc): string {
  const { messageTimeoutMs, requestBodyMode, responseBodyMode } = doc.filter;
  return `${JSON.stringify({ filter: { messageTimeoutMs, requestBodyMode, responseBodyMode }, routes: { routes: doc.routes.routes, ruleNames: doc.routes.ruleNames } })}\n`;
}

/** The document from the ConfigMap's text; undefined when absent or malformed (the caller keeps what it had). */
export function parseDataPlaneDoc(text: string | undefined): DataPlaneDoc | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as { filter?: unknown; routes?: unknown };
  const filter = filterFactsFrom(o.filter);
  const routes = routeIndexFrom(o.routes);
  return filter && routes ? { filter, routes } : undefined;
}
