/**
 * The ext_proc filter as Envoy's own configuration (proto JSON field names), shared by the Istio EnvoyFilter and the
 * plain-Envoy ConfigMap so the two can never drift: no request body unless tokenmeter asks for it (its headers reply
 * switches a metered request to BUFFERED, so it can count it and inject stream_options, while an upload on any other
 * path is never buffered: src/extproc/body-modes.ts), STREAMED response body (chunks answered at once), no trailers,
 * mode override allowed (unmetered requests skip their bodies), dynamic metadata received in io.tokenmeter,
 * `source.address` sent for ClientIP subjects. Envoy Gateway expresses the same choices in its own API
 * (envoy-gateway.ts). src/envoy/filter-facts.ts RENDERED_FILTER says the same to the ext_proc.
 */
import { protoDuration, serviceHost, type OperatorSettings } from './settings.js';

export const EXT_PROC_FILTER_NAME = 'envoy.filters.http.ext_proc';
export const EXT_PROC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor';
export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';
export const HCM_FILTER_NAME = 'envoy.filters.network.http_connection_manager';
/** The dynamic metadata namespace tokenmeter writes (input_tokens, total_tokens, …). */
export const METADATA_NAMESPACE = 'io.tokenmeter';
/**
 * Request attributes sent to the ext_proc, in every flavour. `source.address` is always sent (not only when a ClientIP
 * policy exists) so the filter configuration does not depend on which policies are attached: see README, "Operator".
 * `xds.route_name` names the route a request came through: the ext_proc applies a policy with targetRefs only to
 * the routes it is attached to (src/policy/routes.ts). Envoy Gateway's attribute pattern admits both.
 */
export const REQUEST_ATTRIBUTES: readonly string[] = ['source.address', 'xds.route_name'];

export interface ExtProcFilterConfig {
  '@type': string;
  grpc_service: { envoy_grpc: { cluster_name: string }; timeout?: string };
  failure_mode_allow: boolean;
  message_timeout: string;
  allow_mode_override: boolean;
  processing_mode: {
    request_header_mode: 'SEND';
    request_body_mode: 'NONE';
    response_header_mode: 'SEND';
    response_body_mode: 'STREAMED';
    request_trailer_mode: 'SKIP';
    response_trailer_mode: 'SKIP';
  };
  request_attributes: string[];
  metadata_options: { receiving_namespaces: { untyped: string[] } };
}

export interface HttpFilter {
  name: string;
  typed_config: ExtProcFilterConfig;
}

/** The ExternalProcessor typed_config pointing at `clusterName`. */
export function extProcFilterConfig(s: OperatorSettings, clusterName: string): ExtProcFilterConfig {
  return {
    '@type': EXT_PROC_TYPE,
    grpc_service: { envoy_grpc: { cluster_name: clusterName } },
    failure_mode_allow: s.failOpen,
    message_timeout: protoDuration(s.messageTimeoutMs),
    allow_mode_override: true,
    processing_mode: {
      request_header_mode: 'SEND',
      request_body_mode: 'NONE',
      response_header_mode: 'SEND',
      response_body_mode: 'STREAMED',
      request_trailer_mode: 'SKIP',
      response_trailer_mode: 'SKIP',
    },
    request_attributes: [...REQUEST_ATTRIBUTES],
    metadata_options: { receiving_namespaces: { untyped: [METADATA_NAMESPACE] } },
  };
}

/** The http_filters entry. */
export function extProcHttpFilter(s: OperatorSettings, clusterName: string): HttpFilter {
  return { name: EXT_PROC_FILTER_NAME, typed_config: extProcFilterConfig(s, clusterName) };
}

/** Istio's name for the outbound cluster of the ext_proc Service: `outbound|PORT||FQDN`. */
export function istioClusterName(s: OperatorSettings): string {
  return `outbound|${s.extProc.port}||${serviceHost(s)}`;
}
