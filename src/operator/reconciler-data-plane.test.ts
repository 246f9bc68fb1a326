import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS, TP, checkCallsAllowed, setup } from '../../test/helpers/reconciler-harness.js';
import { FakeKube } from '../../test/helpers/fake-kube.js';
import { KubeApiError } from '../k8s/client.js';
import { replicaProbe } from '../k8s/replica-probe.js';
import type { DataPlaneProbe, ReplicaReport } from './data-plane.js';

afterEach(checkCallsAllowed);

/** A probe whose replicas report what the test sets; `published()` is the version in the limits ConfigMap. */
function replicas(): DataPlaneProbe & { set(r: ReplicaReport[]): void; calls: number } {
  let current: ReplicaReport[] = [];
  const probe = {
    calls: 0,
    set: (r: ReplicaReport[]) => { current = r; },
    replicas: () => { probe.calls++; return Promise.resolve(current); },
  };
  return probe;
}

describe('Reconciler: Programmed waits for the data plane', () => {
  it('is Pending (requeued in 1 s) until every ready replica loaded the published version, then Programmed and Ready', async () => {
    const probe = replicas();
    const t = setup({}, { dataPlane: probe });
    t.gateway();
    t.policy('budgets');
    probe.set([{ endpoint: '10.0.0.1:9464', version: 'old' }, { endpoint: '10.0.0.2:9464', version: null }]);
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({ requeueAfterMs: 1000 });
    const version = t.kube.peek(LIMITS)?.metadata.annotations?.['tokenmeter.dev/policies-version'] ?? '';
    expect(version).not.toBe('');
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'False', reason: 'Pending' });
    expect(t.cond('budgets', 'Programmed')?.message).toContain(`Limits version ${version} loaded by 0/2 ready ext_proc replicas so far (10.0.0.1:9464 has old, 10.0.0.2:9464 has none)`);
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'False', reason: 'NotProgrammed' });
    expect(t.status('budgets').loadedVersion).toBeUndefined();

    probe.set([{ endpoint: '10.0.0.1:9464', version }, { endpoint: '10.0.0.2:9464', version: 'old' }]);
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Programmed')?.message).toContain('loaded by 1/2');

    probe.set([{ endpoint: '10.0.0.1:9464', version }, { endpoint: '10.0.0.2:9464', version }]);
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({});
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'True', reason: 'Programmed' });
    expect(t.cond('budgets', 'Programmed')?.message).toContain(`Limits version ${version} loaded by 2/2 ready ext_proc replicas.`);
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'True' });
    expect(t.status('budgets').loadedVersion).toBe(version);
    expect(t.kube.events.map((e) => `${e.type} ${e.reason}`)).toEqual(['Normal Accepted', 'Warning Pending', 'Normal ServiceMonitorApplied', 'Normal Programmed']);
  });

  it('says NoDataPlane when no replica is ready, and Unknown/DataPlaneUnreachable when none can be asked', async () => {
    const probe = replicas();
    const t = setup({}, { dataPlane: probe });
    t.gateway();
    t.policy('budgets');
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({ requeueAfterMs: 10_000 });
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'False', reason: 'NoDataPlane' });
    expect(t.cond('budgets', 'Programmed')?.message).toContain('No ready ext_proc replica behind Service tokenmeter-system/tokenmeter');

    probe.set([{ endpoint: '10.0.0.1:9464', error: 'connect ECONNREFUSED' }]);
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({ requeueAfterMs: 2000 });
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'Unknown', reason: 'DataPlaneUnreachable' });
    expect(t.cond('budgets', 'Programmed')?.message).toContain('connect ECONNREFUSED');
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NotProgrammed' });
  });

  it('says Unknown/DataPlaneUnreachable, not ApplyFailed, when the EndpointSlices cannot be listed (403, not served)', async () => {
    const kube = new FakeKube();
    const probe = replicaProbe({ client: kube, namespace: 'tokenmeter-system', service: 'tokenmeter', adminPortName: 'admin', adminPort: 9464 });
    const t = setup({}, { dataPlane: probe, kube });
    t.gateway();
    t.policy('budgets');
    kube.failNext('list', new KubeApiError(403, 'Forbidden', 'endpointslices.discovery.k8s.io is forbidden'), 'EndpointSlice');
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({ requeueAfterMs: 2000 });
    const version = t.kube.peek(LIMITS)?.metadata.annotations?.['tokenmeter.dev/policies-version'] ?? '';
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'Unknown', reason: 'DataPlaneUnreachable' });
    expect(t.cond('budgets', 'Programmed')?.message).toBe(`EnvoyGateway configuration applied; limits version ${version} published in ConfigMap ` +
      'tokenmeter-system/tokenmeter-policies. Could not list the ext_proc replicas behind Service tokenmeter-system/tokenmeter to ask which ' +
      `limits they loaded (endpointslices.discovery.k8s.io is forbidden); limits version ${version} is published.`);
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NotProgrammed' });
    // discovery.k8s.io/v1 not served at all (Kubernetes before 1.21): the same verdict, naming it.
    kube.failNext('list', new KubeApiError(404, 'NoKindMatch', 'the server does not serve EndpointSlice in discovery.k8s.io/v1'), 'EndpointSlice');
    t.tick(1);
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Programmed')?.message).toContain('(the server does not serve EndpointSlice in discovery.k8s.io/v1)');
  });

  it('does not ask the data plane for a policy that is not accepted', async () => {
    const probe = replicas();
    const t = setup({}, { dataPlane: probe });
    t.policy('orphan'); // its Gateway does not exist
    await t.reconciler.reconcile('team-a/orphan');
    expect(probe.calls).toBe(0);
    expect(t.cond('orphan', 'Programmed')).toMatchObject({ status: 'False', reason: 'NotAccepted' });
  });
});

describe('Reconciler: serviceMonitor.enabled', () => {
  it('renders no ServiceMonitor when disabled, prunes one it made before, and says so in Monitored', async () => {
    const on = setup();
    on.gateway();
    on.policy('budgets');
    await on.reconciler.reconcile('team-a/budgets');
    const sm = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', namespace: 'tokenmeter-system', name: 'tokenmeter-extproc' };
    expect(on.kube.peek(sm)).toBeDefined();

    const off = setup({ serviceMonitor: { enabled: false } });
    for (const o of on.kube.objects.values()) off.kube.put(o);
    await off.reconciler.reconcile('team-a/budgets');
    expect(off.kube.peek(sm)).toBeUndefined();
    expect(off.cond('budgets', 'Monitored')).toMatchObject({ status: 'False', reason: 'ServiceMonitorDisabled' });
    expect(off.cond('budgets', 'Ready')).toMatchObject({ status: 'True' });
    expect(off.kube.peek({ ...TP, namespace: 'team-a', name: 'budgets' })).toBeDefined();
  });

  it('adds serviceMonitor.labels to the ServiceMonitor without overriding managed-by', async () => {
    const t = setup({ serviceMonitor: { labels: { release: 'kube-prometheus-stack', 'app.kubernetes.io/managed-by': 'someone' } } });
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    const sm = t.kube.peek({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', namespace: 'tokenmeter-system', name: 'tokenmeter-extproc' });
    expect(sm?.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack', 'app.kubernetes.io/managed-by': 'tokenmeter-operator' });
  });
});
