/**
 * Installing what the suite needs into the cluster, in dependency order: Envoy Gateway (with the Gateway API CRDs)
 * and the ServiceMonitor CRD, the tokenmeter chart, the mock LLM, the Gateway objects, the TokenPolicy. Every step
 * is idempotent (`helm upgrade --install`, `kubectl apply`), so a reused cluster (KEEP_CLUSTER=1) can run again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import {
  CHART_DIR, MANIFEST_DIR, NAMES, NS, REPO_ROOT, VENDORED_SERVICEMONITOR_CRD, imageSettings, serviceMonitorCrdUrl, type E2eSettings,
} from './config.js';
import type { Kube } from './cluster.js';
import { mockConfigMap } from './mock-llm/fixtures.js';
import { log, poll } from './tools.js';

export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

/** The documents of a YAML file in test/e2e/manifests. */
export function manifest(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(join(MANIFEST_DIR, file), 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((d): d is KubeObject => d !== null);
}

// ---------------------------------------------------------------------------------------------------------------
// Envoy Gateway and the ServiceMonitor CRD

export async function installEnvoyGateway(kube: Kube, s: E2eSettings): Promise<void> {
  await kube.helm([
    'upgrade', '--install', NAMES.egRelease, 'oci://docker.io/envoyproxy/gateway-helm', '--version', s.egVersion,
    '--namespace', NS.envoyGateway, '--create-namespace', '--wait', '--timeout', '10m',
  ], { timeoutMs: 12 * 60_000 });
  await kube.kubectl(['wait', '--timeout=5m', '-n', NS.envoyGateway, 'deployment/envoy-gateway', '--for=condition=Available'], { timeoutMs: 320_000 });
}

/** The ServiceMonitor CRD from the Prometheus Operator release; the vendored identical copy if the URL is unreachable. */
export async function installServiceMonitorCrd(kube: Kube, s: E2eSettings): Promise<void> {
  const url = serviceMonitorCrdUrl(s.promOperatorVersion);
  const r = await kube.kubectl(['apply', '--server-side', '-f', url], { check: false, timeoutMs: 120_000 });
  if (r.code !== 0) {
    log(`could not apply ${url} (${r.stderr.trim().split('\n')[0] ?? ''}); applying the vendored copy ${VENDORED_SERVICEMONITOR_CRD}`);
    await kube.kubectl(['apply', '--server-side', '-f', VENDORED_SERVICEMONITOR_CRD], { timeoutMs: 120_000 });
  }
  await kube.kubectl(['wait', '--for=condition=Established', 'crd/servicemonitors.monitoring.coreos.com', '--timeout=120s'], { timeoutMs: 130_000 });
}

// ---------------------------------------------------------------------------------------------------------------
// The TokenPolicy CRD, applied the way the README says (and the real-apiserver tier does): server-side, from crds/

export const CRD_FILE = join(REPO_ROOT, 'crds', 'tokenmeter.dev_tokenpolicies.yaml');

/**
 * `kubectl apply --server-side -f crds/tokenmeter.dev_tokenpolicies.yaml` with its CEL rules: the apiserver compiles
 * them and checks their cost budget here, which no other tier can. --force-conflicts only takes the CRD over from a
 * Helm release of an earlier run on a reused cluster.
 */
export async function installCrd(kube: Kube): Promise<void> {
  await kube.kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_FILE], { timeoutMs: 120_000 });
  await kube.kubectl(['wait', '--for=condition=Established', 'crd/tokenpolicies.tokenmeter.dev', '--timeout=120s'], { timeoutMs: 130_000 });
}

// ---------------------------------------------------------------------------------------------------------------
// The tokenmeter chart

function hasKey(values: unknown, path: string): boolean {
  let cur: unknown = values;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(k in cur)) return false;
    cur = (cur as Record<string, unknown>)[k];
  }
  return true;
}

/**
 * The --set flags for the chart: the local image (never pulled), the ServiceMonitors on, and — for the keys the
 * chart's values.yaml has (values.schema.json rejects unknown keys) — one replica of each component (in-memory
 * budgets are per replica: one ext_proc makes the budget arithmetic exact), the EnvoyGateway flavour, no CRD
 * (installCrd applies crds/ server-side first, as the README's kubectl path and the real-apiserver tier do), and a
 * 2 s ext_proc message timeout: a CI runner shares two to four cores with the whole cluster, and a reply slower than
 * the default 200 ms would let a request through unmetered (failOpen) and fail the exact assertions. Latency is
 * measured by `npm run bench`, not here.
 */
