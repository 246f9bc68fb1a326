import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { operatorConfig } from './operator.js';

const files: Record<string, string> = {
  '/etc/tm/operator.yaml': [
    'flavour: Istio',
    'extProc: {name: tm, namespace: gw-system, port: 50051, adminPort: 9000, labels: {app.kubernetes.io/name: tm}}',
    'failOpen: false',
    'istio: {namespace: gateways, workloadSelector: {app: edge}}',
    'serviceMonitor: {enabled: false, labels: {release: prom}}',
    'labels:',
  ].join('\n'),
  '/etc/tm/typo.yaml': 'extProc: {nmae: tm}\n',
  '/etc/tm/wrong-type.yaml': 'failOpen: "no"\n',
  '/etc/tm/bad-value.yaml': 'messageTimeout: soon\n',
};
const readText = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
  return text;
};
const config = (flags: Record<string, string>, env: Record<string, string> = {}) => operatorConfig(flags, env, readText);

describe('operator config', () => {
  it('defaults: Envoy Gateway, tokenmeter.tokenmeter-system:50051, limits and Lease in that namespace', () => {
    const c = config({});
    expect(c.flavour).toBe('EnvoyGateway');
    expect(c.extProc).toEqual({ name: 'tokenmeter', namespace: 'tokenmeter-system', port: 50051 });
    expect(c.limitsConfigMap).toEqual({ name: 'tokenmeter-policies', namespace: 'tokenmeter-system' });
    expect(c.leaseNamespace).toBe('tokenmeter-system');
    expect(c.settings.serviceMonitor.enabled).toBe(true);
    expect(c.admin).toEqual({ host: '0.0.0.0', port: 9465 });
    expect(c.concurrentReconciles).toBe(8);
    expect(config({ 'concurrent-reconciles': '16' }).concurrentReconciles).toBe(16);
    expect(() => config({ 'concurrent-reconciles': '0' })).toThrow(/--concurrent-reconciles: expected a whole number 1-64, got "0"/);
  });

  it('reads the --settings file: every renderer setting, limits and Lease following its ext_proc namespace', () => {
    const c = config({ settings: '/etc/tm/operator.yaml' });
    expect(c.flavour).toBe('Istio');
    expect(c.settings.extProc).toMatchObject({ name: 'tm', namespace: 'gw-system', adminPort: 9000, adminPortName: 'admin' });
    expect(c.settings.failOpen).toBe(false);
    expect(c.settings.istio).toEqual({ namespace: 'gateways', workloadSelector: { app: 'edge' }, name: 'tokenmeter-ext-proc' });
    expect(c.settings.serviceMonitor).toMatchObject({ enabled: false, labels: { release: 'prom' } });
    expect(c.limitsConfigMap).toEqual({ name: 'tokenmeter-policies', namespace: 'gw-system' });
    expect(c.leaseNamespace).toBe('gw-system');
  });

  it('flags and environment override the file', () => {
    const c = config({ settings: '/etc/tm/operator.yaml', flavour: 'Envoy', 'extproc-service': 'x.other:7000' }, { TOKENMETER_LIMITS_CONFIGMAP: 'ops/limits' });
    expect(c.flavour).toBe('Envoy');
    expect(c.settings.extProc).toMatchObject({ name: 'x', namespace: 'other', port: 7000, adminPort: 9000 });
    expect(c.limitsConfigMap).toEqual({ namespace: 'ops', name: 'limits' });
    expect(config({}, { TOKENMETER_SETTINGS: '/etc/tm/operator.yaml' }).flavour).toBe('Istio');
  });

  it('rejects a missing file, unknown keys, wrong types and bad values with the file and key named', () => {
    expect(() => config({ settings: '/nope.yaml' })).toThrow(/--settings: cannot read \/nope\.yaml: ENOENT/);
    expect(() => config({ settings: '/etc/tm/typo.yaml' })).toThrow(/\/etc\/tm\/typo\.yaml: extProc\.nmae: unknown key \(known: name, namespace, port/);
    expect(() => config({ settings: '/etc/tm/wrong-type.yaml' })).toThrow(/failOpen: expected a boolean, got "no"/);
    expect(() => config({ settings: '/etc/tm/bad-value.yaml' })).toThrow(/messageTimeout: expected a duration/);
    expect(() => config({ flavour: 'Nginx' })).toThrow(/--flavour: expected one of EnvoyGateway, Istio, Envoy/);
    expect(() => config({ 'extproc-service': 'tokenmeter' })).toThrow(/--extproc-service: expected NAME\.NAMESPACE:PORT/);
  });

  it('is what `tokenmeter operator` parses, and --settings belongs to the operator only', () => {
    const parsed = loadConfig(['operator', '--flavour', 'Envoy'], {});
    expect(parsed.operator?.settings.flavour).toBe('Envoy');
    expect(() => loadConfig(['extproc', '--settings', '/x.yaml'], {})).toThrow(/--settings is an option of the operator command/);
  });
});
