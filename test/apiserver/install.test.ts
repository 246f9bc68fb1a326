/**
 * Every object tokenmeter ships or renders, applied server-side to a real kube-apiserver (v1.20.2) and read back:
 * - manifests/install.yaml, as the README says (`kubectl apply --server-side`), with exactly the documented 1.20
 *   changes (CRD CEL rules; the ext_proc Deployment's gRPC probes, preStop sleep and matchLabelKeys), and nothing
 *   else dropped by the server;
 * - every object the operator renders under each flavour (Envoy Gateway with BackendTrafficPolicy, Istio, plain
 *   Envoy), applied as the operator's ServiceAccount under the chart's RBAC, against the upstream CRDs of test/schemas;
 * - the chart rendered with each charts/tokenmeter/ci scenario, by server-side dry run (only the kinds 1.20 does not
 *   serve are left out, and listed).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/k8s/client.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { renderAll } from '../../src/render/index.js';
import { resolveSettings } from '../../src/render/settings.js';
import { NO_RENDERER, ciScenarios, renderChart } from '../helpers/helm.js';
import { describeApiServer, startKubeApiServer, type ApiUser, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { chartUsers, installManifest, installThirdPartyCrds, kubectlApply, type Installed } from '../helpers/kube-install.js';
import { for120, idOf, notKept, yamlObjects } from '../helpers/kube-objects.js';
import { describeAudit } from '../helpers/kube-audit.js';

const SSA = { fieldManager: 'tokenmeter-operator', force: true };

/** What 1.20 cannot take from install.yaml, removed by for120 (kube-objects.ts documents why). */
const REMOVED_FOR_120 = [
  'CustomResourceDefinition /tokenpolicies.tokenmeter.dev: x-kubernetes-validations (every occurrence)',
  'Deployment tokenmeter-system/tokenmeter: spec.template.spec.containers[0].startupProbe (grpc)',
  'Deployment tokenmeter-system/tokenmeter: spec.template.spec.containers[0].readinessProbe (grpc)',
  'Deployment tokenmeter-system/tokenmeter: spec.template.spec.containers[0].lifecycle.preStop.sleep',
  'Deployment tokenmeter-system/tokenmeter: spec.template.spec.topologySpreadConstraints[0].matchLabelKeys',
  'Deployment tokenmeter-system/tokenmeter: spec.template.spec.topologySpreadConstraints[1].matchLabelKeys',
];

/** Kinds a chart scenario may render that 1.20 does not serve at that version (HPA v2 is 1.23, PDB v1 is 1.21). */
const NOT_SERVED_BY_120 = new Set(['autoscaling/v2 HorizontalPodAutoscaler', 'policy/v1 PodDisruptionBudget']);

async function storedCopy(client: KubeClient, o: KubeObject): Promise<KubeObject | undefined> {
  return client.get({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) });
}

if (NO_RENDERER) console.warn(`[real-apiserver tier] skipping the chart scenarios' dry runs: ${NO_RENDERER}`);

