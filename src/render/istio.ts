/**
 * Istio attachment: ONE EnvoyFilter (networking.istio.io/v1alpha3) for the whole gateway, not one per policy. It
 * only wires the ext_proc filter before the router on the selected gateway workloads; which policies apply to a
 * request is decided by the ext_proc's matcher (hosts, paths, models) from the limits ConfigMap. One filter per
 * policy would insert the ext_proc once per policy, so every request would be processed (and charged) N times.
 * The EnvoyFilter is shared, so it has no owner reference: the operator keeps it while the flavour is Istio and at
 * least one policy is accepted.
 */
import { extProcHttpFilter, HCM_FILTER_NAME, istioClusterName, ROUTER_FILTER_NAME, type HttpFilter } from './ext-proc-filter.js';
import { sharedMeta, sortedRecord, type RenderedObject } from './meta.js';
import type { OperatorSettings } from './settings.js';

export const ISTIO_API_VERSION = 'networking.istio.io/v1alpha3';

export interface EnvoyFilterPatch {
  applyTo: 'HTTP_FILTER';
  match: {
    context: 'GATEWAY';
    listener: { filterChain: { filter: { name: string; subFilter: { name: string } } } };
  };
  patch: { operation: 'INSERT_BEFORE'; value: HttpFilter };
}

export interface EnvoyFilterSpec {
  workloadSelector: { labels: Record<string, string> };
  configPatches: EnvoyFilterPatch[];
}

export type EnvoyFilter = RenderedObject<EnvoyFilterSpec>;

/** The gateway's EnvoyFilter, in the configured namespace, selecting the configured gateway pods. */
export function renderEnvoyFilter(s: OperatorSettings): EnvoyFilter {
  return {
    apiVersion: ISTIO_API_VERSION,
    kind: 'EnvoyFilter',
    metadata: sharedMeta(s.istio.name, s.istio.namespace, s),
    spec: {
      workloadSelector: { labels: sortedRecord(s.istio.workloadSelector) },
      configPatches: [{
        applyTo: 'HTTP_FILTER',
        match: {
          context: 'GATEWAY',
          listener: { filterChain: { filter: { name: HCM_FILTER_NAME, subFilter: { name: ROUTER_FILTER_NAME } } } },
        },
        patch: { operation: 'INSERT_BEFORE', value: extProcHttpFilter(s, istioClusterName(s)) },
      }],
    },
  };
}
