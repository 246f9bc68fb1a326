/**
 * Everything the operator applies for a set of accepted policies, for the configured flavour — pure: the same
 * policies and settings always give the same objects, in the same order (namespace/name), so reconciles are
 * idempotent. Per flavour:
 * - EnvoyGateway: per policy an EnvoyExtensionPolicy (+ a BackendTrafficPolicy with rateLimit: BackendTrafficPolicy),
 *   per foreign policy namespace a ReferenceGrant;
 * - Istio: one EnvoyFilter;
 * - Envoy: one ConfigMap (http_filters.yaml, clusters.yaml);
 * and always the limits ConfigMap (and its shards, when the limits exceed one ConfigMap), plus the ServiceMonitor when
 * Prometheus Operator is installed.
 */
import type { TokenPolicy } from '../policy/types.js';
import { renderEnvoyExtensionPolicy, renderReferenceGrant } from './envoy-gateway.js';
import { renderEnvoyConfigMap } from './envoy.js';
import { renderEnvoyFilter } from './istio.js';
import { renderLimitsConfigMap, type LimitsRender } from './limits.js';
import { byNamespaceName, type AcceptedPolicy, type RenderedConfigMap, type RenderedObject } from './meta.js';
import { renderBackendTrafficPolicy, type SkippedLimit } from './rate-limit.js';
import { renderServiceMonitor } from './service-monitor.js';
import type { OperatorSettings } from './settings.js';

export type KubeObject = RenderedObject | RenderedConfigMap;

export interface RenderOptions {
  /** The ServiceMonitor CRD exists (Prometheus Operator installed). */
  serviceMonitor: boolean;
}

export interface RenderResult {
  objects: KubeObject[];
  limits: LimitsRender;
  /** Envoy Gateway: policies (`namespace/name`) with no targetRefs, which Envoy Gateway cannot attach. */
  unattached: string[];
  /** Envoy Gateway BackendTrafficPolicy mode: limits that could not be expressed, and why. */
  skipped: SkippedLimit[];
}

function key(a: AcceptedPolicy): string {
  return `${a.identity.namespace}/${a.identity.name}`;
}

/**
 * Namespaced copies, memoised per policy object: the operator keeps one validated model per uid and generation, so
 * across reconciles the same copy (and its memoised YAML, see policy-yaml.ts) is reused and a reconcile over 1,000
 * unchanged policies does not re-render them all. Pure: the memo holds only values derived from its key.
 */
const namespacedCopies = new WeakMap<TokenPolicy, TokenPolicy>();

/** The policy model with its namespace taken from the Kubernetes identity (the limits must name it). */
function namespaced(a: AcceptedPolicy): TokenPolicy {
  const cached = namespacedCopies.get(a.policy);
  if (cached && cached.name === a.identity.name && cached.namespace === a.identity.namespace) return cached;
  const copy = { ...a.policy, name: a.identity.name, namespace: a.identity.namespace };
  namespacedCopies.set(a.policy, copy);
  return copy;
}

function envoyGateway(policies: readonly AcceptedPolicy[], s: OperatorSettings, out: Pick<RenderResult, 'objects' | 'unattached' | 'skipped'>): void {
  const namespaces = new Set<string>();
  for (const a of policies) {
    const eep = renderEnvoyExtensionPolicy(a, s);
    if (!eep) {
      out.unattached.push(key(a));
      continue;
    }
    out.objects.push(eep);
    namespaces.add(a.identity.namespace);
    if (s.envoyGateway.rateLimit === 'BackendTrafficPolicy') {
      const rl = renderBackendTrafficPolicy(a, s);
      if (rl.backendTrafficPolicy) out.objects.push(rl.backendTrafficPolicy);
      out.skipped.push(...rl.skipped);
    }
  }
  for (const ns of [...namespaces].sort()) {
    const grant = renderReferenceGrant(ns, s);
    if (grant) out.objects.push(grant);
  }
}

/** Every object for `policies` under settings `s`. */
export function renderAll(policies: readonly AcceptedPolicy[], s: OperatorSettings, opts: RenderOptions): RenderResult {
  const sorted = [...policies].sort((a, b) => byNamespaceName(a.identity, b.identity));
  const limits = renderLimitsConfigMap(sorted.map(namespaced), s);
  const out: RenderResult = { objects: [], limits, unattached: [], skipped: [] };
  if (s.flavour === 'EnvoyGateway') envoyGateway(sorted, s, out);
  else if (sorted.length > 0) out.objects.push(s.flavour === 'Istio' ? renderEnvoyFilter(s) : renderEnvoyConfigMap(s));
  // Shards before the ConfigMap that lists them: a reader never sees a list naming a shard not yet written.
  out.objects.push(...limits.shards, limits.configMap);
  if (opts.serviceMonitor && s.serviceMonitor.enabled) out.objects.push(renderServiceMonitor(s));
  return out;
}

/**
 * The objects one policy owns (Envoy Gateway: its EnvoyExtensionPolicy and BackendTrafficPolicy, with an owner
 * reference); none in the flavours whose objects are shared. What a reconcile applies for that policy alone,
 * without rendering the limits of every policy.
 */
export function renderOwned(a: AcceptedPolicy, s: OperatorSettings): KubeObject[] {
  if (s.flavour !== 'EnvoyGateway') return [];
  const out = { objects: [] as KubeObject[], unattached: [] as string[], skipped: [] as SkippedLimit[] };
  envoyGateway([a], s, out);
  return out.objects.filter((o) => (o.metadata.ownerReferences ?? []).length > 0);
}

/**
 * Targets (`namespace/Kind/name[/section]`) named by more than one policy, with those policies. Envoy Gateway accepts
 * one policy of a kind per target: harmless for the EnvoyExtensionPolicies (identical ext_proc wiring), but only
 * one BackendTrafficPolicy's rules apply on a shared target, so the operator reports these in BackendTrafficPolicy mode.
 */
export function sharedTargets(policies: readonly AcceptedPolicy[]): Map<string, string[]> {
  const byTarget = new Map<string, string[]>();
  for (const a of [...policies].sort((x, y) => byNamespaceName(x.identity, y.identity))) {
    for (const r of a.policy.targets.refs) {
      const t = `${a.identity.namespace}/${r.kind}/${r.name}${r.sectionName === undefined ? '' : `/${r.sectionName}`}`;
      byTarget.set(t, [...(byTarget.get(t) ?? []), key(a)]);
    }
  }
  return new Map([...byTarget].filter(([, ps]) => ps.length > 1).sort(([a], [b]) => (a < b ? -1 : 1)));
}