describeApiServer('install.yaml, rendered objects and chart scenarios on kube-apiserver 1.20', () => {
  let api: KubeApiServer;
  let admin: KubeClient;
  let installed: Installed;
  const users = chartUsers();
  const operatorUser = users.get('tokenmeter-operator') as ApiUser;
  const extprocUser = users.get('tokenmeter') as ApiUser;

  beforeAll(async () => {
    api = await startKubeApiServer({ users: [...users.values()] });
    admin = api.client();
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
  }, 60_000);

  it('install.yaml applies with kubectl apply --server-side, changed only where 1.20 lags, and the server keeps every field', async () => {
    installed = await installManifest(api);
    expect(installed.removed).toEqual(REMOVED_FOR_120);
    expect(installed.objects.map(idOf)).toContain('Deployment tokenmeter-system/tokenmeter-operator');
    const dropped: string[] = [];
    for (const o of installed.objects) {
      const stored = await storedCopy(admin, o);
      expect(stored, idOf(o)).toBeDefined();
      // The CRD's status and the Deployments' defaults are the server's additions; what was sent must all be there.
      dropped.push(...notKept(o, stored).map((p) => `${idOf(o)}: ${p}`));
    }
    expect(dropped).toEqual([]);
  }, 90_000);

  it('every object the operator renders, under every flavour, applies as the operator\'s ServiceAccount and is kept as rendered', async () => {
    await installThirdPartyCrds(api);
    for (const ns of ['team-a', 'llm-gateway', 'istio-system']) await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    // Policies to render from: the examples (their namespaces), stored so owner references name real uids.
    const policies = yamlObjects('manifests/examples/tokenpolicy-tenant-budget.yaml').concat(yamlObjects('test/fixtures/tokenpolicies/good/team-budgets.yaml'))
      .filter((o) => o.kind === 'TokenPolicy');
    await kubectlApply(api, policies);
    const accepted = [];
    for (const p of policies) {
      const stored = await storedCopy(admin, p) as KubeObject;
      const parsed = parsePolicies(JSON.stringify(stored));
      expect(parsed.errors).toEqual([]);
      const { name, namespace, uid, generation } = stored.metadata;
      accepted.push({ identity: { name, namespace: namespace as string, uid: uid as string, generation: generation ?? 1 }, policy: parsed.policies[0] as never });
    }
    const operator = api.client(operatorUser);
    const applied: string[] = [];
    const dropped: string[] = [];
    for (const flavour of ['EnvoyGateway', 'Istio', 'Envoy'] as const) {
      const settings = resolveSettings({ flavour, envoyGateway: { rateLimit: 'BackendTrafficPolicy' } });
      for (const o of renderAll(accepted, settings, { serviceMonitor: true }).objects) {
        await operator.apply(o as KubeObject, SSA);
        applied.push(`${flavour}: ${o.kind}`);
        dropped.push(...notKept(o, await storedCopy(admin, o as KubeObject)).map((p) => `${flavour} ${idOf(o as KubeObject)}: ${p}`));
      }
    }
    expect(dropped).toEqual([]);
    expect([...new Set(applied)].sort()).toEqual([
      'Envoy: ConfigMap', 'Envoy: ServiceMonitor', 'EnvoyGateway: BackendTrafficPolicy', 'EnvoyGateway: ConfigMap',
      'EnvoyGateway: EnvoyExtensionPolicy', 'EnvoyGateway: ReferenceGrant', 'EnvoyGateway: ServiceMonitor',
      'Istio: ConfigMap', 'Istio: EnvoyFilter', 'Istio: ServiceMonitor',
    ]);
    // The ext_proc's Role reads ConfigMaps in its own namespace only.
    const extproc = api.client(extprocUser);
    expect((await extproc.list({ apiVersion: 'v1', kind: 'ConfigMap' }, { namespace: 'tokenmeter-system' })).items.length).toBeGreaterThan(0);
    await expect(extproc.list({ apiVersion: 'v1', kind: 'ConfigMap' }, { namespace: 'team-a' })).rejects.toMatchObject({ status: 403 });
    const refused = api.audit().filter((e) => e.user.username === operatorUser.name && e.responseStatus?.code === 403);
    expect(refused.map(describeAudit)).toEqual([]);
  }, 120_000);

  it.skipIf(NO_RENDERER !== undefined).each(ciScenarios())('the chart with %s passes a server-side dry run (1.20 changes as for install.yaml)', async (_name, file) => {
    const rendered = renderChart({ files: [file] }).objects as KubeObject[];
    const skipped = rendered.filter((o) => NOT_SERVED_BY_120.has(`${o.apiVersion} ${o.kind}`)).map((o) => `${o.apiVersion} ${o.kind}`);
    const objects = rendered.filter((o) => !NOT_SERVED_BY_120.has(`${o.apiVersion} ${o.kind}`)).map((o) => for120(o).object);
    // The namespaces a scenario points at (a Prometheus' "monitoring") exist in a real cluster.
    for (const ns of new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => n !== undefined))) {
      if (!(await admin.get({ apiVersion: 'v1', kind: 'Namespace', name: ns }))) await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    }
    const out = JSON.parse(await kubectlApply(api, objects, { args: ['--dry-run=server', '-o', 'json'] })) as KubeObject & { items?: KubeObject[] };
    const results = out.items ?? [out];
    expect(results.map(idOf)).toEqual(objects.map(idOf));
    // What the server would store keeps every field sent (1.20 prunes unknown fields silently).
    expect(objects.flatMap((o, i) => notKept(o, results[i]).map((p) => `${idOf(o)}: ${p}`))).toEqual([]);
    // What was left out, 1.20 really does not serve (the fast tier validates those against the 1.32 schemas).
    for (const k of new Set(skipped)) {
      const [apiVersion, kind] = k.split(' ');
      expect(await admin.resourceExists(apiVersion ?? '', kind ?? ''), k).toBe(false);
    }
  }, 60_000);
});
