import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { EXTPROC_RULES, OPERATOR_RULES } from '../../src/operator/rbac.js';
import { ROOT, one } from '../helpers/helm.js';
import { schemaErrors, type KubeObject } from '../helpers/schemas.js';
import { meta } from './pods.js';

const FILE = join(ROOT, 'manifests', 'install.yaml');

/**
 * Every object, the Namespace included, is validated against its upstream schema in test/schemas (`schemaErrors`):
 * the standalone-strict Kubernetes v1.32.0 JSON schemas (namespace-v1.json for the Namespace, added with the others;
 * customresourcedefinition-apiextensions-v1.json for the TokenPolicy CRD). No kind here is checked only structurally.
 */
describe('manifests/install.yaml (npm run gen: the chart with default values)', () => {
  const objects = (): KubeObject[] => {
    expect(existsSync(FILE), 'manifests/install.yaml is missing: run `npm run gen` (needs helm or helm-render)').toBe(true);
    return parseAllDocuments(readFileSync(FILE, 'utf8')).map((d) => d.toJS() as KubeObject).filter(Boolean);
  };

  it('starts with the tokenmeter-system Namespace, and puts everything else in it', () => {
    const all = objects();
    expect(all[0]).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tokenmeter-system' } });
    for (const o of all.slice(1)) {
      const cluster = ['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition'].includes(o.kind);
      expect(meta(o).namespace, `${o.kind}/${meta(o).name}`).toBe(cluster ? undefined : 'tokenmeter-system');
    }
  });

  it('every object matches its upstream schema', () => {
    const problems = objects().flatMap((o) => {
      let errors: string[];
      try {
        errors = schemaErrors(o);
      } catch (err) {
        errors = [(err as Error).message];
      }
      return errors.map((e) => `${o.kind}/${meta(o).name}: ${e}`);
    });
    expect(problems).toEqual([]);
  });

  it('holds the CRD, both Deployments and the generated RBAC', () => {
    const all = objects();
    expect(all.map((o) => `${o.kind}/${meta(o).name}`)).toEqual(expect.arrayContaining([
      'CustomResourceDefinition/tokenpolicies.tokenmeter.dev', 'Deployment/tokenmeter', 'Deployment/tokenmeter-operator',
      'Service/tokenmeter', 'ConfigMap/tokenmeter-operator-settings',
    ]));
    expect(one(all, 'ClusterRole').rules).toEqual(OPERATOR_RULES);
    expect(one(all, 'Role').rules).toEqual(EXTPROC_RULES);
  });
});