export function chartSetFlags(values: unknown, s: E2eSettings): string[] {
  const sets = [...imageSettings(s), 'serviceMonitor.enabled=true'];
  const optional: [string, string][] = [
    ['extproc.replicas', '1'], ['extProc.replicas', '1'], ['operator.replicas', '1'],
    ['gateway.flavour', 'EnvoyGateway'], ['operator.flavour', 'EnvoyGateway'], ['crds.enabled', 'false'], ['gateway.messageTimeout', '2s'],
  ];
  for (const [key, value] of optional) if (hasKey(values, key)) sets.push(`${key}=${value}`);
  return sets.flatMap((kv) => ['--set', kv]);
}

/** The values `helm --set a.b=c` flags amount to (booleans and integers typed, as Helm does). */
export function setFlagsToValues(flags: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] !== '--set') continue;
    const kv = flags[++i] ?? '';
    const eq = kv.indexOf('=');
    const path = kv.slice(0, eq).split('.');
    const raw = kv.slice(eq + 1);
    const value: unknown = raw === 'true' ? true : raw === 'false' ? false : /^-?\d+$/.test(raw) ? Number(raw) : raw;
    let cur = out;
    path.slice(0, -1).forEach((k) => {
      cur[k] ??= {};
      cur = cur[k] as Record<string, unknown>;
    });
    cur[path.at(-1) as string] = value;
  }
  return out;
}

export function chartValues(): unknown {
  const file = join(CHART_DIR, 'values.yaml');
  return existsSync(file) ? parse(readFileSync(file, 'utf8')) : {};
}

export async function installChart(kube: Kube, s: E2eSettings): Promise<void> {
  if (!existsSync(join(CHART_DIR, 'Chart.yaml'))) throw new Error(`no Helm chart at ${CHART_DIR}`);
  const existed = (await kube.helm(['status', NAMES.helmRelease, '--namespace', NS.tokenmeter], { check: false, quiet: true })).code === 0;
  await kube.helm([
    'upgrade', '--install', NAMES.helmRelease, CHART_DIR, '--namespace', NS.tokenmeter, '--create-namespace',
    ...chartSetFlags(chartValues(), s), '--wait', '--timeout', '5m',
  ], { timeoutMs: 6 * 60_000 });
  if (existed) {
    // Same tag, new image bytes: Helm sees no change, so restart the pods onto the image just loaded.
    await kube.kubectl(['rollout', 'restart', 'deployment', '--namespace', NS.tokenmeter]);
    const deployments = await kube.json<{ items: { metadata: { name: string } }[] }>(['get', 'deployments', '--namespace', NS.tokenmeter], { quiet: true });
    for (const d of deployments.items) {
      await kube.kubectl(['rollout', 'status', `deployment/${d.metadata.name}`, '--namespace', NS.tokenmeter, '--timeout=300s'], { timeoutMs: 320_000 });
    }
  }
  await kube.kubectl(['wait', '--for=condition=Established', 'crd/tokenpolicies.tokenmeter.dev', '--timeout=120s'], { timeoutMs: 130_000 });
}

// ---------------------------------------------------------------------------------------------------------------
// The mock LLM upstream

export async function deployMock(kube: Kube): Promise<void> {
  const { configMap, hash } = mockConfigMap(NAMES.mock, NS.app);
  const objects = manifest('mock-llm.yaml').map((o) => {
    if (o.kind !== 'Deployment') return o;
    const d = structuredClone(o) as KubeObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } };
    d.spec.template.metadata.annotations = { ...d.spec.template.metadata.annotations, 'tokenmeter.dev/mock-config': hash };
    return d;
  });
  await kube.apply([...manifest('namespace.yaml'), configMap, ...objects]);
  await kube.kubectl(['rollout', 'status', `deployment/${NAMES.mock}`, '--namespace', NS.app, '--timeout=300s'], { timeoutMs: 320_000 });
}

// ---------------------------------------------------------------------------------------------------------------
// Gateway, HTTPRoute, access log

const OWNER_SELECTOR = `gateway.envoyproxy.io/owning-gateway-name=${NAMES.gateway},gateway.envoyproxy.io/owning-gateway-namespace=${NS.app}`;

interface HTTPRouteStatus {
  status?: { parents?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] }[] };
}

export interface EnvoyTarget {
  deployment: string;
  service: string;
  /** The selector of the Gateway's Envoy pods (for logs). */
  selector: string;
}

