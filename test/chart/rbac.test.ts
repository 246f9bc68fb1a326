import { expect, it } from 'vitest';
import { EXTPROC_RULES, OPERATOR_RULES } from '../../src/operator/rbac.js';
import { ciScenarios, describeChart, lazyRender, objectsOf, one, renderChart } from '../helpers/helm.js';
import { EXTPROC, NAMESPACE, OPERATOR, meta, podSpec } from './pods.js';

interface Binding {
  roleRef: { kind: string; name: string };
  subjects: { kind: string; name: string; namespace: string }[];
}

describeChart('RBAC comes from src/operator/rbac.ts', () => {
  const rendered = lazyRender();

  it('the operator has exactly one ClusterRole, whose rules are OPERATOR_RULES', () => {
    const { objects } = rendered();
    expect(objectsOf(objects, 'ClusterRole')).toHaveLength(1);
    expect(one(objects, 'ClusterRole', OPERATOR).rules).toEqual(OPERATOR_RULES);
  });

  it('the ext_proc has a Role in the release namespace whose rules are EXTPROC_RULES, and nothing cluster-wide', () => {
    const { objects } = rendered();
    expect(objectsOf(objects, 'Role')).toHaveLength(1);
    const role = one(objects, 'Role', EXTPROC);
    expect(meta(role).namespace).toBe(NAMESPACE);
    expect(role.rules).toEqual(EXTPROC_RULES);
  });

  it('each binding grants its role to the ServiceAccount its Deployment runs as', () => {
    const { objects } = rendered();
    const crb = one(objects, 'ClusterRoleBinding', OPERATOR) as unknown as Binding;
    expect(crb.roleRef).toMatchObject({ kind: 'ClusterRole', name: OPERATOR });
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: podSpec(one(objects, 'Deployment', OPERATOR)).serviceAccountName, namespace: NAMESPACE }]);
    const rb = one(objects, 'RoleBinding', EXTPROC) as unknown as Binding;
    expect(rb.roleRef).toMatchObject({ kind: 'Role', name: EXTPROC });
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: podSpec(one(objects, 'Deployment', EXTPROC)).serviceAccountName, namespace: NAMESPACE }]);
    expect(objectsOf(objects, 'ServiceAccount').map((o) => meta(o).name).sort()).toEqual([EXTPROC, OPERATOR]);
  });

  it('an existing ServiceAccount can be used instead', () => {
    const r = renderChart({ values: [{ operator: { serviceAccount: { create: false, name: 'mine' } } }] }).objects;
    expect(podSpec(one(r, 'Deployment', OPERATOR)).serviceAccountName).toBe('mine');
    expect(objectsOf(r, 'ServiceAccount').map((o) => meta(o).name)).toEqual([EXTPROC]);
    expect(() => renderChart({ values: [{ operator: { serviceAccount: { create: false } } }] })).toThrow(/operator.serviceAccount.name is required/);
  });

  it.each(ciScenarios())('%s: the same rules', (_name, file) => {
    const r = renderChart({ files: [file] }).objects;
    expect(one(r, 'ClusterRole', OPERATOR).rules).toEqual(OPERATOR_RULES);
    expect(one(r, 'Role', EXTPROC).rules).toEqual(EXTPROC_RULES);
  });
});
