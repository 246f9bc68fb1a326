/**
 * Operator settings the renderers read: which Envoy flavour to program, where the ext_proc Service is, the filter's
 * timeout and failure behaviour, and the names of the shared objects. `resolveSettings` fills defaults, validates
 * once (a bad value is a TM_CONFIG_INVALID naming the field) and freezes; renderers trust the result.
 */
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

export type Flavour = 'EnvoyGateway' | 'Istio' | 'Envoy';
export const FLAVOURS: readonly Flavour[] = ['EnvoyGateway', 'Istio', 'Envoy'];

/** Envoy Gateway only: also render a BackendTrafficPolicy charging tokens through Envoy Gateway's global limiter. */
export type RateLimitMode = 'Off' | 'BackendTrafficPolicy';

/**
 * Envoy Gateway only: how tokenmeter's route-level policies combine with a parent (Gateway-level) policy of the same
 * kind. `StrategicMerge` (Envoy Gateway >= 1.9): merged into it, so a user's Gateway-level Wasm/Lua (EnvoyExtensionPolicy)
 * or timeouts (BackendTrafficPolicy) stay on the route; `None`: "most specific wins", tokenmeter's replaces them
 * (Envoy Gateway < 1.9, which has no mergeType).
 */
export type MergeMode = 'StrategicMerge' | 'None';

export interface ExtProcService {
  name: string;
  namespace: string;
  /** gRPC (ext_proc) port of the Service. */
  port: number;
  /** Admin (/metrics) port number of the Service. */
  adminPort: number;
  /** Name of the admin port in the Service (ServiceMonitors select ports by name). */
  adminPortName: string;
  /** Labels on the Service (the ServiceMonitor selects on them). */
  labels: Readonly<Record<string, string>>;
}

export interface OperatorSettings {
  flavour: Flavour;
  extProc: ExtProcService;
  /**
   * Envoy's per-message timeout, Go duration syntax as Envoy Gateway accepts it (`200ms`, `1s`, `1m30s`). Default 2s:
   * sized so an 8 MiB prompt (the ext_proc's default body cap) is transferred, decided and answered inside it
   * (README, "Budget decisions inside Envoy's message timeout"); Envoy's own default, 200 ms, is not.
   */
  messageTimeout: string;
  /** `messageTimeout` in milliseconds. */
  messageTimeoutMs: number;
  /** The ext_proc being unreachable or failing lets traffic through (true) or fails the request (false). */
  failOpen: boolean;
  envoyGateway: {
    rateLimit: RateLimitMode;
    mergeType: MergeMode;
    /** Envoy Gateway's own configuration (envoy-gateway.yaml): read to check its rate-limit service is enabled. */
    configMap: { namespace: string; name: string };
  };
  istio: {
    /** Namespace of the EnvoyFilter: the gateway workloads' namespace (or the Istio root namespace for all). */
    namespace: string;
    /** Labels of the gateway pods the filter is inserted into. */
    workloadSelector: Readonly<Record<string, string>>;
    /** Name of the (single) EnvoyFilter. */
    name: string;
  };
  /**
   * Plain Envoy: the ConfigMap holding http_filters.yaml and clusters.yaml, and the DNS name the STRICT_DNS cluster
   * resolves. A ClusterIP Service resolves to one virtual IP, so each Envoy sends all its ext_proc streams over one
   * HTTP/2 connection to one replica; a headless Service resolves to every ready pod, which Envoy balances across
   * (the chart renders one for this flavour and sets `address` to it). Default: the ext_proc Service's name.
   */
  envoy: { configMapName: string; namespace: string; clusterName: string; address: string };
  /**
   * Circuit-breaker bound on concurrent (and pending) requests to the ext_proc's cluster, rendered for plain Envoy and
   * Envoy Gateway. Every metered request holds one ext_proc stream for its whole life; Envoy's default of 1,024 would
   * fail (fail-open: leave unmetered) the 1,025th concurrent streamed answer.
   */
  maxRequests: number;
  /** Labels stamped on every rendered object (`app.kubernetes.io/managed-by` at least). */
  labels: Readonly<Record<string, string>>;
  /** The data-plane limits ConfigMap the ext_proc replicas read. */
  limitsConfigMap: { name: string; namespace: string };
  /**
   * The ext_proc ServiceMonitor: rendered when `enabled` and the CRD is served; `labels` are added to it (a
   * Prometheus' serviceMonitorSelector, e.g. `release: kube-prometheus-stack`).
   */
  serviceMonitor: { enabled: boolean; name: string; interval: string; labels: Readonly<Record<string, string>> };
  /** Kubernetes cluster DNS domain, for the Service's FQDN. */
  clusterDomain: string;
}

