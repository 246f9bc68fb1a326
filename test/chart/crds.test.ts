import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, describeChart, objectsOf, one, renderChart } from '../helpers/helm.js';
import { meta } from './pods.js';

const CRD = 'tokenpolicies.tokenmeter.dev';

describeChart('the TokenPolicy CRD in the chart', () => {
  it('is the generated CRD (crds/), with the chart labels and kept on uninstall by default', () => {
    const crd = one(renderChart().objects, 'CustomResourceDefinition', CRD);
    const generated = parse(readFileSync(join(ROOT, 'crds', 'tokenmeter.dev_tokenpolicies.yaml'), 'utf8')) as { spec: unknown; metadata: { labels: Record<string, string> } };
    expect(crd.spec).toEqual(generated.spec);
    expect(meta(crd).labels).toMatchObject(generated.metadata.labels);
    expect(meta(crd).annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
  });

  it('crds.keep=false drops the keep annotation', () => {
    const crd = one(renderChart({ values: [{ crds: { keep: false } }] }).objects, 'CustomResourceDefinition', CRD);
    expect(meta(crd).annotations).toBeUndefined();
  });

  it('crds.enabled=false drops the CRD', () => {
    expect(objectsOf(renderChart({ values: [{ crds: { enabled: false } }] }).objects, 'CustomResourceDefinition')).toEqual([]);
  });
});
