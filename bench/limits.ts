/**
 * The published limits at the sizes the README states: 1,000 policies (the design example's shape) plus 20 policies
 * of 1,000 overrides each, rendered by the operator into ConfigMaps (src/render/limits.ts) and loaded by an ext_proc
 * (src/policy/parse-cache.ts): bytes, ConfigMaps, the largest one, render time, first load, and the reload after one
 * override changed. In this process; returns a row, prints nothing.
 */
import { readFileSync } from 'node:fs';
import { PolicyParseCache } from '../src/policy/parse-cache.js';
import { parsePolicies } from '../src/policy/parse.js';
import type { TokenPolicy } from '../src/policy/types.js';
import { renderLimitsConfigMap } from '../src/render/limits.js';
import { resolveSettings } from '../src/render/settings.js';

export interface LimitsRow {
  policies: number;
  overrides: number;
  bytes: number;
  configMaps: number;
  largestConfigMapBytes: number;
  renderMs: number;
  firstLoadMs: number;
  reloadAfterEditMs: number;
}

function big(name: string, edited: boolean): TokenPolicy {
  const overrides = Array.from({ length: 1000 }, (_, i) => ({ subject: `tenant-${String(i).padStart(4, '0')}`, limits: [{ name: 'per-minute', tokens: edited && i === 500 ? 7 : 200_000 + i }] }));
  const doc = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name, namespace: 'llm' }, spec: { subject: { from: 'Header', name: 'x-tenant-id' }, limits: [{ name: 'per-minute', tokens: 100_000, window: '1m' }, { name: 'daily', tokens: 1_000_000, window: 'Day' }], overrides } };
  return parsePolicies(JSON.stringify(doc)).policies[0] as TokenPolicy;
}

export function benchLimits(): LimitsRow {
  const example = parsePolicies(readFileSync(new URL('../../src/policy/testdata/team-budgets.yaml', import.meta.url), 'utf8')).policies[0] as TokenPolicy;
  const small = Array.from({ length: 1000 }, (_, i) => ({ ...example, name: `team-${String(i).padStart(4, '0')}` }));
  const bigs = Array.from({ length: 20 }, (_, i) => big(`big-${String(i).padStart(2, '0')}`, false));
  const s = resolveSettings();
  const t0 = performance.now();
  const r = renderLimitsConfigMap([...small, ...bigs], s);
  const renderMs = performance.now() - t0;
  const maps = [r.configMap, ...r.shards];
  const sizes = maps.map((c) => Object.entries(c.data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0));
  const text = maps.map((c) => c.data['policies.yaml'] ?? '').join('');
  const cache = new PolicyParseCache();
  const t1 = performance.now();
  const first = cache.parse(text);
  const firstLoadMs = performance.now() - t1;
  if (first.errors.length > 0 || first.policies.length !== 1020) throw new Error('bench: the limits did not load whole');
  const edited = renderLimitsConfigMap([...small, ...bigs.map((p, i) => (i === 7 ? big(p.name, true) : p))], s);
  const editedText = [edited.configMap, ...edited.shards].map((c) => c.data['policies.yaml'] ?? '').join('');
  const t2 = performance.now();
  cache.parse(editedText);
  const reloadAfterEditMs = performance.now() - t2;
  return {
    policies: 1020, overrides: 20_000, bytes: r.bytes, configMaps: maps.length, largestConfigMapBytes: Math.max(...sizes), renderMs, firstLoadMs, reloadAfterEditMs,
  };
}
