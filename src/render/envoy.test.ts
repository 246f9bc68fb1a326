import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { schemaErrors } from '../../test/helpers/schemas.js';
import { renderEnvoyConfigMap } from './envoy.js';
import { resolveSettings } from './settings.js';

describe('renderEnvoyConfigMap', () => {
  const S = resolveSettings({ flavour: 'Envoy' });

  it('is a valid ConfigMap beside the ext_proc Service holding http_filters.yaml and clusters.yaml', () => {
    const cm = renderEnvoyConfigMap(S);
    expect(schemaErrors(cm)).toEqual([]);
    expect(cm.metadata).toEqual({ name: 'tokenmeter-envoy', namespace: 'tokenmeter-system', labels: { 'app.kubernetes.io/managed-by': 'tokenmeter-operator' } });
    expect(Object.keys(cm.data)).toEqual(['clusters.yaml', 'http_filters.yaml']);
  });

  it('http_filters.yaml: the ext_proc entry of the README, plus source.address and xds.route_name', () => {
    expect(parse(renderEnvoyConfigMap(S).data['http_filters.yaml'] ?? '')).toEqual([{
      name: 'envoy.filters.http.ext_proc',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
        grpc_service: { envoy_grpc: { cluster_name: 'tokenmeter' } },
        failure_mode_allow: true,
        message_timeout: '2s',
        allow_mode_override: true,
        processing_mode: {
          request_header_mode: 'SEND', request_body_mode: 'NONE', response_header_mode: 'SEND', response_body_mode: 'STREAMED',
          request_trailer_mode: 'SKIP', response_trailer_mode: 'SKIP',
        },
        request_attributes: ['source.address', 'xds.route_name'],
        metadata_options: { receiving_namespaces: { untyped: ['io.tokenmeter'] } },
      },
    }]);
  });

  it('clusters.yaml: a STRICT_DNS HTTP/2 cluster on the Service name', () => {
    expect(parse(renderEnvoyConfigMap(S).data['clusters.yaml'] ?? '')).toEqual([{
      name: 'tokenmeter',
      type: 'STRICT_DNS',
      connect_timeout: '1s',
      circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_requests: 10000, max_pending_requests: 10000 }] },
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      },
      load_assignment: {
        cluster_name: 'tokenmeter',
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'tokenmeter.tokenmeter-system.svc.cluster.local', port_value: 50051 } } } }] }],
      },
    }]);
  });

  it('follows the settings: cluster name, Service, timeout, failure mode, ConfigMap name', () => {
    const s = resolveSettings({
      flavour: 'Envoy', envoy: { clusterName: 'ext_proc', configMapName: 'envoy-extras', namespace: 'edge' },
      extProc: { name: 'meter', namespace: 'llm', port: 9002 }, messageTimeout: '500ms', failOpen: false,
    });
    const cm = renderEnvoyConfigMap(s);
    expect(schemaErrors(cm)).toEqual([]);
    expect(cm.metadata).toMatchObject({ name: 'envoy-extras', namespace: 'edge' });
    const [filter] = parse(cm.data['http_filters.yaml'] ?? '') as { typed_config: Record<string, unknown> }[];
    expect(filter?.typed_config).toMatchObject({ grpc_service: { envoy_grpc: { cluster_name: 'ext_proc' } }, message_timeout: '0.5s', failure_mode_allow: false });
    const [cluster] = parse(cm.data['clusters.yaml'] ?? '') as { name: string; load_assignment: unknown }[];
    expect(cluster?.name).toBe('ext_proc');
    expect(cluster?.load_assignment).toEqual({
      cluster_name: 'ext_proc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'meter.llm.svc.cluster.local', port_value: 9002 } } } }] }],
    });
  });

  it('raises the circuit breakers above Envoy\'s 1,024 default: every metered request holds an ext_proc stream', () => {
    const cluster = (s: ReturnType<typeof resolveSettings>) =>
      (parse(renderEnvoyConfigMap(s).data['clusters.yaml'] ?? '') as { circuit_breakers: { thresholds: Record<string, unknown>[] } }[])[0];
    expect(cluster(S)?.circuit_breakers.thresholds[0]?.max_requests).toBeGreaterThan(1024);
    expect(cluster(resolveSettings({ flavour: 'Envoy', maxRequests: 50_000 }))?.circuit_breakers.thresholds)
      .toEqual([{ priority: 'DEFAULT', max_requests: 50_000, max_pending_requests: 50_000 }]);
    expect(() => resolveSettings({ maxRequests: 0 })).toThrow(/maxRequests/);
  });

  it('is deterministic', () => {
    expect(JSON.stringify(renderEnvoyConfigMap(S))).toBe(JSON.stringify(renderEnvoyConfigMap(resolveSettings({ flavour: 'Envoy' }))));
  });
});
