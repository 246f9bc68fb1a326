/**
 * The HTTPRoutes and GRPCRoutes the route index is built from (src/render/route-index.ts): the target informers'
 * caches when the operator runs them, else one LIST per kind — only when some accepted policy targets a Gateway or a
 * route rule (a policy targeting a whole route needs no route object). A kind the server does not serve has none.
 */
import { NO_KIND_MATCH, isKubeApiError, type KubeClient, type KubeObject } from '../k8s/client.js';
import type { AcceptedPolicy } from '../render/meta.js';
import type { RouteObject } from '../render/route-index.js';

export const ROUTE_KINDS = [
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute' },
] as const;

function needsRoutes(accepted: readonly AcceptedPolicy[]): boolean {
  return accepted.some((a) => a.policy.targets.refs.some((r) => r.kind === 'Gateway' || r.sectionName !== undefined));
}

export async function routeObjects(client: KubeClient, accepted: readonly AcceptedPolicy[], cached?: () => readonly KubeObject[]): Promise<readonly RouteObject[]> {
  if (!needsRoutes(accepted)) return [];
  if (cached) return cached();
  const out: KubeObject[] = [];
  for (const kind of ROUTE_KINDS) {
    try {
      out.push(...(await client.list(kind)).items);
    } catch (err) {
      if (isKubeApiError(err) && err.reason === NO_KIND_MATCH) continue;
      throw err;
    }
  }
  return out;
}
