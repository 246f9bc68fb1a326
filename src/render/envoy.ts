/**
 * Plain (self-managed) Envoy: a ConfigMap with two YAML lists a bootstrap includes — `http_filters.yaml`, the ext_proc
 * entry to put before envoy.filters.http.router, and `clusters.yaml`, the gRPC cluster of the ext_proc Service
 * (STRICT_DNS on its cluster-local name, HTTP/2 through explicit http2_protocol_options). Shared by all policies,
 * like the Istio EnvoyFilter: the filter is wired once and the ext_proc decides which policies apply.
 */
import { stringify } from 'yaml';
import { extProcHttpFilter } from './ext-proc-filter.js';
import { sharedMeta, type RenderedConfigMap } from './meta.js';
import { serviceHost, type OperatorSettings } from './settings.js';

export interface EnvoyCluster {
  name: string;
  type: 'STRICT_DNS';
  connect_timeout: string;
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
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: serviceHost(s), port_value: s.extProc.port } } } }] }],
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
