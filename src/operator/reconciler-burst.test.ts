import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS, checkCallsAllowed, setup } from '../../test/helpers/reconciler-harness.js';

afterEach(checkCallsAllowed);

describe('Reconciler: a burst of policies', () => {
  it('publishes the shared limits a few times, not once per policy; the policies a run did not include are Pending, then Ready on the requeue', async () => {
    const t = setup();
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) t.gateway(`team-${i}`);
    for (let i = 0; i < 40; i++) keys.push(`team-${i % 5}/p${i}`);
    const create = (k: string): void => { t.policy(k.split('/')[1] ?? '', k.split('/')[0]); };
    // One policy first (the operator has published before), then the other 39 at once, with the shared run they
    // start held until all of them got to it: what a slow API server does to a real burst.
    create(keys[0] ?? '');
    await t.reconciler.reconcile(keys[0] ?? '');
    keys.slice(1).forEach(create);
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const exists = t.kube.resourceExists.bind(t.kube);
    t.kube.resourceExists = async (apiVersion, kind) => { await gate; return exists(apiVersion, kind); };
    const burst = Promise.all(keys.slice(1).map((k) => t.reconciler.reconcile(k)));
    setTimeout(release, 50);
    const results = [{}, ...await burst];
    t.kube.resourceExists = exists;
    const publishes = t.kube.calls.filter((c) => c.verb === 'apply' && c.kind === 'ConfigMap').length;
    expect(publishes).toBeGreaterThan(0);
    expect(publishes).toBeLessThanOrEqual(4);
    const pending = keys.filter((k) => t.cond(k.split('/')[1] ?? '', 'Programmed', k.split('/')[0])?.reason === 'Pending');
    expect(pending.length).toBeGreaterThan(0);
    for (const k of pending) expect(results[keys.indexOf(k)]).toEqual({ requeueAfterMs: 1000 });
    expect(t.cond(pending[0]?.split('/')[1] ?? '', 'Programmed', pending[0]?.split('/')[0])?.message).toBe('Generation 1 is queued for the next limits version.');

    await Promise.all(pending.map((k) => t.reconciler.reconcile(k)));
    for (const k of keys) expect(t.cond(k.split('/')[1] ?? '', 'Ready', k.split('/')[0])?.status, k).toBe('True');
    expect(t.limits()).toHaveLength(40);
    expect(t.kube.peek(LIMITS)).toBeDefined();
  });
});
