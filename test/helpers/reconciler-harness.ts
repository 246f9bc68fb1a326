/**
 * A Reconciler on the in-memory FakeKube with a ticking clock, plus helpers to put policies and targets and read
 * status — shared by the reconciler's unit tests. `checkCallsAllowed` (an afterEach) asserts every call a test made
 * is allowed by OPERATOR_RULES.
 */
import { pino } from 'pino';
import { parseAllDocuments } from 'yaml';
import { expect } from 'vitest';
import type { KubeObject, ObjectRef } from '../../src/k8s/client.js';
import { findCondition, type Condition } from '../../src/operator/conditions.js';
import type { DataPlaneProbe } from '../../src/operator/data-plane.js';
import { allowed, resourceOf } from '../../src/operator/rbac.js';
import { Reconciler, type PolicyStatus } from '../../src/operator/reconciler.js';
import { resolveSettings, type SettingsInput } from '../../src/render/settings.js';
import { FakeKube, rbacVerbs } from './fake-kube.js';
import { acceptingEnvoyGateway } from './fake-envoy-gateway.js';

export const TP = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' } as const;
export const LIMITS: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'tokenmeter-system', name: 'tokenmeter-policies' };
export const GOOD_SPEC = {
  targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'llm' }],
  limits: [{ name: 'per-minute', tokens: 100000, window: '1m' }],
};

export function eep(ns: string, name: string): ObjectRef {
  return { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyExtensionPolicy', namespace: ns, name: `tokenmeter-${name}` };
}

const kubes: FakeKube[] = [];

export function setup(settingsInput: SettingsInput = {}, opts: { serviceMonitor?: boolean; dataPlane?: DataPlaneProbe; kube?: FakeKube } = {}) {
  const kube = opts.kube ?? new FakeKube();
  // Envoy Gateway accepts what is applied unless a test says otherwise (gateway-verdict tests set their own).
  kube.onApplied ??= acceptingEnvoyGateway;
  kubes.push(kube);
  if (opts.serviceMonitor !== false) kube.served.add('monitoring.coreos.com/v1/ServiceMonitor');
  let seconds = 0;
  const reconciler = new Reconciler({
    client: kube,
    settings: resolveSettings(settingsInput),
    cache: { list: () => [...kube.objects.values()].filter((o) => o.kind === 'TokenPolicy') },
    now: () => new Date(Date.UTC(2025, 0, 1, 0, 0, seconds)),
    log: pino({ level: 'silent' }),
    // Back-to-back publishes without the production 500 ms spacing: these tests reconcile one step at a time, and the
    // spacing itself is tested in coalesce.test.ts and exercised by the operator end-to-end and pack tests.
    publishIntervalMs: 0,
    ...(opts.dataPlane ? { dataPlane: opts.dataPlane } : {}),
    // As the operator's informer on its gateway objects would: their status without a round trip.
    gatewayObjects: (ref) => kube.peek(ref),
  });
  const gateway = (ns = 'team-a', name = 'llm'): KubeObject => kube.put({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name, namespace: ns },
    spec: { gatewayClassName: 'eg', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
  });
  const policy = (name: string, ns = 'team-a', spec: unknown = GOOD_SPEC): KubeObject =>
    kube.put({ ...TP, metadata: { name, namespace: ns }, spec });
  const status = (name: string, ns = 'team-a'): PolicyStatus => kube.peek({ ...TP, name, namespace: ns })?.status as PolicyStatus;
  const cond = (name: string, type: string, ns = 'team-a'): Condition | undefined => findCondition(status(name, ns).conditions, type);
  const limitsYaml = (): string => (kube.peek(LIMITS)?.data as Record<string, string>)['policies.yaml'] ?? '';
  /** `namespace/name` of each policy in the published limits. */
  const limits = (): string[] => parseAllDocuments(limitsYaml()).map((d) => d.toJS() as { metadata?: { name: string; namespace: string } } | null)
    .filter((d) => d?.metadata).map((d) => `${d?.metadata?.namespace ?? ''}/${d?.metadata?.name ?? ''}`);
  const tick = (s: number): void => { seconds += s; };
  return { kube, reconciler, gateway, policy, status, cond, limitsYaml, limits, tick };
}

/** Every call a test made must be allowed by OPERATOR_RULES (use as an afterEach). */
export function checkCallsAllowed(): void {
  for (const kube of kubes.splice(0)) {
    for (const call of kube.calls) {
      const res = resourceOf(call.apiVersion, call.kind);
      expect(res, `${call.kind} has a resource name`).toBeDefined();
      const resource = `${res?.resource ?? ''}${call.subresource ? `/${call.subresource}` : ''}`;
      for (const verb of rbacVerbs(call)) expect({ call: `${verb} ${res?.group ?? ''}/${resource}`, allowed: allowed(res?.group ?? '', resource, verb) }).toMatchObject({ allowed: true });
    }
  }
}

