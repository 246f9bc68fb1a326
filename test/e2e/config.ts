/**
 * Settings of the kind end-to-end suite: names, namespaces, versions and the environment knobs (see README.md).
 * Everything the suite creates is named here, so the diagnostics and the README can point at the same objects.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const E2E_DIR = fileURLToPath(new URL('./', import.meta.url));

/** Envoy Gateway and Prometheus Operator versions the operator's renderers were checked against (test/schemas/MANIFEST.md). */
export const DEFAULT_EG_VERSION = 'v1.9.0';
export const DEFAULT_PROM_OPERATOR_VERSION = 'v0.93.0';

export interface E2eSettings {
  clusterName: string;
  /** KEEP_CLUSTER=1: leave the cluster (and everything in it) running after the suite. */
  keepCluster: boolean;
  /** E2E_REQUIRE=1: fail instead of skipping when Docker is not available (CI). */
  require: boolean;
  /** E2E_SKIP_BUILD=1: use the tokenmeter:e2e image already in the local Docker engine. */
  skipBuild: boolean;
  egVersion: string;
  promOperatorVersion: string;
  /** E2E_KIND_NODE_IMAGE: kindest/node image for a new cluster (default: kind's own). */
  kindNodeImage: string | undefined;
  /** Kubeconfig written for this cluster only (the user's ~/.kube/config is never touched). */
  kubeconfig: string;
  /** Where diagnostics go on failure (uploaded by .github/workflows/e2e.yml). */
  logDir: string;
  image: { repository: string; tag: string };
}

type Env = Readonly<Record<string, string | undefined>>;

function flag(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes'].includes(v.trim().toLowerCase());
}

export function e2eSettings(env: Env = process.env): E2eSettings {
  const clusterName = env.E2E_CLUSTER_NAME?.trim() || 'tokenmeter-e2e';
  return {
    clusterName,
    keepCluster: flag(env.KEEP_CLUSTER),
    require: flag(env.E2E_REQUIRE),
    skipBuild: flag(env.E2E_SKIP_BUILD),
    egVersion: env.E2E_EG_VERSION?.trim() || DEFAULT_EG_VERSION,
    promOperatorVersion: env.E2E_PROM_OPERATOR_VERSION?.trim() || DEFAULT_PROM_OPERATOR_VERSION,
    kindNodeImage: env.E2E_KIND_NODE_IMAGE?.trim() || undefined,
    kubeconfig: env.E2E_KUBECONFIG?.trim() || join(tmpdir(), `${clusterName}.kubeconfig`),
    logDir: env.E2E_LOG_DIR?.trim() || join(E2E_DIR, 'logs'),
    image: { repository: 'tokenmeter', tag: 'e2e' },
  };
}

/** Names of what the suite installs. */
export const NS = {
  tokenmeter: 'tokenmeter-system',
  envoyGateway: 'envoy-gateway-system',
  /** The workload namespace: mock LLM, Gateway, HTTPRoute, TokenPolicy. */
  app: 'tokenmeter-e2e',
} as const;

export const NAMES = {
  helmRelease: 'tokenmeter',
  egRelease: 'eg',
  gatewayClass: 'tokenmeter-e2e',
  envoyProxy: 'tokenmeter-e2e',
  gateway: 'llm-gateway',
  route: 'llm',
  mock: 'mock-llm',
  mockPort: 8080,
  policy: 'e2e-budget',
  limit: 'per-tenant',
} as const;

/** The ServiceMonitor the operator renders for the ext_proc (chart settings: FULLNAME-extproc; FULLNAME = release). */
export const EXTPROC_SERVICEMONITOR = `${NAMES.helmRelease}-extproc`;

export const MOCK_IMAGE = 'node:24-alpine';
export const CHART_DIR = join(REPO_ROOT, 'charts', 'tokenmeter');
export const MANIFEST_DIR = join(E2E_DIR, 'manifests');
export const KIND_CONFIG = join(E2E_DIR, 'kind.yaml');
export const EXTPROC_ADMIN_PORT = 9464;

export function serviceMonitorCrdUrl(version: string): string {
  return `https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/${version}/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml`;
}

/** The same CRD, vendored byte-identical (test/schemas/MANIFEST.md): the fallback when the URL cannot be fetched. */
export const VENDORED_SERVICEMONITOR_CRD = join(REPO_ROOT, 'test', 'schemas', 'prometheus-operator', 'monitoring.coreos.com_servicemonitors.yaml');

/** The chart's image values: the locally built image, loaded into kind, never pulled. */
export function imageSettings(s: E2eSettings): string[] {
  return [`image.repository=${s.image.repository}`, `image.tag=${s.image.tag}`, 'image.pullPolicy=Never'];
}
