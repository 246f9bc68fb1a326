/**
 * Installing tokenmeter into a real-apiserver test cluster (kube-apiserver.ts) the way the README tells users to:
 * `kubectl apply --server-side -f manifests/install.yaml` (with the 1.20 changes of kube-objects.ts), plus the
 * third-party CRDs of test/schemas, and the ServiceAccount users the chart's Deployments run as, so tests act with
 * the chart's own RBAC.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ROOT } from './helm.js';
import type { KubeObject } from '../../src/k8s/client.js';
import { serviceAccountUser, type ApiUser, type KubeApiServer } from './kube-apiserver.js';
import { for120, thirdPartyCrds, yamlObjects } from './kube-objects.js';

export const INSTALL_MANIFEST = 'manifests/install.yaml';

/** The ServiceAccount user each Deployment of install.yaml runs as, by Deployment name. */
export function chartUsers(objects: readonly KubeObject[] = yamlObjects(INSTALL_MANIFEST)): Map<string, ApiUser> {
  const out = new Map<string, ApiUser>();
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    const sa = ((d.spec as { template?: { spec?: { serviceAccountName?: string } } }).template?.spec?.serviceAccountName) ?? 'default';
    out.set(d.metadata.name, serviceAccountUser(d.metadata.namespace ?? 'default', sa));
  }
  return out;
}

/**
 * Applies `objects` with `kubectl apply --server-side` (as the admin, or `user`); throws with kubectl's output on
 * failure. Objects are written as YAML 1.1, which is what kubectl reads: a YAML 1.2 writer leaves `no` or `on`
 * unquoted, and kubectl would read a boolean. (Not JSON: kubectl 1.20's decoder panics on a long JSON document after
 * the first.) Strings are YAML text passed through as they are.
 */
export async function kubectlApply(api: KubeApiServer, objects: readonly (KubeObject | string)[], opts: { user?: ApiUser; args?: string[] } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-apply-'));
  try {
    const file = join(dir, 'objects.yaml');
    writeFileSync(file, objects.map((o) => (typeof o === 'string' ? o : stringify(o, { version: '1.1' }))).join('\n---\n'));
    const r = await api.kubectl(['apply', '--server-side', '-f', file, ...(opts.args ?? [])], opts.user ? { user: opts.user } : {});
    if (r.code !== 0) throw new Error(`kubectl apply --server-side failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until every CRD among `objects` is Established (served). */
export async function waitEstablished(api: KubeApiServer, objects: readonly KubeObject[]): Promise<void> {
  const names = objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => `crd/${o.metadata.name}`);
  if (names.length === 0) return;
  const r = await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
  if (r.code !== 0) throw new Error(`CRDs not Established: ${r.stderr}`);
}

/** The third-party CRDs (Gateway API, Envoy Gateway, Istio, ServiceMonitor, PrometheusRule; CEL stripped), applied and served. */
export async function installThirdPartyCrds(api: KubeApiServer): Promise<KubeObject[]> {
  const crds = thirdPartyCrds();
  await kubectlApply(api, crds);
  await waitEstablished(api, crds);
  return crds;
}

export interface Installed {
  /** install.yaml's objects as sent (after the 1.20 changes). */
  objects: KubeObject[];
  /** `Kind namespace/name: path` of every 1.20 change made. */
  removed: string[];
}

/**
 * install.yaml, applied server-side as the admin (as a user would), its CRD Established. Documents 1.20 takes as
 * they are go to kubectl as the file's own text (so kubectl parses exactly what users apply); changed ones as JSON.
 */
export async function installManifest(api: KubeApiServer): Promise<Installed> {
  const docs = parseAllDocuments(readFileSync(join(ROOT, INSTALL_MANIFEST), 'utf8'))
    .map((d) => ({ text: d.toString(), o: d.toJS() as KubeObject | null })).filter((d): d is { text: string; o: KubeObject } => d.o !== null);
  const changed = docs.map((d) => ({ ...d, ...for120(d.o) }));
  const objects = changed.map((c) => c.object);
  await kubectlApply(api, changed.map((c) => (c.removed.length > 0 ? c.object : c.text)));
  await waitEstablished(api, objects);
  const removed = changed.flatMap((c) => c.removed.map((r) => `${c.o.kind} ${c.o.metadata.namespace ?? ''}/${c.o.metadata.name}: ${r}`));
  return { objects, removed };
}
