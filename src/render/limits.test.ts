import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaErrors } from '../../test/helpers/schemas.js';
import { parsePolicies } from '../policy/parse.js';
import type { TokenPolicy } from '../policy/types.js';
import { limitsYaml, LIMITS_MAX_BYTES, renderLimitsConfigMap } from './limits.js';
import { resolveSettings } from './settings.js';

const POLICIES = parsePolicies(readFileSync(new URL('./testdata/policies.yaml', import.meta.url), 'utf8')).policies;
const S = resolveSettings();

/** What the API server counts against a ConfigMap's 1 MiB: keys and values of data. */
function dataBytes(cm: { data: Record<string, string> }): number {
  return Object.entries(cm.data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

function reversed(ps: readonly TokenPolicy[]): TokenPolicy[] {
  return [...ps].reverse();
}

describe('renderLimitsConfigMap', () => {
  it('renders a valid ConfigMap in the configured name and namespace', () => {
    const { configMap, version } = renderLimitsConfigMap(POLICIES, resolveSettings({ limitsConfigMap: { name: 'limits', namespace: 'llm' } }));
    expect(schemaErrors(configMap)).toEqual([]);
    expect(configMap.metadata).toEqual({
      name: 'limits', namespace: 'llm',
      labels: { 'app.kubernetes.io/managed-by': 'tokenmeter-operator' },
      annotations: { 'tokenmeter.dev/policies-version': version },
    });
    expect(Object.keys(configMap.data)).toEqual(['policies.yaml', 'version']);
  });

  it('defaults to tokenmeter-policies beside the ext_proc Service', () => {
    expect(renderLimitsConfigMap([], resolveSettings({ extProc: { namespace: 'gw' } })).configMap.metadata).toMatchObject({ name: 'tokenmeter-policies', namespace: 'gw' });
  });

  it('policies.yaml is what `tokenmeter extproc --policies` reads: parsing it gives the policies back, sorted by namespace/name', () => {
    const { configMap, policies } = renderLimitsConfigMap(POLICIES, S);
    const back = parsePolicies(configMap.data['policies.yaml'] ?? '');
    expect(back.errors).toEqual([]);
    const expected = [...POLICIES].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    expect(back.policies).toEqual(expected);
    expect(policies).toEqual([
      'llm-gateway/api-keys', 'llm-gateway/team-budgets', 'team-a/jwt-org', 'team-a/shared-global', 'team-b/hosts-only', 'tokenmeter-system/per-ip',
    ]);
  });

  it('version is the first 16 hex digits of the sha256 of policies.yaml', () => {
    const { configMap, version } = renderLimitsConfigMap(POLICIES, S);
    const yaml = configMap.data['policies.yaml'] ?? '';
    expect(version).toBe(createHash('sha256').update(yaml).digest('hex').slice(0, 16));
    expect(configMap.data.version).toBe(version);
    expect(yaml).toBe(limitsYaml(POLICIES));
  });

  it('is deterministic: same policies in any order give identical objects', () => {
    const a = renderLimitsConfigMap(POLICIES, S);
    expect(renderLimitsConfigMap(reversed(POLICIES), S)).toEqual(a);
    expect(JSON.stringify(renderLimitsConfigMap(structuredClone(POLICIES), S))).toBe(JSON.stringify(a));
  });

  it('changes version when any policy changes, and only then', () => {
    const base = renderLimitsConfigMap(POLICIES, S).version;
    const edited = POLICIES.map((p) => (p.name === 'per-ip' ? { ...p, enforcement: { ...p.enforcement, mode: 'Enforce' as const } } : p));
    expect(renderLimitsConfigMap(edited, S).version).not.toBe(base);
    expect(renderLimitsConfigMap(POLICIES.slice(1), S).version).not.toBe(base);
    expect(renderLimitsConfigMap(POLICIES, resolveSettings({ failOpen: false })).version).toBe(base);
  });

  it('renders an empty policy set as an empty file the ext_proc loads as "no budgets"', () => {
    const r = renderLimitsConfigMap([], S);
    expect(r.configMap.data['policies.yaml']).toBe('');
    expect(parsePolicies('')).toEqual({ policies: [], errors: [] });
    expect(r.bytes).toBe(0);
    expect(schemaErrors(r.configMap)).toEqual([]);
  });

  it('1,000 policies like the design example are cut into shards, each within the 1 MiB a ConfigMap holds', () => {
    const example = parsePolicies(readFileSync(new URL('../policy/testdata/team-budgets.yaml', import.meta.url), 'utf8')).policies[0] as TokenPolicy;
    const many = Array.from({ length: 1000 }, (_, i) => ({ ...example, name: `team-${String(i).padStart(4, '0')}` }));
    const r = renderLimitsConfigMap(many, S);
    expect(r.shards.length).toBeGreaterThanOrEqual(1);
    for (const cm of [r.configMap, ...r.shards]) expect(dataBytes(cm)).toBeLessThanOrEqual(LIMITS_MAX_BYTES);
    const text = [r.configMap, ...r.shards].map((c) => c.data['policies.yaml'] ?? '').join('');
    expect(text).toBe(limitsYaml(many));
    expect(parsePolicies(text).policies).toHaveLength(1000);
  });
});
