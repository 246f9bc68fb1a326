/**
 * The limits the operator publishes reach the data plane whatever their size: 1,000 policies plus 20 policies of
 * 1,000 overrides each are cut into ConfigMaps the API server accepts (1 MiB each), and the ConfigMap source loads a
 * published set only once every shard it lists is there with the listed content.
 */
import { describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject, WatchEvent } from '../k8s/client.js';
import { LIMITS_MAX_BYTES, renderLimitsConfigMap } from '../render/limits.js';
import type { RenderedConfigMap } from '../render/meta.js';
import { resolveSettings } from '../render/settings.js';
import { watchConfigMapPolicies } from './configmap-source.js';
import type { PolicySet } from './file-source.js';
import { parsePolicies } from './parse.js';
import type { TokenPolicy } from './types.js';

const S = resolveSettings();

function policy(name: string, overrides: number, tokens = 1000): TokenPolicy {
  const spec = {
    subject: { from: 'Header', name: 'x-tenant-id' },
    limits: [{ name: 'daily', tokens, window: 'Day' }, { name: 'per-minute', tokens: 100, window: '1m' }],
    overrides: Array.from({ length: overrides }, (_, i) => ({ subject: `tenant-${String(i).padStart(4, '0')}`, limits: [{ name: 'daily', tokens: 5000 + i }] })),
  };
  const { policies, errors } = parsePolicies(JSON.stringify({ apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name, namespace: 'llm' }, spec }));
  expect(errors).toEqual([]);
  return policies[0] as TokenPolicy;
}

/** What the API server counts against a ConfigMap's 1 MiB: keys and values of data. */
function dataBytes(cm: RenderedConfigMap): number {
  return Object.entries(cm.data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

/** A KubeClient whose list returns `initial` and whose watch events the test sends. */
function fakeClient(initial: RenderedConfigMap[]): { client: KubeClient; send: (e: WatchEvent) => void } {
  let onEvent: ((e: WatchEvent) => void) | undefined;
  const asObject = (c: RenderedConfigMap): KubeObject => ({ ...c, metadata: { ...c.metadata, resourceVersion: '1' } });
  const unused = (): never => {
    throw new Error('unexpected call');
  };
  const client: KubeClient = {
    list: <T extends KubeObject>() => Promise.resolve({ items: initial.map(asObject) as T[], resourceVersion: '1' }),
    watch: (_r, _o, handler) => {
      onEvent = handler;
      return { stop: () => undefined };
    },
    get: unused, create: unused, replace: unused, apply: unused, applyStatus: unused, delete: unused, createEvent: unused, resourceExists: unused,
  };
  return { client, send: (e) => onEvent?.(e) };
}

let rv = 1;
const event = (type: 'ADDED' | 'MODIFIED' | 'DELETED', c: RenderedConfigMap): WatchEvent =>
  ({ type, object: { ...c, metadata: { ...c.metadata, resourceVersion: String(++rv) } } as unknown as KubeObject });

describe('limits of 1,000 policies plus 20 × 1,000 overrides', () => {
  const small = Array.from({ length: 1000 }, (_, i) => policy(`team-${String(i).padStart(4, '0')}`, 0));
  const big = Array.from({ length: 20 }, (_, i) => policy(`big-${String(i).padStart(2, '0')}`, 1000));
  const render = renderLimitsConfigMap([...small, ...big], S);
  const all = [...render.shards, render.configMap];

  it('are cut into ConfigMaps of at most 1 MiB each, that list and carry every policy', () => {
    console.info(`[limits] ${render.bytes} bytes of policies in ${all.length} ConfigMaps (${all.map(dataBytes).join(', ')} bytes)`);
    expect(render.shards.length).toBeGreaterThanOrEqual(2);
    for (const cm of all) expect(dataBytes(cm)).toBeLessThanOrEqual(LIMITS_MAX_BYTES);
    expect(render.configMap.data.shards?.trim().split('\n')).toHaveLength(render.shards.length);
  });

  it('load only once every listed shard is there, whole', async () => {
    const { client, send } = fakeClient([render.configMap, ...render.shards.slice(1)]);
    const changes: [PolicySet, string | undefined][] = [];
    const source = await watchConfigMapPolicies({ client, namespace: S.limitsConfigMap.namespace, name: S.limitsConfigMap.name, onChange: (set, v) => changes.push([set, v]), syncTimeoutMs: 2000 });
    expect(source.current.policies).toEqual([]); // the first shard is missing: nothing half-loaded
    const first = render.shards[0] as RenderedConfigMap;
    send(event('ADDED', { ...first, data: { 'policies.yaml': `${first.data['policies.yaml'] ?? ''}\n` } })); // not the listed content
    expect(changes).toEqual([]);
    const t0 = performance.now();
    send(event('MODIFIED', first));
    const loadMs = performance.now() - t0;
    expect(changes).toHaveLength(1);
    expect(changes[0]?.[0].policies).toHaveLength(1020);
    expect(changes[0]?.[1]).toBe(render.version);

    // An edit of one override: the new shard arrives first, then the list naming it; only then is it loaded.
    const edited = big.map((p) => (p.name === 'big-12' ? policy('big-12', 1000, 999) : p));
    const next = renderLimitsConfigMap([...small, ...edited], S);
    const added = next.shards.filter((c) => !render.shards.some((o) => o.metadata.name === c.metadata.name));
    const mainChanged = next.configMap.data['policies.yaml'] !== render.configMap.data['policies.yaml'];
    expect(added.length + (mainChanged ? 1 : 0)).toBe(1); // the chunk holding the edited policy, nothing else
    for (const c of added) send(event('ADDED', c));
    expect(changes).toHaveLength(1);
    const t1 = performance.now();
    send(event('MODIFIED', next.configMap));
    const editMs = performance.now() - t1;
    expect(changes).toHaveLength(2);
    const reloaded = changes[1]?.[0].policies.find((p) => p.name === 'big-12');
    expect(reloaded?.limits[0]).toMatchObject({ name: 'daily', tokens: 999 });
    expect(changes[1]?.[0].policies.find((p) => p.name === 'big-08')).toBe(changes[0]?.[0].policies.find((p) => p.name === 'big-08'));
    console.info(`[limits] first load ${loadMs.toFixed(0)} ms, reload after editing one policy ${editMs.toFixed(0)} ms`);
    source.close();
  });
});
