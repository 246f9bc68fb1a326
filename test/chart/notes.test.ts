import { expect, it } from 'vitest';
import { describeChart, renderNotes } from '../helpers/helm.js';

describeChart('NOTES.txt', () => {
  it('says what was installed, how to check it, a first TokenPolicy and how Envoy Gateway is wired', () => {
    const notes = renderNotes();
    expect(notes).toContain('Deployment tokenmeter-operator');
    expect(notes).toContain('tokenmeter.tokenmeter-system.svc.cluster.local:50051');
    expect(notes).toContain('kubectl get tpol -A');
    expect(notes).toContain('kubectl -n tokenmeter-system logs deploy/tokenmeter-operator');
    expect(notes).toContain('kubectl apply -f manifests/examples/tokenpolicy-tenant-budget.yaml');
    expect(notes).toContain('EnvoyExtensionPolicy');
    expect(notes).not.toContain('WARNING');
    expect(notes).not.toMatch(/<no value>|%!/);
  });

  it('explains the wiring for Istio and for a plain Envoy', () => {
    expect(renderNotes({ values: [{ gateway: { flavour: 'Istio' } }] })).toContain('EnvoyFilter, istio-system/tokenmeter-ext-proc');
    expect(renderNotes({ values: [{ gateway: { flavour: 'Istio', istio: { workloadSelector: { app: 'gw', istio: 'ingress' } } } }] })).toMatch(/get pods -l app=gw,istio=ingress$/m);
    expect(renderNotes({ values: [{ gateway: { flavour: 'Envoy', envoy: { namespace: 'edge' } } }] })).toContain('ConfigMap edge/tokenmeter-envoy');
    expect(renderNotes({ values: [{ gateway: { envoyGateway: { rateLimit: 'BackendTrafficPolicy' } } }] })).toContain('global rate limiter');
  });

  it('warns when ext_proc replicas > 1 (or an HPA) without Redis: budgets would be per replica', () => {
    const warning = /WARNING: more than one ext_proc replica without Redis/;
    const ledger = { store: 'none' }; // several replicas cannot share the default SQLite ledger
    expect(renderNotes({ values: [{ extproc: { replicas: 3 }, ledger }] })).toMatch(warning);
    expect(renderNotes({ values: [{ extproc: { autoscaling: { enabled: true } }, ledger }] })).toMatch(warning);
    expect(renderNotes({ values: [{ extproc: { replicas: 3 }, redis: { url: 'redis://r:6379' }, ledger }] })).not.toMatch(warning);
  });

  it('warns that the dev Redis is for trying out only', () => {
    const notes = renderNotes({ values: [{ extproc: { replicas: 2 }, redis: { dev: { enabled: true } }, ledger: { store: 'none' } }] });
    expect(notes).toMatch(/WARNING: redis.dev.enabled .* FOR TRYING OUT ONLY/);
    expect(notes).not.toMatch(/more than one ext_proc replica/);
  });
});
