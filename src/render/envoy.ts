/**
 * Plain (self-managed) Envoy: a ConfigMap with two YAML lists for whoever writes the Envoy configuration (Envoy cannot
 * include files: paste them into the bootstrap, or template them in) — `http_filters.yaml`, the ext_proc entry to put
 * before envoy.filters.http.router, and `clusters.yaml`, the gRPC cluster of the ext_proc (STRICT_DNS on
 * settings.envoy.address — the chart's headless Service, so Envoy balances across the replicas — HTTP/2 through
 * explicit http2_protocol_options). Shared by all policies, like the Istio EnvoyFilter: the filter is wired once and
 * the ext_proc decides which policies apply (route names: src/policy/routes.ts).
 */
import { stringify } from 'yaml';
import { extProcHttpFilter } from './ext-proc-filter.js';
import { sharedMeta, type RenderedConfigMap } from './meta.js';
import type { OperatorSettings } from './settings.js';

export interface EnvoyCluster {
  name: string;
  type: 'STRICT_DNS';
  connect_timeout: string;
  circuit_breakers: { thresholds: { priority: 'DEFAULT'; max_requests: number; max_pending_requests: number }[] };
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': string;
      explicit_http_config: { http2_protocol_options: Record<string, never> };
    };
  };
  load_assignment: {
    cluster_name: string;
    endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[];
  };
}

/** The ext_proc gRPC cluster. */
export function extProcCluster(s: OperatorSettings): EnvoyCluster {
  const name = s.envoy.clusterName;
  return {
    name,
    type: 'STRICT_DNS',
    connect_timeout: '1s',
    // One ext_proc stream per metered request for its whole life (a streamed answer holds it as long as it streams);
    // Envoy's defaults (1,024 each) would cap a gateway at 1,024 metered requests in flight.
    circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_requests: s.maxRequests, max_pending_requests: s.maxRequests }] },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: s.envoy.address, port_value: s.extProc.port } } } }] }],
    },
  };
}

/** The ConfigMap a self-managed Envoy mounts (http_filters.yaml, clusters.yaml). */
export function renderEnvoyConfigMap(s: OperatorSettings): RenderedConfigMap {
  const opts = { lineWidth: 0 } as const;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: sharedMeta(s.envoy.configMapName, s.envoy.namespace, s),
    data: {
      'clusters.yaml': stringify([extProcCluster(s)], opts),
      'http_filters.yaml': stringify([extProcHttpFilter(s, s.envoy.clusterName)], opts),
    },
  };
}
