/**
 * Objects for the real-apiserver tier (kube-apiserver v1.20.2, see kube-apiserver.ts), and the exact, documented
 * changes that let 1.20 take objects written for the 1.30+ clusters tokenmeter targets:
 *
 * - CRDs: `x-kubernetes-validations` (CEL, 1.25+) removed everywhere. 1.20's CRD type has no such field: kubectl's
 *   validation and server-side apply refuse it, a plain create drops it. CEL rules, their cost budget and
 *   messageExpression/fieldPath/reason stay covered by the fast tier (test/helpers/crd-apiserver.ts, cel-js).
 * - Deployments: gRPC probes (1.27 GA), `lifecycle.preStop.sleep` (1.30 GA) and topology spread `matchLabelKeys`
 *   (1.27 beta) removed — the probe or preStop hook as a whole when that was its only handler, since 1.20 would refuse
 *   a handler-less probe. Nothing else: `for120` reports every path it removed and the tests assert that list.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/k8s/client.js';
import { ROOT } from './helm.js';

type Json = Record<string, unknown>;
const isJson = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy of `value` without any `x-kubernetes-validations` (CEL) keyword. */
export function stripCel<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => (k === 'x-kubernetes-validations' ? undefined : v))) as T;
}

/** The documents of a YAML file (relative to the repository root, or absolute), nulls left out. */
export function yamlObjects(file: string): KubeObject[] {
  const text = readFileSync(file.startsWith('/') ? file : join(ROOT, file), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as KubeObject | null).filter((d): d is KubeObject => isJson(d));
}

/**
 * The third-party CRDs of test/schemas (Gateway API, Envoy Gateway, Istio EnvoyFilter, Prometheus Operator
 * ServiceMonitor), CEL stripped: what the operator's rendered objects and the samples' targets need.
 */
export function thirdPartyCrds(): KubeObject[] {
  const dir = join(ROOT, 'test', 'schemas');
  const files = [
    ...['gateway-api', 'envoy-gateway', 'istio'].flatMap((d) => readdirSync(join(dir, d)).filter((f) => f.endsWith('.yaml')).map((f) => join(dir, d, f))),
    join(dir, 'prometheus-operator', 'monitoring.coreos.com_servicemonitors.yaml'),
    join(dir, 'prometheus-operator', 'monitoring.coreos.com_prometheusrules.yaml'),
  ];
  return files.flatMap(yamlObjects).filter((o) => o.kind === 'CustomResourceDefinition').map(stripCel);
}

/** The fields newer than Kubernetes 1.20 that the chart's Deployments use (see the module comment). */
const NEWER_PROBE = 'grpc';

/** `obj` as 1.20 can store it, and the paths removed (empty for anything but a Deployment with newer fields). */
export function for120(obj: KubeObject): { object: KubeObject; removed: string[] } {
  if (obj.kind === 'CustomResourceDefinition') {
    const text = JSON.stringify(obj);
    return { object: stripCel(obj), removed: text.includes('x-kubernetes-validations') ? ['x-kubernetes-validations (every occurrence)'] : [] };
  }
  if (obj.kind !== 'Deployment') return { object: obj, removed: [] };
  const object = structuredClone(obj);
  const removed: string[] = [];
  const pod = ((object.spec as Json | undefined)?.template as Json | undefined)?.spec as Json | undefined;
  for (const [i, c] of ((pod?.containers as Json[] | undefined) ?? []).entries()) {
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      if (isJson(c[probe]) && NEWER_PROBE in c[probe]) {
        delete c[probe];
        removed.push(`spec.template.spec.containers[${i}].${probe} (grpc)`);
      }
    }
    const lifecycle = c.lifecycle;
    if (isJson(lifecycle) && isJson(lifecycle.preStop) && 'sleep' in lifecycle.preStop) {
      delete lifecycle.preStop.sleep;
      removed.push(`spec.template.spec.containers[${i}].lifecycle.preStop.sleep`);
      if (Object.keys(lifecycle.preStop).length === 0) delete lifecycle.preStop;
      if (Object.keys(lifecycle).length === 0) delete c.lifecycle;
    }
  }
  for (const [i, t] of ((pod?.topologySpreadConstraints as Json[] | undefined) ?? []).entries()) {
    if ('matchLabelKeys' in t) {
      delete t.matchLabelKeys;
      removed.push(`spec.template.spec.topologySpreadConstraints[${i}].matchLabelKeys`);
    }
  }
  return { object, removed };
}

/** `Kind namespace/name`. */
export function idOf(o: KubeObject | { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * Fields set in `sent` that the server did not keep (`spec.foo` pruned as unknown, a value changed): what 1.20 drops
 * silently, since it has no server-side field validation. Lists compare item by item; metadata is left out but for
 * labels and annotations; an empty list or map may come back absent.
 */
export function notKept(sent: unknown, stored: unknown, path = ''): string[] {
  // Go's omitempty: an empty list or map comes back absent, meaning the same (`egress: []` denies all either way).
  if (stored === undefined && ((Array.isArray(sent) && sent.length === 0) || (isJson(sent) && Object.keys(sent).length === 0))) return [];
  if (Array.isArray(sent)) {
    if (!Array.isArray(stored) || stored.length !== sent.length) return [path || '(root)'];
    return sent.flatMap((s, i) => notKept(s, stored[i], `${path}[${i}]`));
  }
  if (isJson(sent)) {
    if (!isJson(stored)) return [path || '(root)'];
    return Object.entries(sent).flatMap(([k, v]) => {
      if (path === '' && k === 'metadata' && isJson(v)) return notKept({ labels: v.labels, annotations: v.annotations }, stored.metadata, 'metadata');
      if (v === undefined) return [];
      return notKept(v, stored[k], path ? `${path}.${k}` : k);
    });
  }
  // Quantities and durations may come back normalised ("100m" stays, 1 → "1"): compare as strings.
  return sent === stored || String(sent) === String(stored) ? [] : [path];
}
