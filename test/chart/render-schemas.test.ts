import { expect, it } from 'vitest';
import { ciScenarios, describeChart, renderChart } from '../helpers/helm.js';
import { schemaErrors } from '../helpers/schemas.js';
import { meta } from './pods.js';

const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'Namespace']);
const scenarios: [string, string[]][] = [['default values', []], ...ciScenarios().map(([name, f]): [string, string[]] => [name, [f]])];

describeChart('the chart renders valid Kubernetes objects', () => {
  it('has CI scenarios for every flavour, Redis, HA and the dev Redis', () => {
    expect(ciScenarios().map(([name]) => name)).toEqual(expect.arrayContaining([
      'envoy-gateway-values.yaml', 'istio-values.yaml', 'envoy-values.yaml', 'redis-values.yaml', 'ha-values.yaml', 'dev-redis-values.yaml',
    ]));
  });

  it.each(scenarios)('%s: every object matches its upstream schema (no kind left unvalidated)', (_name, files) => {
    const { docs } = renderChart({ files });
    expect(docs.length).toBeGreaterThan(8);
    const problems = docs.flatMap(({ source, object }) => {
      let errors: string[];
      try {
        errors = schemaErrors(object);
      } catch (err) {
        errors = [(err as Error).message];
      }
      return errors.map((e) => `${source} ${object.kind}/${meta(object).name}: ${e}`);
    });
    expect(problems).toEqual([]);
  });

  it.each(scenarios)('%s: standard labels everywhere, namespaced objects in the release namespace, unique names', (_name, files) => {
    const { objects } = renderChart({ files, name: 'edge', namespace: 'llm' });
    const seen = new Set<string>();
    for (const o of objects) {
      const m = meta(o);
      const id = `${o.kind}/${m.namespace ?? ''}/${m.name}`;
      expect(seen.has(id), `${id} rendered twice`).toBe(false);
      seen.add(id);
      expect(m.labels, id).toMatchObject({
        'app.kubernetes.io/name': 'tokenmeter', 'app.kubernetes.io/instance': 'edge', 'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/part-of': 'tokenmeter', 'helm.sh/chart': 'tokenmeter-0.1.0',
      });
      if (CLUSTER_SCOPED.has(o.kind)) expect(m.namespace, id).toBeUndefined();
      else if (!(o.kind === 'ConfigMap' && m.name.endsWith('-dashboard'))) expect(m.namespace, id).toBe('llm');
    }
  });

  it('nameOverride and fullnameOverride rename every object', () => {
    const byFull = renderChart({ values: [{ fullnameOverride: 'meter' }] }).objects.map((o) => meta(o).name);
    expect(byFull).toEqual(expect.arrayContaining(['meter', 'meter-operator', 'meter-operator-settings']));
    const byName = renderChart({ name: 'prod', values: [{ nameOverride: 'tm' }] }).objects;
    expect(byName.map((o) => meta(o).name)).toEqual(expect.arrayContaining(['prod-tm', 'prod-tm-operator']));
    for (const o of byName) expect(meta(o).labels?.['app.kubernetes.io/name']).toBe('tm');
  });
});