/** What the operator configuration may set; everything else has a default. */
export interface SettingsInput {
  flavour?: Flavour;
  extProc?: Partial<ExtProcService>;
  messageTimeout?: string;
  failOpen?: boolean;
  maxRequests?: number;
  envoyGateway?: Partial<Omit<OperatorSettings['envoyGateway'], 'configMap'>> & { configMap?: Partial<OperatorSettings['envoyGateway']['configMap']> };
  istio?: Partial<OperatorSettings['istio']>;
  envoy?: Partial<OperatorSettings['envoy']>;
  labels?: Readonly<Record<string, string>>;
  limitsConfigMap?: Partial<OperatorSettings['limitsConfigMap']>;
  serviceMonitor?: Partial<OperatorSettings['serviceMonitor']>;
  clusterDomain?: string;
}

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'tokenmeter-operator';
export const POLICY_LABEL = 'tokenmeter.dev/policy';

const DEFAULT_NAMESPACE = 'tokenmeter-system';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Envoy Gateway's messageTimeout pattern (Go duration subset). */
const GO_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

function fail(message: string): never {
  throw new TokenmeterError(ErrorCodes.CONFIG_INVALID, `operator settings: ${message}`);
}

/** Milliseconds of a Go-style duration (`200ms`, `1m30s`); undefined when the text is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (!GO_DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  return ms;
}

/** A protobuf JSON Duration (`0.2s`, `90s`) for Envoy's own configuration. */
export function protoDuration(ms: number): string {
  return `${ms / 1000}s`;
}

function name(value: string, field: string, re: RegExp, max: number): string {
  if (value.length > max || !re.test(value)) fail(`${field}: expected a DNS ${re === DNS_LABEL ? 'label' : 'subdomain'} name, got "${value}"`);
  return value;
}

function port(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) fail(`${field}: expected a port 1-65535, got ${value}`);
  return value;
}

function maxRequests(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000) fail(`maxRequests: expected an integer 1-1000000, got ${value}`);
  return value;
}

function labels(value: Readonly<Record<string, string>>, field: string): Readonly<Record<string, string>> {
  for (const [k, v] of Object.entries(value)) {
    if (!/^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(k)) fail(`${field}: invalid label key "${k}"`);
    if (!/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(v)) fail(`${field}: invalid value "${v}" for label ${k}`);
  }
  return Object.freeze({ ...value });
}

function extProcService(input: Partial<ExtProcService> = {}): ExtProcService {
  const svcName = name(input.name ?? 'tokenmeter', 'extProc.name', DNS_LABEL, 63);
  return Object.freeze({
    name: svcName,
    namespace: name(input.namespace ?? DEFAULT_NAMESPACE, 'extProc.namespace', DNS_LABEL, 63),
    port: port(input.port ?? 50051, 'extProc.port'),
    adminPort: port(input.adminPort ?? 9464, 'extProc.adminPort'),
    adminPortName: name(input.adminPortName ?? 'admin', 'extProc.adminPortName', DNS_LABEL, 15),
    labels: labels(input.labels ?? { 'app.kubernetes.io/name': svcName }, 'extProc.labels'),
  });
}

