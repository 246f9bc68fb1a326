import { describe, expect, it } from 'vitest';
import { parseGoDuration, protoDuration, resolveSettings, serviceHost, type SettingsInput } from './settings.js';

describe('resolveSettings', () => {
  it('fills every default', () => {
    expect(resolveSettings()).toEqual({
      flavour: 'EnvoyGateway',
      extProc: {
        name: 'tokenmeter', namespace: 'tokenmeter-system', port: 50051, adminPort: 9464, adminPortName: 'admin',
        labels: { 'app.kubernetes.io/name': 'tokenmeter' },
      },
      messageTimeout: '2s',
      messageTimeoutMs: 2000,
      failOpen: true,
      maxRequests: 10000,
      envoyGateway: { rateLimit: 'Off', mergeType: 'StrategicMerge', configMap: { namespace: 'envoy-gateway-system', name: 'envoy-gateway-config' } },
      istio: { namespace: 'istio-system', workloadSelector: { istio: 'ingressgateway' }, name: 'tokenmeter-ext-proc' },
      envoy: { configMapName: 'tokenmeter-envoy', namespace: 'tokenmeter-system', clusterName: 'tokenmeter', address: 'tokenmeter.tokenmeter-system.svc.cluster.local' },
      labels: { 'app.kubernetes.io/managed-by': 'tokenmeter-operator' },
      limitsConfigMap: { name: 'tokenmeter-policies', namespace: 'tokenmeter-system' },
      serviceMonitor: { enabled: true, name: 'tokenmeter-extproc', interval: '30s', labels: {} },
      clusterDomain: 'cluster.local',
    });
  });

  it('keeps overrides, derives namespaces from the Service, always stamps managed-by, and freezes', () => {
    const s = resolveSettings({
      flavour: 'Istio', extProc: { name: 'tm', namespace: 'llm', port: 9002 }, messageTimeout: '1s500ms', failOpen: false,
      labels: { team: 'platform', 'app.kubernetes.io/managed-by': 'someone-else' },
    });
    expect(s.extProc).toMatchObject({ name: 'tm', namespace: 'llm', port: 9002, labels: { 'app.kubernetes.io/name': 'tm' } });
    expect(s.messageTimeoutMs).toBe(1500);
    expect(s.limitsConfigMap.namespace).toBe('llm');
    expect(s.envoy.namespace).toBe('llm');
    expect(s.labels).toEqual({ team: 'platform', 'app.kubernetes.io/managed-by': 'tokenmeter-operator' });
    expect(serviceHost(s)).toBe('tm.llm.svc.cluster.local');
    expect(Object.isFrozen(s) && Object.isFrozen(s.extProc) && Object.isFrozen(s.labels)).toBe(true);
  });

  const BAD: [string, SettingsInput, RegExp][] = [
    ['flavour', { flavour: 'Nginx' as never }, /flavour: expected one of EnvoyGateway, Istio, Envoy/],
    ['Service name', { extProc: { name: 'Token_Meter' } }, /extProc\.name: expected a DNS label/],
    ['port', { extProc: { port: 0 } }, /extProc\.port: expected a port 1-65535, got 0/],
    ['admin port', { extProc: { adminPort: 70000 } }, /extProc\.adminPort/],
    ['admin port name', { extProc: { adminPortName: 'metrics-port-too-long' } }, /extProc\.adminPortName/],
    ['message timeout', { messageTimeout: '0.2s' }, /messageTimeout: expected a duration like 200ms/],
    ['zero message timeout', { messageTimeout: '0ms' }, /messageTimeout/],
    ['rate-limit mode', { envoyGateway: { rateLimit: 'Redis' as never } }, /envoyGateway\.rateLimit/],
    ['label value', { labels: { team: 'a b' } }, /labels: invalid value "a b" for label team/],
    ['selector key', { istio: { workloadSelector: { '-bad': 'x' } } }, /istio\.workloadSelector: invalid label key/],
    ['interval', { serviceMonitor: { interval: 'often' } }, /serviceMonitor\.interval/],
  ];
  it.each(BAD)('rejects a bad %s with TM_CONFIG_INVALID naming the field', (_what, input, message) => {
    expect(() => resolveSettings(input)).toThrow(message);
    expect(() => resolveSettings(input)).toThrow(expect.objectContaining({ code: 'TM_CONFIG_INVALID' }) as Error);
  });
});

describe('durations', () => {
  it.each([
    ['200ms', 200], ['1s', 1000], ['1m30s', 90_000], ['2h', 7_200_000], ['1h1m1s1ms', 3_661_001], ['0.2s', undefined], ['', undefined], ['5d', undefined],
  ] as const)('parseGoDuration(%j) = %j', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });
  it.each([[200, '0.2s'], [1000, '1s'], [1500, '1.5s'], [90_000, '90s'], [1, '0.001s']] as const)('protoDuration(%j) = %j', (ms, text) => {
    expect(protoDuration(ms)).toBe(text);
  });
});
