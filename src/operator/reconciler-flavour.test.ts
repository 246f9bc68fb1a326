import { afterEach, describe, expect, it } from 'vitest';
import { FakeKube } from '../../test/helpers/fake-kube.js';
import { checkCallsAllowed, setup } from '../../test/helpers/reconciler-harness.js';
import type { Flavour } from '../render/settings.js';

afterEach(checkCallsAllowed);

/** `Kind namespace/name` of every object the operator made (its label), sorted. */
function made(kube: FakeKube): string[] {
  return [...kube.objects.values()].filter((o) => o.metadata.labels?.['app.kubernetes.io/managed-by'] === 'tokenmeter-operator')
    .map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();
}

const COMMON = ['ConfigMap tokenmeter-system/tokenmeter-policies', 'ServiceMonitor tokenmeter-system/tokenmeter-extproc'];
const ONLY: Record<Flavour, string[]> = {
  EnvoyGateway: ['EnvoyExtensionPolicy team-a/tokenmeter-budgets', 'EnvoyExtensionPolicy team-b/tokenmeter-budgets',
    'ReferenceGrant tokenmeter-system/tokenmeter-from-team-a', 'ReferenceGrant tokenmeter-system/tokenmeter-from-team-b'],
  Istio: ['EnvoyFilter istio-system/tokenmeter-ext-proc'],
  Envoy: ['ConfigMap tokenmeter-system/tokenmeter-envoy'],
};

describe('Reconciler: switching the flavour', () => {
  it('leaves only what the current flavour renders: Envoy → EnvoyGateway → Istio → EnvoyGateway → Envoy', async () => {
    const kube = new FakeKube();
    kube.served.add('monitoring.coreos.com/v1/ServiceMonitor');
    for (const flavour of ['Envoy', 'EnvoyGateway', 'Istio', 'EnvoyGateway', 'Envoy'] as const) {
      // A new operator process with another --flavour, over the same cluster.
      const t = setup({ flavour }, { kube });
      for (const ns of ['team-a', 'team-b']) {
        t.gateway(ns);
        t.policy('budgets', ns);
      }
      for (const ns of ['team-a', 'team-b']) await t.reconciler.reconcile(`${ns}/budgets`);
      expect(made(kube), flavour).toEqual([...COMMON, ...ONLY[flavour]].sort());
      for (const ns of ['team-a', 'team-b']) expect(t.cond('budgets', 'Ready', ns)?.status, `${flavour} ${ns}`).toBe('True');
    }
  });
});
