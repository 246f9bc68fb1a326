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
import { limitsAtScale } from '../test/helpers/limits-at-scale.js';

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

export function benchLimits(): LimitsRow {
  const example = parsePolicies(readFileSync(new URL('../../src/policy/testdata/team-budgets.yaml', import.meta.url), 'utf8')).policies[0] as TokenPolicy;
  const s = resolveSettings();
  const policies = limitsAtScale(example);
  const t0 = performance.now();
  const r = renderLimitsConfigMap(policies, s);
  const renderMs = performance.now() - t0;
  const maps = [r.configMap, ...r.shards];
  const sizes = maps.map((c) => Object.entries(c.data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0));
  const text = maps.map((c) => c.data['policies.yaml'] ?? '').join('');
  const cache = new PolicyParseCache();
  const t1 = performance.now();
  const first = cache.parse(text);
  const firstLoadMs = performance.now() - t1;
  if (first.errors.length > 0 || first.policies.length !== 1020) throw new Error('bench: the limits did not load whole');
  const edited = renderLimitsConfigMap(limitsAtScale(example, 7), s);
  const editedText = [edited.configMap, ...edited.shards].map((c) => c.data['policies.yaml'] ?? '').join('');
  const t2 = performance.now();
  cache.parse(editedText);
  const reloadAfterEditMs = performance.now() - t2;
  return {
    policies: 1020, overrides: 20_000, bytes: r.bytes, configMaps: maps.length, largestConfigMapBytes: Math.max(...sizes), renderMs, firstLoadMs, reloadAfterEditMs,
  };
}
