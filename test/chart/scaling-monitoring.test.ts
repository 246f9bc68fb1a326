import { join } from 'node:path';
import { expect, it } from 'vitest';
import { CHART_DIR, describeChart, lazyRender, objectsOf, one, renderChart } from '../helpers/helm.js';
import { EXTPROC, OPERATOR, meta, podSpec } from './pods.js';

const EXTPROC_SELECTOR = { 'app.kubernetes.io/name': 'tokenmeter', 'app.kubernetes.io/instance': 'tokenmeter', 'app.kubernetes.io/component': 'extproc' };
const OPERATOR_SELECTOR = { ...EXTPROC_SELECTOR, 'app.kubernetes.io/component': 'operator' };

describeChart('replicas, autoscaling, disruption budget, spreading, monitoring', () => {
  const ha = lazyRender({ files: [join(CHART_DIR, 'ci', 'ha-values.yaml')] });

  it('defaults: one replica each, no HPA, PDB, ServiceMonitor, dashboard or NetworkPolicy', () => {
    const { objects } = renderChart();
    expect((one(objects, 'Deployment', EXTPROC).spec as { replicas: number }).replicas).toBe(1);
    expect((one(objects, 'Deployment', OPERATOR).spec as { replicas: number }).replicas).toBe(1);
    for (const kind of ['HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor', 'NetworkPolicy']) expect(objectsOf(objects, kind), kind).toEqual([]);
    expect(objects.filter((o) => meta(o).name.endsWith('-dashboard'))).toEqual([]);
  });

  it('spreads ext_proc replicas over zones then nodes by default, or uses the given constraints', () => {
    const spread = podSpec(one(renderChart().objects, 'Deployment', EXTPROC)).topologySpreadConstraints;
    expect(spread?.map((t) => t.topologyKey)).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    for (const t of spread ?? []) expect(t.labelSelector).toEqual({ matchLabels: EXTPROC_SELECTOR });
    const own = [{ maxSkew: 2, topologyKey: 'rack', whenUnsatisfiable: 'DoNotSchedule' }];
    expect(podSpec(one(renderChart({ values: [{ extproc: { topologySpreadConstraints: own } }] }).objects, 'Deployment', EXTPROC)).topologySpreadConstraints).toEqual(own);
    expect(podSpec(one(renderChart({ values: [{ extproc: { topologySpread: { enabled: false } } }] }).objects, 'Deployment', EXTPROC)).topologySpreadConstraints).toBeUndefined();
  });

  it('HA: 2 operators, the HPA owns the ext_proc replica count, a PDB keeps 2 available', () => {
    const { objects } = ha();
    expect((one(objects, 'Deployment', OPERATOR).spec as { replicas: number }).replicas).toBe(2);
    expect(one(objects, 'Deployment', EXTPROC).spec).not.toHaveProperty('replicas');
    expect(one(objects, 'HorizontalPodAutoscaler', EXTPROC).spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: EXTPROC }, minReplicas: 3, maxReplicas: 12,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
        { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } } }],
    });
    expect(one(objects, 'PodDisruptionBudget', EXTPROC).spec).toEqual({ minAvailable: 2, selector: { matchLabels: EXTPROC_SELECTOR } });
    const pdb = one(renderChart({ values: [{ extproc: { podDisruptionBudget: { enabled: true, maxUnavailable: '25%' } } }] }).objects, 'PodDisruptionBudget');
    expect(pdb.spec).toMatchObject({ maxUnavailable: '25%' });
  });

  it('HA: a ServiceMonitor for the operator metrics, with the extra labels', () => {
    const sm = one(ha().objects, 'ServiceMonitor', OPERATOR);
    expect(meta(sm).labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(sm.spec).toEqual({
      selector: { matchLabels: OPERATOR_SELECTOR }, namespaceSelector: { matchNames: ['tokenmeter-system'] },
      endpoints: [{ port: 'admin', path: '/metrics', scheme: 'http', interval: '15s' }],
    });
    const svc = one(ha().objects, 'Service', OPERATOR);
    expect((svc.spec as { ports: unknown[] }).ports).toEqual([{ name: 'admin', port: 9465, targetPort: 'admin', protocol: 'TCP' }]);
  });

  it('HA: the Grafana dashboard ConfigMap, with the sidecar label, in the chosen namespace', () => {
    const cm = one(ha().objects, 'ConfigMap', 'tokenmeter-dashboard');
    expect(meta(cm)).toMatchObject({ namespace: 'monitoring', annotations: { grafana_folder: 'LLM' } });
    expect(meta(cm).labels).toMatchObject({ grafana_dashboard: '1' });
    const json = JSON.parse((cm.data as Record<string, string>)['tokenmeter.json'] ?? '') as { uid: string; panels: unknown[] };
    expect(json.uid).toBe('tokenmeter');
    expect(json.panels.length).toBeGreaterThan(8);
  });
});
