import { parseArgs } from 'node:util';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { OPERATOR_FLAGS, SHARED_FLAGS, operatorConfig, type OperatorConfig } from '../../src/config/operator.js';
import { settingsFromDocument } from '../../src/render/settings-document.js';
import { extProcCluster } from '../../src/render/envoy.js';
import { ciScenarios, describeChart, objectsOf, one, renderChart, type RenderOptions } from '../helpers/helm.js';
import { EXTPROC, NAMESPACE, OPERATOR, containerOf, flagValues, meta, podSpec } from './pods.js';

/** The settings file's keys, as the brief for the chart lists them ('map': free-form string map). */
type Shape = { [key: string]: true | 'map' | Shape };
const SETTINGS_KEYS: Shape = {
  flavour: true,
  extProc: { name: true, namespace: true, port: true, adminPort: true, adminPortName: true, labels: 'map' },
  messageTimeout: true,
  failOpen: true,
  maxRequests: true,
  envoyGateway: { rateLimit: true, mergeType: true, configMap: { namespace: true, name: true } },
  istio: { namespace: true, workloadSelector: 'map', name: true },
  envoy: { configMapName: true, namespace: true, clusterName: true, address: true },
  labels: 'map',
  limitsConfigMap: { name: true, namespace: true },
  serviceMonitor: { enabled: true, name: true, interval: true, labels: 'map' },
  clusterDomain: true,
};

function unknownKeys(doc: Record<string, unknown>, shape: Shape, path = ''): string[] {
  return Object.entries(doc).flatMap(([k, v]) => {
    const s = shape[k];
    if (s === undefined) return [`${path}${k}`];
    return typeof s === 'object' ? unknownKeys(v as Record<string, unknown>, s, `${path}${k}.`) : [];
  });
}

const SETTINGS_CM = `${OPERATOR}-settings`;

/** The operator's config exactly as `tokenmeter operator` builds it from the rendered args and settings file. */
function operatorFromChart(opts: RenderOptions): { config: OperatorConfig; settingsText: string; args: string[] } {
  const { objects } = renderChart(opts);
  const c = containerOf(objects, OPERATOR);
  const args = c.args ?? [];
  expect(args[0]).toBe('operator');
  const cm = one(objects, 'ConfigMap', SETTINGS_CM);
  const settingsText = (cm.data as Record<string, string>)['operator.yaml'] ?? '';
  const volume = podSpec(one(objects, 'Deployment', OPERATOR)).volumes?.find((v) => v.configMap?.name === SETTINGS_CM);
  const mount = c.volumeMounts?.find((m) => m.name === volume?.name);
  expect(mount?.readOnly).toBe(true);
  const options = Object.fromEntries([...OPERATOR_FLAGS, ...SHARED_FLAGS].map((f) => [f, { type: 'string' as const }]));
  // strict: a flag the operator does not know throws here, as it would at start-up.
  const { values } = parseArgs({ args: args.slice(1), options, strict: true, allowPositionals: false });
  const config = operatorConfig(values, { POD_NAME: 'tokenmeter-operator-0' }, (path) => {
    expect(path).toBe(`${mount?.mountPath ?? '?'}/operator.yaml`);
    return settingsText;
  });
  return { config, settingsText, args };
}

