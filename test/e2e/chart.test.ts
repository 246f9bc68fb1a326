/**
 * The chart as the kind suite installs it (the --set flags of install.ts), rendered here with helm or helm-render:
 * the values pass values.schema.json, and the objects are what the suite relies on — the local image never pulled,
 * one ext_proc running `extproc` with its admin port where the suite scrapes /metrics, the operator programming
 * Envoy Gateway and rendering the ext_proc ServiceMonitor the suite waits for; the CRD comes from crds/, server-side.
 */
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { describeChart, lazyRender } from '../helpers/helm.js';
import { EXTPROC_ADMIN_PORT, EXTPROC_SERVICEMONITOR, NAMES, NS, e2eSettings } from './config.js';
import { chartSetFlags, chartValues, setFlagsToValues } from './install.js';

interface Container { name: string; image: string; imagePullPolicy: string; args?: string[]; ports?: { name: string; containerPort: number }[] }
interface Deployment { metadata: { name: string }; spec: { replicas: number; template: { spec: { containers: Container[] } } } }

describeChart('the chart with the kind suite\'s values', () => {
  const render = lazyRender({ values: [setFlagsToValues(chartSetFlags(chartValues(), e2eSettings({})))], name: NAMES.helmRelease, namespace: NS.tokenmeter });
  const deployments = (): Deployment[] => render().objects.filter((o) => o.kind === 'Deployment') as unknown as Deployment[];
  const extproc = (): Deployment => {
    const d = deployments().find((x) => x.spec.template.spec.containers.some((c) => c.args?.[0] === 'extproc'));
    if (!d) throw new Error('no Deployment running `extproc`');
    return d;
  };

  it('runs tokenmeter:e2e from the local image store (pullPolicy Never) in every tokenmeter container', () => {
    const containers = deployments().flatMap((d) => d.spec.template.spec.containers);
    expect(containers.length).toBeGreaterThanOrEqual(2);
    for (const c of containers) expect(c, c.name).toMatchObject({ image: 'tokenmeter:e2e', imagePullPolicy: 'Never' });
  });

  it('has one ext_proc replica exposing the admin port the suite reads /metrics from', () => {
    const d = extproc();
    expect(d.spec.replicas).toBe(1);
    const ports = d.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
    expect(ports).toContainEqual(expect.objectContaining({ containerPort: EXTPROC_ADMIN_PORT }));
  });

  it('tells the operator to program Envoy Gateway (2 s message timeout) and to render the ext_proc ServiceMonitor', () => {
    const cms = render().objects.filter((o) => o.kind === 'ConfigMap');
    const settingsCm = cms.find((o) => typeof (o.data as Record<string, unknown> | undefined)?.['operator.yaml'] === 'string');
    if (!settingsCm) throw new Error('no operator settings ConfigMap');
    const settings: unknown = parse((settingsCm.data as Record<string, string>)['operator.yaml'] ?? '');
    expect(settings).toMatchObject({
      flavour: 'EnvoyGateway', messageTimeout: '2s',
      extProc: { name: NAMES.helmRelease, namespace: NS.tokenmeter, adminPort: EXTPROC_ADMIN_PORT },
      serviceMonitor: { enabled: true, name: EXTPROC_SERVICEMONITOR },
    });
  });

  it('leaves the TokenPolicy CRD to `kubectl apply --server-side -f crds/` (installCrd), and renders the operator\'s own ServiceMonitor', () => {
    expect(render().objects.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
    expect(render().objects.filter((o) => o.kind === 'ServiceMonitor')).toHaveLength(1);
  });
});
