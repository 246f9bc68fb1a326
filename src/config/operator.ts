/**
 * Options of `tokenmeter operator`: flags and environment, validated and frozen like the extproc options. Shared
 * flags (--log-level, --admin-address, --kubeconfig) have the same names; --admin-address defaults to another port
 * (9465) so an operator and an ext_proc can share a host.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import { mergeSettings, settingsFromDocument } from '../render/settings-document.js';
import { FLAVOURS, resolveSettings, type Flavour, type OperatorSettings, type SettingsInput } from '../render/settings.js';
import { fail, parseBool, parseHostPort, parseLevel, parseSeconds, type HostPort, type LogLevel } from './parsers.js';

export interface OperatorConfig {
  /** Kubeconfig file; empty = in-cluster service account. */
  kubeconfig: string;
  /** Namespaces whose TokenPolicies are reconciled; empty = all. */
  namespaces: readonly string[];
  flavour: Flavour;
  /** The ext_proc Service the rendered Envoy configuration points at. */
  extProc: { name: string; namespace: string; port: number };
  /** Where the limits for the data plane are published. */
  limitsConfigMap: { namespace: string; name: string };
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  /** This replica's identity in the Lease (pod name; a random suffix is added at start). */
  identity: string;
  /** Every policy is reconciled again this often; 0 = never. */
  resyncMs: number;
  /** Keys the work queue processes at once. */
  concurrentReconciles: number;
  admin: HostPort;
  logLevel: LogLevel;
  /** Everything the renderers read: the --settings file, then the flags and environment above it, defaults filled. */
  settings: OperatorSettings;
}

interface OperatorOption {
  flag: string;
  env: string;
  fallback: string;
  help: string;
}

/** Flags the operator shares with extproc (parsed here with the operator's defaults). */
export const SHARED_FLAGS: readonly string[] = ['log-level', 'admin-address', 'kubeconfig'];

const OPTIONS = [
  { flag: 'settings', env: 'TOKENMETER_SETTINGS', fallback: '', help: 'YAML file of operator settings (flavour, extProc, istio, envoy, serviceMonitor, ...; see README); flags below override it' },
  { flag: 'namespaces', env: 'TOKENMETER_NAMESPACES', fallback: '', help: 'comma-separated namespaces to watch for TokenPolicies (empty: all)' },
  { flag: 'flavour', env: 'TOKENMETER_FLAVOUR', fallback: '', help: `Envoy to program: ${FLAVOURS.join('|')} (default: the settings file's, else EnvoyGateway)` },
  { flag: 'extproc-service', env: 'TOKENMETER_EXTPROC_SERVICE', fallback: '', help: 'the ext_proc Service as NAME.NAMESPACE:PORT (default: the settings file\'s, else tokenmeter.tokenmeter-system:50051)' },
  { flag: 'limits-configmap', env: 'TOKENMETER_LIMITS_CONFIGMAP', fallback: '', help: 'NAMESPACE/NAME of the limits ConfigMap (default: the ext_proc namespace/tokenmeter-policies)' },
  { flag: 'leader-elect', env: 'TOKENMETER_LEADER_ELECT', fallback: 'true', help: 'elect a leader with a coordination.k8s.io Lease (several replicas)' },
  { flag: 'lease-namespace', env: 'TOKENMETER_LEASE_NAMESPACE', fallback: '', help: 'namespace of the Lease "tokenmeter-operator" (default: the ext_proc namespace)' },
  { flag: 'resync', env: 'TOKENMETER_RESYNC', fallback: '300', help: 'seconds between full re-reconciles (0: never)' },
  { flag: 'concurrent-reconciles', env: 'TOKENMETER_CONCURRENT_RECONCILES', fallback: '8', help: 'TokenPolicies reconciled at the same time (1-64); the shared objects are published once per burst either way' },
] as const satisfies readonly OperatorOption[];

/** Flags only the operator accepts. */
export const OPERATOR_FLAGS: readonly string[] = OPTIONS.map((o) => o.flag);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function operatorUsage(): string[] {
  const admin = '  --admin-address          /healthz, /readyz, /metrics (env TOKENMETER_OPERATOR_ADMIN_ADDRESS, default "0.0.0.0:9465")';
  return [...OPTIONS.map((o) => `  --${o.flag.padEnd(22)} ${o.help} (env ${o.env}, default "${o.fallback}")`), admin];
}

type Env = Readonly<Record<string, string | undefined>>;

