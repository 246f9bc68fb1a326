import { afterEach, describe, expect, it } from 'vitest';
import { checkCallsAllowed, eep, setup } from '../../test/helpers/reconciler-harness.js';

afterEach(checkCallsAllowed);

describe('Reconciler: own children memo', () => {
  it('a requeue with unchanged children skips their round trips; drift is repaired once ownRecheckMs (60 s) passed', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    const child = eep('team-a', 'budgets');
    const callsTo = (kind: string, from: number): number => t.kube.calls.slice(from).filter((c) => c.kind === kind).length;

    t.kube.edit(child, (o) => { (o.spec as Record<string, unknown>).extProc = []; });
    let mark = t.kube.calls.length;
    await t.reconciler.reconcile('team-a/budgets');
    expect(callsTo('EnvoyExtensionPolicy', mark)).toBe(0);
    expect((t.kube.peek(child)?.spec as { extProc: unknown[] }).extProc).toEqual([]);

    t.tick(60);
    mark = t.kube.calls.length;
    await t.reconciler.reconcile('team-a/budgets');
    expect(callsTo('EnvoyExtensionPolicy', mark)).toBeGreaterThan(0);
    expect((t.kube.peek(child)?.spec as { extProc: unknown[] }).extProc).toHaveLength(1);
  });

  it('an edit (new generation) applies at once', async () => {
    const t = setup();
    t.gateway();
    t.policy('budgets');
    await t.reconciler.reconcile('team-a/budgets');
    t.kube.edit({ apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', namespace: 'team-a', name: 'budgets' }, (o) => {
      (o.spec as Record<string, unknown>).enforcement = { messageTimeout: '1s' };
    });
    const before = JSON.stringify(t.kube.peek(eep('team-a', 'budgets'))?.spec);
    await t.reconciler.reconcile('team-a/budgets');
    expect(JSON.stringify(t.kube.peek(eep('team-a', 'budgets'))?.spec)).not.toBe(before);
  });
});
