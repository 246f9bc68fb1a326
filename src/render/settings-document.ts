/**
 * The operator settings file (`tokenmeter operator --settings FILE`, the Helm chart's ConfigMap): a parsed YAML
 * document checked against the shape of SettingsInput before `resolveSettings` fills defaults. Unknown keys are
 * errors, not ignored — a misspelt `failopen` silently keeping the default is the kind of surprise a settings file
 * must not have. Pure: the caller reads and parses the file.
 */
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import type { SettingsInput } from './settings.js';

type Kind = 'string' | 'number' | 'boolean' | 'labels' | { [key: string]: Kind };

/** Every key the file may hold, and its type. */
const SHAPE: { [key: string]: Kind } = {
  flavour: 'string',
  extProc: { name: 'string', namespace: 'string', port: 'number', adminPort: 'number', adminPortName: 'string', labels: 'labels' },
  messageTimeout: 'string',
  failOpen: 'boolean',
  maxRequests: 'number',
  envoyGateway: { rateLimit: 'string', mergeType: 'string', configMap: { namespace: 'string', name: 'string' } },
  istio: { namespace: 'string', workloadSelector: 'labels', name: 'string' },
  envoy: { configMapName: 'string', namespace: 'string', clusterName: 'string', address: 'string' },
  labels: 'labels',
  limitsConfigMap: { name: 'string', namespace: 'string' },
  serviceMonitor: { enabled: 'boolean', name: 'string', interval: 'string', labels: 'labels' },
  clusterDomain: 'string',
};

function fail(source: string, message: string): never {
  throw new TokenmeterError(ErrorCodes.CONFIG_INVALID, `${source}: ${message.replace(/^: /, '')}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function check(value: unknown, kind: Kind, path: string, source: string): void {
  if (kind === 'labels') {
    if (!isRecord(value)) fail(source, `${path}: expected a map of strings`);
    for (const [k, v] of Object.entries(value)) if (typeof v !== 'string') fail(source, `${path}.${k}: expected a string, got ${JSON.stringify(v)}`);
    return;
  }
  if (typeof kind === 'string') {
    if (typeof value !== kind) fail(source, `${path}: expected a ${kind}, got ${JSON.stringify(value)}`);
    return;
  }
  if (!isRecord(value)) fail(source, `${path}: expected a map`);
  for (const [k, v] of Object.entries(value)) {
    const sub = kind[k];
    const where = path ? `${path}.${k}` : k;
    if (sub === undefined) fail(source, `${where}: unknown key (known: ${Object.keys(kind).join(', ')})`);
    if (v !== null) check(v, sub, where, source);
  }
}

/**
 * The settings a parsed YAML document holds. An empty document (null) is no settings. Throws TM_CONFIG_INVALID
 * naming `source` and the offending key. Null values mean "not set" (YAML `key:` with nothing after it).
 */
export function settingsFromDocument(doc: unknown, source: string): SettingsInput {
  if (doc === null || doc === undefined) return {};
  check(doc, SHAPE, '', source);
  return dropNulls(doc) as SettingsInput;
}

function dropNulls(v: unknown): unknown {
  if (!isRecord(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, dropNulls(x)]));
}

/** `base` with `over`'s keys set: nested maps merged one level deep (labels maps replaced whole). */
export function mergeSettings(base: SettingsInput, over: SettingsInput): SettingsInput {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) && SHAPE[k] !== 'labels' ? { ...b, ...v } : v;
  }
  return out;
}