/** Applies the Gateway objects and waits until Envoy Gateway has accepted them and the Envoy deployment is up. */
export async function applyGateway(kube: Kube): Promise<EnvoyTarget> {
  await kube.apply(manifest('gateway.yaml'));
  await kube.kubectl(['wait', '--for=condition=Accepted', `gatewayclass/${NAMES.gatewayClass}`, '--timeout=180s'], { timeoutMs: 190_000 });
  await kube.kubectl(['wait', '--for=condition=Accepted', `gateway/${NAMES.gateway}`, '--namespace', NS.app, '--timeout=180s'], { timeoutMs: 190_000 });
  const names = (kind: string) => async (note: (why: string) => void): Promise<string | undefined> => {
    const list = await kube.json<{ items: { metadata: { name: string } }[] }>(['get', kind, '--namespace', NS.envoyGateway, '-l', OWNER_SELECTOR], { quiet: true });
    const name = list.items[0]?.metadata.name;
    if (!name) note(`no ${kind} labelled ${OWNER_SELECTOR} yet`);
    return name;
  };
  const deployment = await poll('the Envoy deployment of the Gateway', 180_000, 2000, names('deployments'));
  const service = await poll('the Envoy service of the Gateway', 180_000, 2000, names('services'));
  await kube.kubectl(['rollout', 'status', `deployment/${deployment}`, '--namespace', NS.envoyGateway, '--timeout=300s'], { timeoutMs: 320_000 });
  await poll(`HTTPRoute ${NAMES.route} Accepted with its backend resolved`, 180_000, 2000, async (note) => {
    const route = await kube.json<HTTPRouteStatus>(['get', `httproute/${NAMES.route}`, '--namespace', NS.app], { quiet: true });
    const conditions = route.status?.parents?.flatMap((p) => p.conditions ?? []) ?? [];
    const ok = (type: string): boolean => conditions.some((c) => c.type === type && c.status === 'True');
    if (ok('Accepted') && ok('ResolvedRefs')) return true;
    note(JSON.stringify(conditions.map((c) => `${c.type}=${c.status} (${c.reason ?? ''}: ${c.message ?? ''})`)));
    return undefined;
  });
  return { deployment, service, selector: OWNER_SELECTOR };
}

// ---------------------------------------------------------------------------------------------------------------
// The TokenPolicy

interface ExtensionPolicyList {
  items: {
    metadata: { name: string; ownerReferences?: { kind: string; name: string }[] };
    /** Gateway API PolicyStatus: one entry per ancestor (the Gateway of the targeted route). */
    status?: { ancestors?: { ancestorRef?: { name?: string }; conditions?: { type: string; status: string; reason?: string; message?: string }[] }[] };
  }[];
}

/**
 * Applies the TokenPolicy and waits for Ready=True, then until Envoy Gateway has accepted the EnvoyExtensionPolicy
 * the operator renders for it (a rejected one — e.g. the cross-namespace ext_proc Service without its ReferenceGrant
 * — would otherwise only show up as a warm-up that never sees tokenmeter in the path).
 */
export async function applyPolicy(kube: Kube): Promise<void> {
  await kube.apply(manifest('tokenpolicy.yaml'));
  await kube.kubectl([
    'wait', '--for=condition=Ready', `tokenpolicies.tokenmeter.dev/${NAMES.policy}`, '--namespace', NS.app, '--timeout=300s',
  ], { timeoutMs: 320_000 });
  await poll(`the EnvoyExtensionPolicy of TokenPolicy ${NAMES.policy} Accepted by Envoy Gateway`, 180_000, 2000, async (note) => {
    const list = await kube.json<ExtensionPolicyList>(['get', 'envoyextensionpolicies.gateway.envoyproxy.io', '--namespace', NS.app], { quiet: true });
    const mine = list.items.filter((p) => p.metadata.ownerReferences?.some((o) => o.kind === 'TokenPolicy' && o.name === NAMES.policy));
    if (mine.length === 0) {
      note(`no EnvoyExtensionPolicy owned by TokenPolicy ${NAMES.policy} in ${NS.app} (have: ${list.items.map((p) => p.metadata.name).join(', ') || 'none'})`);
      return undefined;
    }
    const accepted = (p: ExtensionPolicyList['items'][number]): boolean =>
      (p.status?.ancestors ?? []).some((a) => (a.conditions ?? []).some((c) => c.type === 'Accepted' && c.status === 'True'));
    if (mine.every(accepted)) return true;
    note(mine.map((p) => `${p.metadata.name}: ${JSON.stringify((p.status?.ancestors ?? []).map((a) => ({
      ancestor: a.ancestorRef?.name, conditions: (a.conditions ?? []).map((c) => `${c.type}=${c.status} (${c.reason ?? ''}: ${c.message ?? ''})`),
    })))}`).join('; '));
    return undefined;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Finding the ext_proc pods (for /metrics)

/** ext_proc pods of the chart: a container running `extproc` or exposing the admin port. */
export async function extprocPods(kube: Kube, adminPort: number): Promise<string[]> {
  const pods = await kube.pods(NS.tokenmeter);
  return pods.filter((p) => p.status.phase === 'Running' && p.spec.containers.some((c) =>
    [...(c.command ?? []), ...(c.args ?? [])].includes('extproc') || (c.ports ?? []).some((port) => port.containerPort === adminPort)))
    .map((p) => p.metadata.name);
}
