import { describe, expect, it } from 'vitest';
import { mergeSettings, settingsFromDocument } from './settings-document.js';

describe('settingsFromDocument', () => {
  it('accepts every documented key and treats null as unset', () => {
    const doc = {
      flavour: 'EnvoyGateway', extProc: { name: 'a', namespace: 'b', port: 1, adminPort: 2, adminPortName: 'admin', labels: { x: 'y' } },
      messageTimeout: '1s', failOpen: true, envoyGateway: { rateLimit: 'Off' }, istio: { namespace: 'i', workloadSelector: {}, name: 'n' },
      envoy: { configMapName: 'c', namespace: 'n', clusterName: 'k' }, labels: {}, limitsConfigMap: { name: 'l', namespace: 'n' },
      serviceMonitor: { enabled: true, name: 's', interval: '30s', labels: {} }, clusterDomain: 'cluster.local',
    };
    expect(settingsFromDocument(doc, 'f')).toEqual(doc);
    expect(settingsFromDocument({ flavour: null, istio: { name: null } }, 'f')).toEqual({ istio: {} });
    expect(settingsFromDocument(null, 'f')).toEqual({});
  });

  it.each([
    [['a', 'list'], /f: expected a map/],
    [{ flavor: 'Istio' }, /f: flavor: unknown key \(known: flavour, extProc/],
    [{ serviceMonitor: { enable: true } }, /serviceMonitor\.enable: unknown key/],
    [{ extProc: { port: '50051' } }, /extProc\.port: expected a number, got "50051"/],
    [{ labels: { team: 3 } }, /labels\.team: expected a string, got 3/],
    [{ istio: 'gateways' }, /istio: expected a map/],
  ])('rejects %j', (doc, message) => {
    expect(() => settingsFromDocument(doc, 'f')).toThrow(message);
  });
});

describe('mergeSettings', () => {
  it('sets top-level keys, merges nested maps one level, replaces label maps whole', () => {
    const merged = mergeSettings(
      { flavour: 'Istio', extProc: { name: 'a', adminPort: 9000 }, labels: { a: '1' } },
      { flavour: 'Envoy', extProc: { name: 'b', namespace: 'n', port: 1 }, labels: { b: '2' } },
    );
    expect(merged).toEqual({ flavour: 'Envoy', extProc: { name: 'b', namespace: 'n', port: 1, adminPort: 9000 }, labels: { b: '2' } });
  });
});