/** Defaults applied, validated and frozen. Throws TM_CONFIG_INVALID naming the first bad field. */
export function resolveSettings(input: SettingsInput = {}): OperatorSettings {
  const flavour = input.flavour ?? 'EnvoyGateway';
  if (!FLAVOURS.includes(flavour)) fail(`flavour: expected one of ${FLAVOURS.join(', ')}, got "${String(flavour)}"`);
  const extProc = extProcService(input.extProc);
  const messageTimeout = input.messageTimeout ?? '2s';
  const messageTimeoutMs = parseGoDuration(messageTimeout);
  if (messageTimeoutMs === undefined || messageTimeoutMs < 1) fail(`messageTimeout: expected a duration like 200ms or 1s, got "${messageTimeout}"`);
  const rateLimit = input.envoyGateway?.rateLimit ?? 'Off';
  if (rateLimit !== 'Off' && rateLimit !== 'BackendTrafficPolicy') fail(`envoyGateway.rateLimit: expected Off or BackendTrafficPolicy, got "${String(rateLimit)}"`);
  const mergeType = input.envoyGateway?.mergeType ?? 'StrategicMerge';
  if (mergeType !== 'StrategicMerge' && mergeType !== 'None') fail(`envoyGateway.mergeType: expected StrategicMerge or None, got "${String(mergeType)}"`);
  const egConfig = input.envoyGateway?.configMap;
  const interval = input.serviceMonitor?.interval ?? '30s';
  if (parseGoDuration(interval) === undefined) fail(`serviceMonitor.interval: expected a duration like 30s, got "${interval}"`);
  const clusterDomain = name(input.clusterDomain ?? 'cluster.local', 'clusterDomain', DNS_SUBDOMAIN, 253);
  return Object.freeze({
    flavour,
    extProc,
    messageTimeout,
    messageTimeoutMs,
    failOpen: input.failOpen ?? true,
    maxRequests: maxRequests(input.maxRequests ?? 10_000),
    envoyGateway: Object.freeze({
      rateLimit, mergeType,
      configMap: Object.freeze({
        namespace: name(egConfig?.namespace ?? 'envoy-gateway-system', 'envoyGateway.configMap.namespace', DNS_LABEL, 63),
        name: name(egConfig?.name ?? 'envoy-gateway-config', 'envoyGateway.configMap.name', DNS_SUBDOMAIN, 253),
      }),
    }),
    istio: Object.freeze({
      namespace: name(input.istio?.namespace ?? 'istio-system', 'istio.namespace', DNS_LABEL, 63),
      workloadSelector: labels(input.istio?.workloadSelector ?? { istio: 'ingressgateway' }, 'istio.workloadSelector'),
      name: name(input.istio?.name ?? 'tokenmeter-ext-proc', 'istio.name', DNS_SUBDOMAIN, 253),
    }),
    envoy: Object.freeze({
      configMapName: name(input.envoy?.configMapName ?? 'tokenmeter-envoy', 'envoy.configMapName', DNS_SUBDOMAIN, 253),
      namespace: name(input.envoy?.namespace ?? extProc.namespace, 'envoy.namespace', DNS_LABEL, 63),
      clusterName: input.envoy?.clusterName ?? 'tokenmeter',
      address: name(input.envoy?.address ?? `${extProc.name}.${extProc.namespace}.svc.${clusterDomain}`, 'envoy.address', DNS_SUBDOMAIN, 253),
    }),
    labels: labels({ ...input.labels, [MANAGED_BY_LABEL]: MANAGED_BY }, 'labels'),
    limitsConfigMap: Object.freeze({
      name: name(input.limitsConfigMap?.name ?? 'tokenmeter-policies', 'limitsConfigMap.name', DNS_SUBDOMAIN, 253),
      namespace: name(input.limitsConfigMap?.namespace ?? extProc.namespace, 'limitsConfigMap.namespace', DNS_LABEL, 63),
    }),
    serviceMonitor: Object.freeze({
      enabled: input.serviceMonitor?.enabled ?? true,
      name: name(input.serviceMonitor?.name ?? `${extProc.name}-extproc`, 'serviceMonitor.name', DNS_SUBDOMAIN, 253),
      interval,
      labels: labels(input.serviceMonitor?.labels ?? {}, 'serviceMonitor.labels'),
    }),
    clusterDomain,
  });
}

/** The ext_proc Service's cluster-local DNS name. */
export function serviceHost(s: OperatorSettings): string {
  return `${s.extProc.name}.${s.extProc.namespace}.svc.${s.clusterDomain}`;
}