/** Builds the operator's config from parsed flag values and the environment. Throws TM_CONFIG_INVALID. */
export function operatorConfig(
  values: Readonly<Record<string, string | boolean | undefined>>, env: Env,
  readText: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): OperatorConfig {
  const read = (flag: string, envName: string, fallback: string): { raw: string; name: string } => {
    const v = values[flag];
    if (typeof v === 'string') return { raw: v, name: `--${flag}` };
    const e = env[envName];
    return e !== undefined ? { raw: e, name: envName } : { raw: fallback, name: `--${flag}` };
  };
  const opt = (flag: (typeof OPTIONS)[number]['flag']): { raw: string; name: string } => {
    const o = OPTIONS.find((x) => x.flag === flag) as OperatorOption;
    return read(o.flag, o.env, o.fallback);
  };
  const ns = opt('namespaces');
  const namespaces = ns.raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of namespaces) if (!DNS_LABEL.test(n)) fail(`${ns.name}: "${n}" is not a namespace name`);
  const settings = operatorSettings(opt, readText);
  const leaseNs = opt('lease-namespace').raw.trim() || settings.extProc.namespace;
  if (!DNS_LABEL.test(leaseNs)) fail(`--lease-namespace: "${leaseNs}" is not a namespace name`);
  const le = opt('leader-elect');
  const rs = opt('resync');
  const admin = read('admin-address', 'TOKENMETER_OPERATOR_ADMIN_ADDRESS', '0.0.0.0:9465');
  const level = read('log-level', 'TOKENMETER_LOG_LEVEL', 'info');
  return Object.freeze({
    kubeconfig: read('kubeconfig', 'TOKENMETER_KUBECONFIG', '').raw.trim(),
    namespaces: Object.freeze(namespaces),
    flavour: settings.flavour,
    extProc: Object.freeze({ name: settings.extProc.name, namespace: settings.extProc.namespace, port: settings.extProc.port }),
    limitsConfigMap: settings.limitsConfigMap,
    leaderElect: parseBool(le.raw, le.name),
    leaseNamespace: leaseNs,
    leaseName: 'tokenmeter-operator',
    identity: env.POD_NAME ?? env.HOSTNAME ?? 'tokenmeter-operator',
    resyncMs: parseSeconds(rs.raw, rs.name),
    concurrentReconciles: parseConcurrency(opt('concurrent-reconciles')),
    admin: parseHostPort(admin.raw, admin.name),
    logLevel: parseLevel(level.raw, level.name),
    settings,
  });
}

type Opt = (flag: (typeof OPTIONS)[number]['flag']) => { raw: string; name: string };

/** The settings file (if any), the flags and environment that override it, resolved and validated. */
function operatorSettings(opt: Opt, readText: (path: string) => string): OperatorSettings {
  const file = opt('settings');
  let input: SettingsInput = {};
  if (file.raw.trim() !== '') {
    const path = file.raw.trim();
    let doc: unknown;
    try {
      doc = parseYaml(readText(path));
    } catch (err) {
      throw new TokenmeterError(ErrorCodes.CONFIG_INVALID, `${file.name}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    input = settingsFromDocument(doc, path);
  }
  const over: SettingsInput = {};
  const fl = opt('flavour');
  if (fl.raw.trim() !== '') {
    if (!(FLAVOURS as readonly string[]).includes(fl.raw.trim())) fail(`${fl.name}: expected one of ${FLAVOURS.join(', ')}, got "${fl.raw}"`);
    over.flavour = fl.raw.trim() as Flavour;
  }
  const svc = opt('extproc-service');
  if (svc.raw.trim() !== '') over.extProc = parseService(svc);
  const cm = opt('limits-configmap');
  if (cm.raw.trim() !== '') over.limitsConfigMap = parseRef(cm);
  const merged = mergeSettings(input, over);
  // The limits ConfigMap follows the ext_proc namespace unless set (resolveSettings does the same).
  return resolveSettings(merged);
}

function parseConcurrency({ raw, name }: { raw: string; name: string }): number {
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || n < 1 || n > 64) fail(`${name}: expected a whole number 1-64, got "${raw}"`);
  return n;
}

function parseService({ raw, name }: { raw: string; name: string }): { name: string; namespace: string; port: number } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[5]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) fail(`${name}: expected NAME.NAMESPACE:PORT, got "${raw}"`);
  return { name: m[1] as string, namespace: m[3] as string, port };
}

function parseRef({ raw, name }: { raw: string; name: string }): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(raw.trim());
  if (!m) fail(`${name}: expected NAMESPACE/NAME, got "${raw}"`);
  return { namespace: m[1] as string, name: m[3] as string };
}
