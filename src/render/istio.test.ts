import { describe, expect, it } from 'vitest';
import { schemaErrors } from '../../test/helpers/schemas.js';
import { strictSchemaErrors } from '../../test/helpers/strict-schema.js';
import { renderEnvoyFilter } from './istio.js';
import { resolveSettings, type SettingsInput } from './settings.js';

const EXT_PROC = {
  '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
  grpc_service: { envoy_grpc: { cluster_name: 'outbound|50051||tokenmeter.tokenmeter-system.svc.cluster.local' } },
  failure_mode_allow: true,
  message_timeout: '2s',
  allow_mode_override: true,
  processing_mode: {
    request_header_mode: 'SEND', request_body_mode: 'NONE', response_header_mode: 'SEND', response_body_mode: 'STREAMED',
    request_trailer_mode: 'SKIP', response_trailer_mode: 'SKIP',
  },
  request_attributes: ['source.address', 'xds.route_name'],
  metadata_options: { receiving_namespaces: { untyped: ['io.tokenmeter'] } },
};

describe('renderEnvoyFilter', () => {
  it('inserts the ext_proc before the router on the selected gateway pods', () => {
    expect(renderEnvoyFilter(resolveSettings({ flavour: 'Istio' }))).toEqual({
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'EnvoyFilter',
      metadata: { name: 'tokenmeter-ext-proc', namespace: 'istio-system', labels: { 'app.kubernetes.io/managed-by': 'tokenmeter-operator' } },
      spec: {
        workloadSelector: { labels: { istio: 'ingressgateway' } },
        configPatches: [{
          applyTo: 'HTTP_FILTER',
          match: {
            context: 'GATEWAY',
            listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'envoy.filters.http.router' } } } },
          },
          patch: { operation: 'INSERT_BEFORE', value: { name: 'envoy.filters.http.ext_proc', typed_config: EXT_PROC } },
        }],
      },
    });
  });

  const CASES: [string, SettingsInput, Record<string, unknown>][] = [
    ['defaults', {}, {}],
    ['another Service, port, timeout and fail-closed', { extProc: { name: 'meter', namespace: 'llm', port: 9002 }, messageTimeout: '1s500ms', failOpen: false }, {
      cluster: 'outbound|9002||meter.llm.svc.cluster.local', timeout: '1.5s', failOpen: false,
    }],
    ['a gateway namespace, selector and cluster domain', {
      istio: { namespace: 'gateways', workloadSelector: { 'gateway.networking.k8s.io/gateway-name': 'llm', app: 'gw' } }, clusterDomain: 'corp.local',
    }, { namespace: 'gateways', cluster: 'outbound|50051||tokenmeter.tokenmeter-system.svc.corp.local' }],
  ];
  it.each(CASES)('%s: valid against the Istio 1.30 CRD (schema, unknown fields, CEL) with the settings applied', (_name, input, want) => {
    const s = resolveSettings({ flavour: 'Istio', ...input });
    const ef = renderEnvoyFilter(s);
    expect(schemaErrors(ef)).toEqual([]);
    expect(strictSchemaErrors(ef)).toEqual([]);
    const cfg = ef.spec.configPatches[0]?.patch.value.typed_config;
    expect(cfg?.grpc_service.envoy_grpc.cluster_name).toBe(want.cluster ?? EXT_PROC.grpc_service.envoy_grpc.cluster_name);
    expect(cfg?.message_timeout).toBe(want.timeout ?? '2s');
    expect(cfg?.failure_mode_allow).toBe(want.failOpen ?? true);
    expect(ef.metadata.namespace).toBe(want.namespace ?? 'istio-system');
    expect(ef.spec.workloadSelector.labels).toEqual(s.istio.workloadSelector);
  });

  it('is deterministic (selector labels sorted whatever the insertion order)', () => {
    const a = renderEnvoyFilter(resolveSettings({ istio: { workloadSelector: { b: '1', a: '2' } } }));
    const b = renderEnvoyFilter(resolveSettings({ istio: { workloadSelector: { a: '2', b: '1' } } }));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});
