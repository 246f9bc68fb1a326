/**
 * The data-plane document (src/envoy/data-plane.ts) for the operator's settings and accepted policies, added to the
 * limits ConfigMap: the filter every flavour renders (no request body, STREAMED response, the settings' message
 * timeout) and the route index. The limits version covers it: it is the hash of the policies' version and the
 * document, so a route that attaches to a targeted Gateway changes the version the replicas must report.
 */
import { DATA_PLANE_KEY, formatDataPlaneDoc, type DataPlaneDoc } from '../envoy/data-plane.js';
import { RENDERED_FILTER } from '../envoy/filter-facts.js';
import type { LimitsRender } from './limits.js';
import { VERSION_ANNOTATION, VERSION_KEY } from './limits.js';
import { shortHash, type AcceptedPolicy } from './meta.js';
import { buildRouteIndex, type RouteObject } from './route-index.js';
import type { OperatorSettings } from './settings.js';

export function dataPlaneDoc(s: OperatorSettings, policies: readonly AcceptedPolicy[], routes: readonly RouteObject[]): DataPlaneDoc {
  return { filter: { ...RENDERED_FILTER, messageTimeoutMs: s.messageTimeoutMs }, routes: buildRouteIndex(policies, routes) };
}

/** `limits` with the document in its ConfigMap and a version that covers both. */
export function withDataPlane(limits: LimitsRender, doc: DataPlaneDoc): LimitsRender {
  const json = formatDataPlaneDoc(doc);
  const version = shortHash(`${limits.version}\n${json}`, 16);
  const cm = limits.configMap;
  return {
    ...limits, version,
    configMap: {
      ...cm,
      metadata: { ...cm.metadata, annotations: { ...cm.metadata.annotations, [VERSION_ANNOTATION]: version } },
      data: { ...cm.data, [VERSION_KEY]: version, [DATA_PLANE_KEY]: json },
    },
  };
}
