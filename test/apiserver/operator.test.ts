/**
 * The built operator and ext_proc against a real kube-apiserver (v1.20.2) with kube-controller-manager (garbage
 * collector, namespace controller), installed from manifests/install.yaml and run with their Deployments' own args
 * as the chart's ServiceAccount users, under the chart's RBAC. Asserted: conditions with observedGeneration, Events
 * on transitions only, field managers, `kubectl get tpol` columns, an edit reaching the ext_proc, a restart that
 * writes nothing, leader failover, a flavour switch that leaves nothing behind, garbage collection of a deleted
 * policy's children, no 403 and a tokenmeter User-Agent on every request (the audit log).
 *
 * 1.20 serves no discovery.k8s.io/v1 (GA in 1.21), so the built operator's EndpointSlice list fails and the policy
 * reads Programmed=Unknown DataPlaneUnreachable — asserted here, as the README promises. That the list, the replica
 * question and Ready=True work against a real server is shown by the same operator code run in process with the
 * probe pointed at discovery.k8s.io/v1beta1 (its fields read are the same); the v1 path itself is proved by the fake
 * API server tier (test/integration/operator-e2e.test.ts) and the kind suite (test/e2e).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOperator } from '../../src/cli/operator.js';
import { tokenmeterVersion } from '../../src/cli/version.js';
import { loadConfig } from '../../src/config/config.js';
import type { KubeClient, KubeObject } from '../../src/k8s/client.js';
import type { LeaseSpec } from '../../src/k8s/leader.js';
import { createLogger } from '../../src/log/logger.js';
import { findCondition, type Condition } from '../../src/operator/conditions.js';
import type { PolicyStatus } from '../../src/operator/reconciler.js';
import { describeApiServer, startKubeApiServer, type ApiUser, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { describeAudit } from '../helpers/kube-audit.js';
import { chartUsers, installManifest, installThirdPartyCrds, kubectlApply } from '../helpers/kube-install.js';
import { yamlObjects } from '../helpers/kube-objects.js';
import { startFromDeployment, type TokenmeterProcess } from '../helpers/tokenmeter-process.js';
import { eventually } from '../helpers/test-server.js';

const NS = 'team-a';
const SYSTEM = 'tokenmeter-system';
const TP = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' } as const;
const EEP = { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyExtensionPolicy', namespace: NS, name: 'tokenmeter-budgets' } as const;
const RG = { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', namespace: SYSTEM, name: 'tokenmeter-from-team-a' } as const;
const LIMITS = { apiVersion: 'v1', kind: 'ConfigMap', namespace: SYSTEM, name: 'tokenmeter-policies' } as const;
const ENVOY_CM = { apiVersion: 'v1', kind: 'ConfigMap', namespace: SYSTEM, name: 'tokenmeter-envoy' } as const;
const FILTER = { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', namespace: 'istio-system', name: 'tokenmeter-ext-proc' } as const;
const SM = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', namespace: SYSTEM, name: 'tokenmeter-extproc' } as const;
const LEASE = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: SYSTEM, name: 'tokenmeter-operator' } as const;
const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

function policy(limits: number): KubeObject {
  return {
    ...TP, metadata: { name: 'budgets', namespace: NS },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'llm' }],
      subject: { from: 'Header', name: 'x-tenant-id' },
      limits: Array.from({ length: limits }, (_, i) => ({ name: `l${i}`, tokens: 1000 * (i + 1), window: '1h' })),
    },
  };
}

describeApiServer('operator and ext_proc on kube-apiserver 1.20, under the chart\'s RBAC', () => {
  let api: KubeApiServer;
  let admin: KubeClient;
  let dir: string;
  let extproc: TokenmeterProcess;
  const running: TokenmeterProcess[] = [];
  const objects = yamlObjects('manifests/install.yaml');
  const users = chartUsers(objects);
  const operatorUser = users.get('tokenmeter-operator') as ApiUser;
  const extprocUser = users.get('tokenmeter') as ApiUser;
  const deployment = (name: string): KubeObject => objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as KubeObject;
  const settings = String((objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'tokenmeter-operator-settings')?.data as Record<string, string>)['operator.yaml']);
  const status = async (): Promise<PolicyStatus | undefined> => (await admin.get({ ...TP, namespace: NS, name: 'budgets' }))?.status as PolicyStatus | undefined;
  const cond = async (type: string): Promise<Condition | undefined> => findCondition((await status())?.conditions ?? [], type);
  const get = (ref: { apiVersion: string; kind: string; namespace: string; name: string }): Promise<KubeObject | undefined> => admin.get(ref);

  const startOperator = async (name: string, extra: string[] = []): Promise<TokenmeterProcess> => {
    const p = await startFromDeployment({
      name, deployment: deployment('tokenmeter-operator'), dir, files: { '/etc/tokenmeter/operator.yaml': settings },
      extra: ['--kubeconfig', api.kubeconfig(operatorUser), ...extra],
    });
    running.push(p);
    return p;
  };
  const stop = async (p: TokenmeterProcess): Promise<void> => {
    expect(await p.stop(), `${p.name} exit code\n${p.logs()}`).toBe(0);
    running.splice(running.indexOf(p), 1);
  };
  const reconciles = async (p: TokenmeterProcess): Promise<number> => {
    const text = await (await p.admin('/metrics')).text();
    return [...text.matchAll(/^tokenmeter_operator_reconciles_total\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
  };
  /** What the ext_proc reports it enforces (GET /v1/policies). */
  const loaded = async (): Promise<{ version?: string | null; policies?: string[] }> => (await extproc.admin('/v1/policies')).json() as Promise<{ version?: string }>;
  const published = async (): Promise<Record<string, string>> => ((await get(LIMITS)) as { data?: Record<string, string> } | undefined)?.data ?? {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tm-op-'));
    api = await startKubeApiServer({ users: [...users.values()] });
    admin = api.client();
    await installManifest(api);
    await installThirdPartyCrds(api);
    // After the CRDs: the garbage collector discovers resources when it starts (then only every 30 s).
    await api.startControllers(['garbagecollector', 'namespace']);
    for (const ns of [NS, 'istio-system']) await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await kubectlApply(api, [{
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'llm', namespace: NS },
      spec: { gatewayClassName: 'eg', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    }]);
    extproc = await startFromDeployment({ name: 'tokenmeter-x1', deployment: deployment('tokenmeter'), dir, extra: ['--kubeconfig', api.kubeconfig(extprocUser)] });
    running.push(extproc);
    // The ext_proc Service's ready endpoint as the EndpointSlice controller publishes it (1.20: v1beta1).
    await kubectlApply(api, [{
      apiVersion: 'discovery.k8s.io/v1beta1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { name: 'tokenmeter-x1', namespace: SYSTEM, labels: { 'kubernetes.io/service-name': 'tokenmeter' } },
      ports: [{ name: 'grpc', port: extproc.grpcPort, protocol: 'TCP' }, { name: 'admin', port: extproc.adminPort, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    }]);
  }, 180_000);

  afterAll(async () => {
    for (const p of [...running].reverse()) await p.stop();
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('accepts and publishes a policy; Programmed=Unknown DataPlaneUnreachable (1.20 has no discovery.k8s.io/v1); conditions for generation 1, Events, field managers', async () => {
    const op = await startOperator('operator-a');
    await kubectlApply(api, [policy(2)]);
    await eventually(async () => ((await cond('Programmed'))?.reason === 'DataPlaneUnreachable' ? true : undefined), 30_000);
    const s = await status() as PolicyStatus;
    expect(s.observedGeneration).toBe(1);
    expect(s.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ['Accepted', 'True', 'Accepted', 1], ['Programmed', 'Unknown', 'DataPlaneUnreachable', 1], ['Ready', 'Unknown', 'NotProgrammed', 1],
      ['Monitored', 'False', 'ServiceMonitorDisabled', 1],
    ]);
    expect((await cond('Programmed'))?.message).toContain('(the server does not serve EndpointSlice in discovery.k8s.io/v1)');
    const tp = await admin.get({ ...TP, namespace: NS, name: 'budgets' }) as KubeObject;
    const eep = await get(EEP) as KubeObject;
    expect(eep.metadata.ownerReferences).toEqual([{ apiVersion: TP.apiVersion, kind: TP.kind, name: 'budgets', uid: tp.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    // The chart's default settings render no ServiceMonitor (serviceMonitor.enabled: false).
    expect(await get(SM)).toBeUndefined();
    for (const o of [eep, await get(RG), await get(LIMITS)]) {
      expect((o?.metadata.managedFields as { manager: string; operation: string }[]).map((m) => `${m.manager} ${m.operation}`), o?.metadata.name).toEqual(['tokenmeter-operator Apply']);
    }
    const managers = (tp.metadata.managedFields as { manager: string; operation: string; fieldsV1: Record<string, unknown> }[]);
    expect(managers.filter((m) => 'f:status' in m.fieldsV1).map((m) => `${m.manager} ${m.operation}`)).toEqual(['tokenmeter-operator Apply']);
    expect(managers.filter((m) => 'f:spec' in m.fieldsV1).map((m) => m.manager)).toEqual(['kubectl']);
    // The ext_proc loaded the published limits through its own watch.
    const { version } = await published();
    await eventually(async () => ((await loaded()).version === version ? true : undefined), 10_000);
    // Events on transitions only: requeued every 2 s while the data plane is out of sight, nothing new is recorded.
    const events = async (): Promise<string[]> => (await admin.list({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: NS })).items
      .filter((e) => (e.regarding as { name?: string }).name === 'budgets').map((e) => `${String(e.type)} ${String(e.reason)} ${String(e.reportingController)}`).sort();
    const first = await events();
    expect(first).toEqual(['Normal Accepted tokenmeter.dev/operator', 'Normal DataPlaneUnreachable tokenmeter.dev/operator', 'Warning ServiceMonitorDisabled tokenmeter.dev/operator']);
    const before = await reconciles(op);
    await eventually(async () => ((await reconciles(op)) >= before + 2 ? true : undefined), 15_000);
    expect(await events()).toEqual(first);
  }, 90_000);

  it('kubectl get tpol shows how many limits and targets, not the first name', async () => {
    const table = await api.kubectl(['get', 'tpol', '-n', NS]);
    expect(table.stderr).toBe('');
    const [head, row] = table.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(head).toEqual(['NAME', 'READY', 'MODE', 'LIMITS', 'AGE']);
    expect(row?.slice(0, 4)).toEqual(['budgets', 'Unknown', 'Enforce', '2']);
    const wide = (await api.kubectl(['get', 'tpol', '-n', NS, '-o', 'wide'])).stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(wide[0]).toEqual(['NAME', 'READY', 'MODE', 'LIMITS', 'SUBJECT', 'TARGETS', 'REASON', 'AGE']);
    expect(wide[1]?.slice(0, 7)).toEqual(['budgets', 'Unknown', 'Enforce', '2', 'Header', '1', 'NotProgrammed']);
  });

  it('an edit reaches the ext_proc through the operator and the limits ConfigMap', async () => {
    const before = (await loaded()).version;
    const t0 = Date.now();
    await kubectlApply(api, [policy(3)]);
    await eventually(async () => ((await loaded()).version !== before ? true : undefined), 15_000);
    const ms = Date.now() - t0;
    expect(await loaded()).toMatchObject({ version: (await published()).version, policies: ['team-a/budgets'] });
    expect((await published())['policies.yaml']).toContain('"l2"');
    await eventually(async () => ((await status())?.observedGeneration === 2 ? true : undefined), 10_000);
    expect((await status())?.limitCount).toBe(3);
    console.info(`[apiserver] edit → ext_proc loaded the new limits in ${ms} ms`);
  }, 30_000);

  it('a restart writes nothing: same objects, same resourceVersions, no write but the Lease', async () => {
    const refs = [{ ...TP, namespace: NS, name: 'budgets' }, EEP, RG, LIMITS];
    const versions = async (): Promise<string[]> => Promise.all(refs.map(async (r) => `${r.kind} ${(await get(r))?.metadata.resourceVersion ?? 'gone'}`));
    const before = await versions();
    await stop(running.find((p) => p.name === 'operator-a') as TokenmeterProcess);
    const mark = api.audit().length;
    const op = await startOperator('operator-a2');
    await eventually(async () => ((await reconciles(op)) >= 3 ? true : undefined), 30_000);
    expect(await versions()).toEqual(before);
    const writes = api.audit().slice(mark).filter((e) => e.user.username === operatorUser.name && WRITES.has(e.verb) && e.objectRef?.resource !== 'leases');
    expect(writes.map(describeAudit)).toEqual([]);
  }, 60_000);

  it('fails over to a standby within seconds of the leader\'s SIGTERM, and the standby reconciles', async () => {
    const leader = running.find((p) => p.name === 'operator-a2') as TokenmeterProcess;
    const standby = await startOperator('operator-b');
    await eventually(async () => ((await standby.admin('/readyz')).ok ? true : undefined), 15_000);
    expect(((await get(LEASE))?.spec as LeaseSpec).holderIdentity).toMatch(/^operator-a2-/);
    const t0 = Date.now();
    await stop(leader);
    await eventually(async () => (((await get(LEASE))?.spec as LeaseSpec).holderIdentity?.startsWith('operator-b-') ? true : undefined), 20_000);
    const ms = Date.now() - t0;
    const before = (await loaded()).version;
    await kubectlApply(api, [policy(2)]);
    await eventually(async () => ((await loaded()).version !== before ? true : undefined), 15_000);
    console.info(`[apiserver] leader failover ${ms} ms after SIGTERM`);
  }, 60_000);

  it('switching the flavour (Envoy Gateway → Istio → Envoy → Envoy Gateway) leaves only the current flavour\'s objects', async () => {
    const made = async (): Promise<string[]> => {
      const kinds = [EEP, RG, FILTER, ENVOY_CM, LIMITS, SM, { ...EEP, kind: 'BackendTrafficPolicy' }];
      const out: string[] = [];
      for (const k of kinds) {
        const { items } = await admin.list(k, { labelSelector: 'app.kubernetes.io/managed-by=tokenmeter-operator' });
        out.push(...items.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`));
      }
      return [...new Set(out)].sort();
    };
    const common = ['ConfigMap tokenmeter-system/tokenmeter-policies'];
    const only: Record<string, string[]> = {
      EnvoyGateway: ['EnvoyExtensionPolicy team-a/tokenmeter-budgets', 'ReferenceGrant tokenmeter-system/tokenmeter-from-team-a'],
      Istio: ['EnvoyFilter istio-system/tokenmeter-ext-proc'],
      Envoy: ['ConfigMap tokenmeter-system/tokenmeter-envoy'],
    };
    await stop(running.find((p) => p.name === 'operator-b') as TokenmeterProcess);
    expect(await made()).toEqual([...common, ...(only.EnvoyGateway ?? [])].sort());
    for (const flavour of ['Istio', 'Envoy', 'EnvoyGateway']) {
      const op = await startOperator(`operator-${flavour.toLowerCase()}`, ['--flavour', flavour]);
      const want = [...common, ...(only[flavour] ?? [])].sort();
      await eventually(async () => (JSON.stringify(await made()) === JSON.stringify(want) ? true : undefined), 30_000)
        .catch(async () => expect(await made(), `${flavour}\n${op.logs()}`).toEqual(want));
      await stop(op);
    }
  }, 120_000);

  it('the same operator with the probe on discovery.k8s.io/v1beta1 lists the replicas as its ServiceAccount, follows Envoy Gateway\'s verdict and reports Ready', async () => {
    const parsed = loadConfig(['operator', '--kubeconfig', api.kubeconfig(operatorUser), '--lease-namespace', SYSTEM, '--admin-address', '127.0.0.1:0'], { HOSTNAME: 'operator-v1beta1' });
    if (!parsed.operator) throw new Error('no operator config');
    const op = await runOperator(parsed.operator, createLogger('silent'), { processMetrics: false, endpointSliceApiVersion: 'discovery.k8s.io/v1beta1' });
    try {
      // No Envoy Gateway here: nothing has reported on the EnvoyExtensionPolicy yet.
      await eventually(async () => ((await cond('Programmed'))?.reason === 'GatewayPending' ? true : undefined), 30_000);
      expect((await cond('Ready'))?.status).toBe('Unknown');
      // Envoy Gateway's verdict, written to the status subresource as its controller would: the operator's watch on
      // its EnvoyExtensionPolicies requeues the policy (no retry timer runs with the informer).
      const eepStatus = async (condition: Record<string, string>): Promise<void> => {
        const generation = (await get(EEP))?.metadata.generation;
        const body = JSON.stringify({ status: { ancestors: [{
          ancestorRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: NS, name: 'llm' },
          controllerName: 'gateway.envoyproxy.io/gatewayclass-controller',
          conditions: [{ ...condition, observedGeneration: generation, lastTransitionTime: '2026-01-01T00:00:00Z' }],
        }] } });
        const r = await api.request(`/apis/gateway.envoyproxy.io/v1alpha1/namespaces/${NS}/envoyextensionpolicies/${EEP.name}/status`, {
          method: 'PATCH', body, headers: { 'content-type': 'application/merge-patch+json' },
        });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      };
      await eepStatus({ type: 'Accepted', status: 'False', reason: 'Conflicted', message: 'Unable to target Gateway llm, another EnvoyExtensionPolicy has already attached to it' });
      await eventually(async () => ((await cond('Programmed'))?.reason === 'GatewayConflicted' ? true : undefined), 30_000);
      expect((await cond('Programmed'))?.message).toContain('Envoy Gateway did not accept EnvoyExtensionPolicy team-a/tokenmeter-budgets for Gateway team-a/llm: Conflicted');
      expect((await cond('Ready'))?.status).toBe('False');
      await eepStatus({ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Policy has been accepted.' });
      await eventually(async () => ((await cond('Ready'))?.status === 'True' ? true : undefined), 30_000);
      const { version } = await published();
      expect((await status())?.loadedVersion).toBe(version);
      expect((await cond('Programmed'))?.message).toContain(`Limits version ${String(version)} loaded by 1/1 ready ext_proc replicas.`);
      expect((await api.kubectl(['get', 'tpol', '-n', NS])).stdout.split('\n')[1]?.trim().split(/\s+/).slice(0, 4)).toEqual(['budgets', 'True', 'Enforce', '2']);
    } finally {
      await op.stop();
    }
  }, 90_000);

  it('deleting the policy: the garbage collector deletes its EnvoyExtensionPolicy; the operator prunes the shared ReferenceGrant', async () => {
    const op = await startOperator('operator-c');
    const mark = api.audit().length;
    const r = await api.kubectl(['delete', 'tpol', 'budgets', '-n', NS]);
    expect(r.code, r.stderr).toBe(0);
    await eventually(async () => ((await get(EEP)) === undefined && (await get(RG)) === undefined ? true : undefined), 60_000);
    const deletes = api.audit().slice(mark).filter((e) => e.verb === 'delete' && ['envoyextensionpolicies', 'referencegrants'].includes(e.objectRef?.resource ?? ''));
    expect(deletes.map((e) => `${e.objectRef?.resource ?? ''} ${e.userAgent?.split('/')[0] ?? ''}`).sort()).toEqual([
      'envoyextensionpolicies kube-controller-manager', 'referencegrants tokenmeter-operator',
    ]);
    await eventually(async () => ((await published())['policies.yaml']?.includes('budgets') === false ? true : undefined), 15_000);
    await stop(op);
  }, 90_000);

  it('no request of the operator or the ext_proc was refused (403), and each named itself in its User-Agent', () => {
    const ours = api.audit().filter((e) => e.user.username === operatorUser.name || e.user.username === extprocUser.name);
    expect(ours.length).toBeGreaterThan(50);
    expect(ours.filter((e) => e.responseStatus?.code === 403).map(describeAudit)).toEqual([]);
    const agent = (u: ApiUser): string => `tokenmeter-${u === operatorUser ? 'operator' : 'extproc'}/${tokenmeterVersion()}`;
    // The in-process operator runs the same code (its User-Agent is the same); every request names its component.
    expect(ours.filter((e) => e.userAgent !== agent(e.user.username === operatorUser.name ? operatorUser : extprocUser)).map(describeAudit)).toEqual([]);
  });
});