describeChart('the operator command line and settings file', () => {
  it.each([['default values', undefined] as [string, string | undefined], ...ciScenarios()])('%s: only known keys, accepted by the operator', (_name, file) => {
    const { config, settingsText } = operatorFromChart({ files: file ? [file] : [] });
    const doc = parse(settingsText) as Record<string, unknown>;
    expect(unknownKeys(doc, SETTINGS_KEYS)).toEqual([]);
    expect(() => settingsFromDocument(doc, 'operator.yaml')).not.toThrow();
    expect(config.settings.extProc).toMatchObject({ name: EXTPROC, namespace: NAMESPACE, port: 50051, adminPort: 9464, adminPortName: 'admin' });
    expect(config.settings.limitsConfigMap).toEqual({ name: 'tokenmeter-policies', namespace: NAMESPACE });
    expect(config.leaseNamespace).toBe(NAMESPACE);
    expect(config.admin.port).toBe(9465);
  });

  it('default values: leader election, all namespaces, Envoy Gateway, no ServiceMonitor', () => {
    const { config, args } = operatorFromChart({});
    expect(args.slice(0, 3)).toEqual(['operator', '--settings', '/etc/tokenmeter/operator.yaml']);
    expect(config.leaderElect).toBe(true);
    expect(config.namespaces).toEqual([]);
    expect(config.resyncMs).toBe(300_000);
    expect(config.logLevel).toBe('info');
    expect(config.settings).toMatchObject({ flavour: 'EnvoyGateway', messageTimeout: '2s', failOpen: true, clusterDomain: 'cluster.local' });
    expect(config.settings.envoyGateway.rateLimit).toBe('Off');
    expect(config.settings.serviceMonitor).toMatchObject({ enabled: false, name: 'tokenmeter-extproc', interval: '30s' });
  });

  it('the ServiceMonitor the operator renders selects the ext_proc Service by labels it has, on its admin port', () => {
    const { objects } = renderChart({ values: [{ serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'kps' } } }] });
    const settings = parse((one(objects, 'ConfigMap', SETTINGS_CM).data as Record<string, string>)['operator.yaml'] ?? '') as { extProc: { labels: Record<string, string> }; serviceMonitor: unknown };
    expect(settings.serviceMonitor).toEqual({ enabled: true, name: 'tokenmeter-extproc', interval: '15s', labels: { release: 'kps' } });
    const svc = one(objects, 'Service', EXTPROC);
    expect(meta(svc).labels).toMatchObject(settings.extProc.labels);
    expect((svc.spec as { ports: { name: string; port: number }[] }).ports).toContainEqual(expect.objectContaining({ name: 'admin', port: 9464 }));
  });

  it('values reach the flags and the settings', () => {
    const { config } = operatorFromChart({ values: [{
      operator: { replicas: 2, watchNamespaces: ['a', 'b'], resyncSeconds: 0, logLevel: 'debug', renderedLabels: { team: 'llm' } },
      gateway: { flavour: 'Istio', failOpen: false, maxRequests: 2048, messageTimeout: '1s', istio: { namespace: 'gw', workloadSelector: { app: 'edge' }, name: 'tm' } },
    }] });
    expect(config).toMatchObject({ namespaces: ['a', 'b'], resyncMs: 0, logLevel: 'debug', leaderElect: true });
    expect(config.settings).toMatchObject({ flavour: 'Istio', failOpen: false, maxRequests: 2048, messageTimeout: '1s', istio: { namespace: 'gw', workloadSelector: { app: 'edge' }, name: 'tm' } });
    expect(config.settings.labels).toMatchObject({ team: 'llm' });
  });

  it('leaderElection.enabled=false passes --leader-elect false, and refuses several replicas', () => {
    const { config } = operatorFromChart({ values: [{ operator: { leaderElection: { enabled: false } } }] });
    expect(config.leaderElect).toBe(false);
    expect(() => renderChart({ values: [{ operator: { replicas: 2, leaderElection: { enabled: false } } }] })).toThrow(/needs operator.leaderElection.enabled/);
  });

  it('the settings ConfigMap changes roll the operator (checksum annotation)', () => {
    const sum = (v: Record<string, unknown>): string | undefined => {
      const d = one(renderChart({ values: [v] }).objects, 'Deployment', OPERATOR);
      return (d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations['checksum/settings'];
    };
    expect(sum({})).toMatch(/^[0-9a-f]{64}$/);
    expect(sum({ gateway: { failOpen: false } })).not.toBe(sum({}));
  });

  it('the flags are the documented ones', () => {
    const flags = [...flagValues(operatorFromChart({ values: [{ operator: { watchNamespaces: ['x'] } }] }).args).keys()];
    expect(flags).toEqual(['settings', 'admin-address', 'log-level', 'leader-elect', 'lease-namespace', 'resync', 'namespaces']);
  });

  it('plain Envoy: a headless Service, and the rendered STRICT_DNS cluster resolves it (every replica, not one ClusterIP)', () => {
    const { config } = operatorFromChart({ values: [{ gateway: { flavour: 'Envoy' } }] });
    const { objects } = renderChart({ values: [{ gateway: { flavour: 'Envoy' } }] });
    const headless = one(objects, 'Service', `${EXTPROC}-headless`);
    expect((headless.spec as { clusterIP?: string }).clusterIP).toBe('None');
    expect((headless.spec as { selector?: unknown }).selector).toEqual((one(objects, 'Service', EXTPROC).spec as { selector?: unknown }).selector);
    const address = extProcCluster(config.settings).load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address.address;
    expect(address).toBe(`${EXTPROC}-headless.${NAMESPACE}.svc.cluster.local`);
    expect(objectsOf(renderChart().objects, 'Service', `${EXTPROC}-headless`)).toEqual([]);
  });
});
