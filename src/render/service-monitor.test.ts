import { describe, expect, it } from 'vitest';
import { schemaErrors } from '../../test/helpers/schemas.js';
import { strictSchemaErrors } from '../../test/helpers/strict-schema.js';
import { renderServiceMonitor } from './service-monitor.js';
import { resolveSettings, type SettingsInput } from './settings.js';

describe('renderServiceMonitor', () => {
  it('scrapes /metrics on the admin port of the ext_proc Service every 30s', () => {
    expect(renderServiceMonitor(resolveSettings())).toEqual({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'tokenmeter-extproc', namespace: 'tokenmeter-system', labels: { 'app.kubernetes.io/managed-by': 'tokenmeter-operator' } },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': 'tokenmeter' } },
        namespaceSelector: { matchNames: ['tokenmeter-system'] },
        endpoints: [{ port: 'admin', path: '/metrics', scheme: 'http', interval: '30s' }],
      },
    });
  });

  const CASES: [string, SettingsInput, { port: string; interval: string; ns: string; labels: Record<string, string> }][] = [
    ['defaults', {}, { port: 'admin', interval: '30s', ns: 'tokenmeter-system', labels: { 'app.kubernetes.io/name': 'tokenmeter' } }],
    ['metrics port name, other labels and interval', {
      extProc: { namespace: 'llm', adminPortName: 'metrics', labels: { app: 'tm', tier: 'data-plane' } }, serviceMonitor: { interval: '1m' }, labels: { release: 'prom' },
    }, { port: 'metrics', interval: '1m', ns: 'llm', labels: { app: 'tm', tier: 'data-plane' } }],
  ];
  it.each(CASES)('%s: valid against the Prometheus Operator v0.93 CRD (schema, unknown fields, CEL)', (_name, input, want) => {
    const sm = renderServiceMonitor(resolveSettings(input));
    expect(schemaErrors(sm)).toEqual([]);
    expect(strictSchemaErrors(sm)).toEqual([]);
    expect(sm.metadata.namespace).toBe(want.ns);
    expect(sm.spec.selector.matchLabels).toEqual(want.labels);
    expect(sm.spec.namespaceSelector.matchNames).toEqual([want.ns]);
    expect(sm.spec.endpoints).toEqual([{ port: want.port, path: '/metrics', scheme: 'http', interval: want.interval }]);
  });

  it('stamps the operator labels (e.g. the one a Prometheus serviceMonitorSelector matches)', () => {
    expect(renderServiceMonitor(resolveSettings({ labels: { release: 'prom' } })).metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'tokenmeter-operator', release: 'prom',
    });
  });
});
