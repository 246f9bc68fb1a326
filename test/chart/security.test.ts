import { expect, it } from 'vitest';
import { ciScenarios, describeChart, objectsOf, renderChart } from '../helpers/helm.js';
import { meta, podSpec, type Container } from './pods.js';

const scenarios: [string, string[]][] = [['default values', []], ...ciScenarios().map(([n, f]): [string, string[]] => [n, [f]])];

describeChart('pod and container security', () => {
  it.each(scenarios)('%s: every pod runs non-root with RuntimeDefault seccomp; every container is locked down', (_name, files) => {
    for (const d of objectsOf(renderChart({ files }).objects, 'Deployment')) {
      const spec = podSpec(d);
      const id = meta(d).name;
      expect(spec.securityContext, id).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])] as Container[]) {
        expect(c.securityContext, `${id}/${c.name}`).toMatchObject({
          allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
        });
      }
    }
  });

  it('tokenmeter pods run as 65532 with an emptyDir on /tmp', () => {
    for (const d of objectsOf(renderChart().objects, 'Deployment')) {
      const spec = podSpec(d);
      expect(spec.securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532 });
      const tmp = spec.volumes?.find((v) => v.name === 'tmp');
      expect(tmp?.emptyDir).toEqual({});
      expect(spec.containers[0]?.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    }
  });

  it('no resources by default (documented suggestions only); values are passed through', () => {
    for (const d of objectsOf(renderChart({ values: [{ redis: { dev: { enabled: true } } }] }).objects, 'Deployment')) {
      for (const c of podSpec(d).containers) expect(c.resources, `${meta(d).name}/${c.name}`).toEqual({});
    }
    const res = { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } };
    const d = objectsOf(renderChart({ values: [{ extproc: { resources: res } }] }).objects, 'Deployment', 'tokenmeter')[0];
    expect(d && podSpec(d).containers[0]?.resources).toEqual(res);
  });

  it('the dev Redis is non-root too, with a read-only root and an emptyDir for /data', () => {
    const d = objectsOf(renderChart({ values: [{ redis: { dev: { enabled: true } } }] }).objects, 'Deployment', 'tokenmeter-redis')[0];
    expect(d).toBeDefined();
    const spec = podSpec(d ?? { apiVersion: '', kind: '' });
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999 });
    expect(spec.volumes).toEqual([{ name: 'data', emptyDir: {} }]);
    expect(spec.containers[0]?.volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }]);
  });

  it('pod scheduling values reach both Deployments', () => {
    const sched = { nodeSelector: { pool: 'llm' }, tolerations: [{ key: 'llm', operator: 'Exists' }], affinity: { nodeAffinity: {} }, priorityClassName: 'high', podAnnotations: { a: 'b' }, podLabels: { team: 'x' } };
    const { objects } = renderChart({ values: [{ operator: sched, extproc: sched, imagePullSecrets: [{ name: 'regcred' }] }] });
    for (const name of ['tokenmeter', 'tokenmeter-operator']) {
      const d = objectsOf(objects, 'Deployment', name)[0];
      const tpl = (d?.spec as { template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: Record<string, unknown> } }).template;
      expect(tpl.spec).toMatchObject({ nodeSelector: sched.nodeSelector, tolerations: sched.tolerations, affinity: sched.affinity, priorityClassName: 'high', imagePullSecrets: [{ name: 'regcred' }] });
      expect(tpl.metadata.labels.team).toBe('x');
      expect(tpl.metadata.annotations.a).toBe('b');
    }
  });
});
