/**
 * The README's plain-Envoy snippet ("Pointing Envoy at it") is what the operator renders for the same settings: the
 * processing modes, the message timeout, the request attributes (source.address for ClientIP subjects, xds.route_name
 * for targetRefs), the metadata namespace. A README that drifts from the renderer tells users to configure an Envoy
 * tokenmeter does not expect.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { extProcFilterConfig } from '../../src/render/ext-proc-filter.js';
import { resolveSettings } from '../../src/render/settings.js';
import { RENDERED_FILTER } from '../../src/envoy/filter-facts.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function snippet(): { http_filters: { name: string; typed_config: Record<string, unknown> }[]; clusters: { load_assignment: unknown }[] } {
  const section = README.slice(README.indexOf('## Pointing Envoy at it'));
  const m = /```yaml\n([\s\S]*?)```/.exec(section);
  if (!m?.[1]) throw new Error('no yaml block in "Pointing Envoy at it"');
  return parse(m[1]) as ReturnType<typeof snippet>;
}

describe('README: the plain-Envoy snippet', () => {
  it('configures the filter as the operator renders it', () => {
    const rendered = extProcFilterConfig(resolveSettings({ flavour: 'Envoy' }), 'tokenmeter');
    const cfg = snippet().http_filters.find((f) => f.name === 'envoy.filters.http.ext_proc')?.typed_config ?? {};
    for (const key of ['@type', 'failure_mode_allow', 'message_timeout', 'allow_mode_override', 'processing_mode', 'request_attributes', 'metadata_options'] as const) {
      expect(cfg[key], key).toEqual(rendered[key]);
    }
    expect(Number.parseFloat(String(cfg.message_timeout)) * 1000).toBe(RENDERED_FILTER.messageTimeoutMs);
  });
  it('points the cluster at a headless Service, so Envoy spreads its streams over the replicas', () => {
    expect(JSON.stringify(snippet().clusters[0]?.load_assignment)).toContain('headless');
  });
});
