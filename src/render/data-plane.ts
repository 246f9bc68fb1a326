/**
 * The data-plane document (src/envoy/data-plane.ts) for the operator's settings and accepted policies, published in
 * the named limits ConfigMap beside the policies (src/render/limits.ts): the filter every flavour renders (no request
 * body, STREAMED response, the settings' message timeout) and the route index. The limits version covers it, so a
 * route that attaches to a targeted Gateway changes the version the replicas must report.
 */
import { DATA_PLANE_KEY, formatDataPlaneDoc, type DataPlaneDoc } from '../envoy/data-plane.js';
import { RENDERED_FILTER } from '../envoy/filter-facts.js';
import type { BesideDocument } from './limits.js';
import type { AcceptedPolicy } from './meta.js';
import { buildRouteIndex, type RouteObject } from './route-index.js';
import type { OperatorSettings } from './settings.js';

export function dataPlaneDoc(s: OperatorSettings, policies: readonly AcceptedPolicy[], routes: readonly RouteObject[]): DataPlaneDoc {
  return { filter: { ...RENDERED_FILTER, messageTimeoutMs: s.messageTimeoutMs }, routes: buildRouteIndex(policies, routes) };
}

/** The document as the limits ConfigMap carries it. */
export function dataPlaneBeside(doc: DataPlaneDoc): BesideDocument {
  return { key: DATA_PLANE_KEY, text: formatDataPlaneDoc(doc) };
}
