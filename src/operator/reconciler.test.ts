import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { crdValidator, schemaErrors } from '../../test/helpers/schemas.js';
import { CRD_FILE } from '../crd/index.js';
import { KubeApiError, type KubeObject } from '../k8s/client.js';
import { GOOD_SPEC, LIMITS, TP, checkCallsAllowed, eep, setup } from '../../test/helpers/reconciler-harness.js';

afterEach(checkCallsAllowed);

describe('Reconciler', () => {
  it('applies the children of a good policy with the field manager and owner references, and reports Ready', async () => {
    const t = setup();
    t.gateway();
    const p = t.policy('budgets');
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({});
    const applies = t.kube.calls.filter((c) => c.verb === 'apply');
    expect(applies.map((c) => `${c.kind} ${c.namespace ?? ''}/${c.name ?? ''}`)).toEqual([
      'EnvoyExtensionPolicy team-a/tokenmeter-budgets', 'ReferenceGrant tokenmeter-system/tokenmeter-from-team-a',
      'ConfigMap tokenmeter-system/tokenmeter-policies', 'ServiceMonitor tokenmeter-system/tokenmeter-extproc',
    ]);
    for (const c of t.kube.calls.filter((x) => x.verb === 'apply' || x.verb === 'applyStatus')) {
      expect(c.options).toEqual({ fieldManager: 'tokenmeter-operator', force: true });
    }
    const child = t.kube.peek(eep('team-a', 'budgets'));
    expect(child?.metadata.ownerReferences).toEqual([{ apiVersion: TP.apiVersion, kind: TP.kind, name: 'budgets', uid: p.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    for (const ref of [eep('team-a', 'budgets'), LIMITS]) {
      const { metadata: { uid: _u, resourceVersion: _r, generation: _g, creationTimestamp: _c, ...metadata }, ...rest } = t.kube.peek(ref) as KubeObject;
      expect(schemaErrors({ ...rest, metadata })).toEqual([]);
    }
    const s = t.status('budgets');
    expect(s.observedGeneration).toBe(1);
    expect(s.loadedVersion).toBe(t.kube.peek(LIMITS)?.metadata.annotations?.['tokenmeter.dev/policies-version']);
    expect(s.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ['Accepted', 'True', 'Accepted', 1], ['Programmed', 'True', 'Programmed', 1], ['Ready', 'True', 'Ready', 1],
      ['Monitored', 'True', 'ServiceMonitorApplied', 1],
    ]);
    expect(t.cond('budgets', 'Programmed')?.message).toContain(`limits version ${s.loadedVersion ?? ''} published`);
    expect(t.limits()).toEqual(['team-a/budgets']);
    // The counts behind `kubectl get tpol` LIMITS and TARGETS; the whole status is what the CRD's status schema allows.
    expect([s.limitCount, s.targetCount]).toEqual([1, 1]);
    const policy = { ...(t.kube.peek({ ...TP, name: 'budgets', namespace: 'team-a' }) as KubeObject) };
    delete (policy.metadata as Partial<KubeObject['metadata']>).uid;
    const validate = crdValidator(fileURLToPath(new URL(`../../${CRD_FILE}`, import.meta.url)));
    expect(validate(policy), JSON.stringify(validate.errors)).toBe(true);
  });

  it('counts the limits and targets of any spec (kubectl get tpol columns), invalid ones too, and rewrites them on change', async () => {
    const t = setup();
    t.gateway();
    const spec = { ...GOOD_SPEC, limits: [...GOOD_SPEC.limits, { name: 'daily', tokens: 5, window: 'Day' }, { name: 'daily', tokens: 6, window: 'Day' }] };
    t.policy('three', 'team-a', spec);
    await t.reconciler.reconcile('team-a/three');
    expect(t.cond('three', 'Accepted')?.reason).toBe('Invalid'); // duplicate limit name
    expect([t.status('three').limitCount, t.status('three').targetCount]).toEqual([3, 1]);
    t.policy('three', 'team-a', { ...GOOD_SPEC, targetRefs: [] });
    await t.reconciler.reconcile('team-a/three');
    expect([t.status('three').limitCount, t.status('three').targetCount]).toEqual([1, 0]);
  });

  it('writes nothing on a second reconcile of the same state', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    t.kube.calls.length = 0;
    t.tick(60);
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.kube.writes()).toEqual([]);
  });

  it('reports an invalid spec as Accepted=False Invalid with the field message, without error or requeue', async () => {
    const t = setup();
    t.gateway();
    t.policy('bad', 'team-a', { ...GOOD_SPEC, limits: [{ name: 'x', tokens: 10, costUSD: 1, window: '1m' }] });
    expect(await t.reconciler.reconcile('team-a/bad')).toEqual({});
    expect(t.cond('bad', 'Accepted')).toMatchObject({ status: 'False', reason: 'Invalid', message: 'spec.limits[0]: set exactly one of tokens and costUSD, got both' });
    expect(t.cond('bad', 'Programmed')).toMatchObject({ status: 'False', reason: 'NotAccepted' });
    expect(t.cond('bad', 'Ready')).toMatchObject({ status: 'False', reason: 'NotAccepted' });
    expect(t.kube.peek(eep('team-a', 'bad'))).toBeUndefined();
    expect(t.limits()).toEqual([]);
    expect(t.kube.events.map((e) => [e.type, e.reason, e.note])).toEqual([
      ['Warning', 'Invalid', 'Accepted: spec.limits[0]: set exactly one of tokens and costUSD, got both'],
      ['Normal', 'ServiceMonitorApplied', expect.stringContaining('Monitored: ') as unknown],
    ]);
  });

  it('reports a missing target, requeues, and becomes Ready once the target exists', async () => {
    const t = setup();
    t.policy('budgets');
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({ requeueAfterMs: 30_000 });
    expect(t.cond('budgets', 'Accepted')).toMatchObject({ status: 'False', reason: 'TargetNotFound', message: 'Gateway llm not found in namespace team-a' });
    expect(t.kube.peek(eep('team-a', 'budgets'))).toBeUndefined();
    expect(t.limits()).toEqual([]);
    t.gateway();
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({});
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'True' });
    expect(t.kube.peek(eep('team-a', 'budgets'))).toBeDefined();
  });

  it('says Prometheus Operator is missing in a condition, stays Ready and does not loop', async () => {
    const t = setup({}, { serviceMonitor: false });
    t.gateway();
    t.policy('budgets');
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({});
    expect(t.cond('budgets', 'Monitored')).toMatchObject({ status: 'False', reason: 'ServiceMonitorCRDMissing' });
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'True' });
    expect(t.kube.calls.some((c) => c.kind === 'ServiceMonitor')).toBe(false);
    t.kube.calls.length = 0;
    expect(await t.reconciler.reconcile('team-a/budgets')).toEqual({});
    expect(t.kube.writes()).toEqual([]);
  });

  it('reports an apply failure as Programmed=False ApplyFailed and throws for backoff, then recovers', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    t.kube.failNext('apply', new KubeApiError(409, 'Conflict', 'Operation cannot be fulfilled'), 'EnvoyExtensionPolicy');
    await expect(t.reconciler.reconcile('team-a/budgets')).rejects.toThrow(/EnvoyExtensionPolicy team-a\/tokenmeter-budgets: Operation cannot be fulfilled/);
    expect(t.cond('budgets', 'Programmed')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'False', reason: 'NotProgrammed' });
    expect(t.status('budgets').loadedVersion).toBeUndefined();
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Ready')).toMatchObject({ status: 'True' });
  });

  it('restores the limits ConfigMap when it is edited behind its back', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    const original = t.limitsYaml();
    t.kube.edit(LIMITS, (o) => { (o.data as Record<string, string>)['policies.yaml'] = 'tampered'; });
    t.kube.calls.length = 0;
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.kube.writes().map((c) => `${c.verb} ${c.kind}`)).toEqual(['apply ConfigMap']);
    expect(t.limitsYaml()).toBe(original);
  });

  it('drops a deleted policy from the limits and prunes its namespace ReferenceGrant', async () => {
    const t = setup();
    t.gateway();
    t.gateway('team-b');
    t.policy('a');
    t.policy('b', 'team-b');
    await t.reconciler.reconcile('team-a/a');
    await t.reconciler.reconcile('team-b/b');
    expect(t.limits()).toEqual(['team-a/a', 'team-b/b']);
    t.kube.remove({ ...TP, namespace: 'team-b', name: 'b' });
    expect(t.kube.peek(eep('team-b', 'b'))).toBeUndefined(); // garbage-collected via the owner reference
    expect(await t.reconciler.reconcile('team-b/b')).toEqual({});
    expect(t.limits()).toEqual(['team-a/a']);
    const grant = { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', namespace: 'tokenmeter-system' };
    expect(t.kube.peek({ ...grant, name: 'tokenmeter-from-team-b' })).toBeUndefined();
    expect(t.kube.peek({ ...grant, name: 'tokenmeter-from-team-a' })).toBeDefined();
  });

  it('treats a policy with a deletion timestamp (someone else\'s finalizer) as gone, without touching its status', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    t.kube.edit({ ...TP, namespace: 'team-a', name: 'budgets' }, (o) => { o.metadata.finalizers = ['example.com/hold']; });
    t.kube.remove({ ...TP, namespace: 'team-a', name: 'budgets' });
    t.kube.calls.length = 0;
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.limits()).toEqual([]);
    expect(t.kube.calls.filter((c) => c.verb === 'applyStatus')).toEqual([]);
  });

  it('removes a policy that turns invalid from the limits and prunes its EnvoyExtensionPolicy', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    t.kube.edit({ ...TP, namespace: 'team-a', name: 'budgets' }, (o) => { o.spec = { ...GOOD_SPEC, limits: [] }; });
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Accepted')).toMatchObject({ status: 'False', reason: 'Invalid', observedGeneration: 2 });
    expect(t.kube.peek(eep('team-a', 'budgets'))).toBeUndefined();
    expect(t.limits()).toEqual([]);
  });

  it('keeps lastTransitionTime when a status is unchanged and moves it when it changes', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    const first = t.cond('budgets', 'Accepted')?.lastTransitionTime;
    t.tick(30);
    t.kube.edit({ ...TP, namespace: 'team-a', name: 'budgets' }, (o) => { o.spec = { ...GOOD_SPEC, limits: [{ name: 'per-hour', tokens: 5, window: '1h' }] }; });
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Accepted')).toMatchObject({ status: 'True', observedGeneration: 2, lastTransitionTime: first });
    t.tick(30);
    t.kube.edit({ ...TP, namespace: 'team-a', name: 'budgets' }, (o) => { o.spec = { ...GOOD_SPEC, targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'none' }] }; });
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.cond('budgets', 'Accepted')).toMatchObject({ status: 'False', lastTransitionTime: '2025-01-01T00:01:00.000Z' });
  });

  it('records Events on transitions only', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.kube.events.map((e) => `${e.type} ${e.reason}`)).toEqual(['Normal Accepted', 'Normal Programmed', 'Normal ServiceMonitorApplied']);
    expect(t.kube.events[0]).toMatchObject({ regarding: { kind: 'TokenPolicy', name: 'budgets', namespace: 'team-a' }, reportingController: 'tokenmeter.dev/operator' });
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.kube.events).toHaveLength(3);
    t.kube.remove({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', namespace: 'team-a', name: 'llm' });
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.kube.events.slice(3).map((e) => `${e.type} ${e.reason}`)).toEqual(['Warning TargetNotFound']);
  });

  it('Istio: applies the EnvoyFilter and prunes it when the last policy is gone', async () => {
    const t = setup({ flavour: 'Istio' });
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    const filter = { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', namespace: 'istio-system', name: 'tokenmeter-ext-proc' };
    const applied = t.kube.peek(filter) as KubeObject;
    const { metadata: { uid: _u, resourceVersion: _r, generation: _g, creationTimestamp: _c, ...metadata }, ...rest } = applied;
    expect(schemaErrors({ ...rest, metadata })).toEqual([]);
    t.kube.remove({ ...TP, namespace: 'team-a', name: 'budgets' });
    await t.reconciler.reconcile('team-a/budgets');
    expect(t.kube.peek(filter)).toBeUndefined();
    expect(t.limits()).toEqual([]);
  });
});
