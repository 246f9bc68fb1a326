/**
 * The limits at the size the README states (1,000 policies plus 20 of 1,000 overrides each) against a real
 * kube-apiserver (v1.20.2): the ConfigMaps the operator cuts them into are each accepted, and the same limits in one
 * ConfigMap are refused for the API server's 1 MiB bound — the refusal the fake API server of the fast tier
 * (test/helpers/fake-apiserver-store.ts) emulates, in the same words.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KubeClient } from '../../src/k8s/client.js';
import { parsePolicies } from '../../src/policy/parse.js';
import type { TokenPolicy } from '../../src/policy/types.js';
import { renderLimitsConfigMap } from '../../src/render/limits.js';
import { resolveSettings } from '../../src/render/settings.js';
import { CONFIGMAP_MAX_BYTES } from '../helpers/fake-apiserver-store.js';
import { describeApiServer, startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { limitsAtScale } from '../helpers/limits-at-scale.js';

describeApiServer('limits ConfigMaps at 1,000 policies plus 20 × 1,000 overrides on kube-apiserver 1.20', () => {
  let api: KubeApiServer;
  let admin: KubeClient;
  const s = resolveSettings();
  const { name, namespace } = s.limitsConfigMap;
  const example = parsePolicies(readFileSync(new URL('../../src/policy/testdata/team-budgets.yaml', import.meta.url), 'utf8')).policies[0] as TokenPolicy;
  const render = renderLimitsConfigMap(limitsAtScale(example), s);

  beforeAll(async () => {
    api = await startKubeApiServer();
    admin = api.client();
    await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
  }, 60_000);

  it('accepts every ConfigMap of the sharded limits', async () => {
    expect(render.shards.length).toBeGreaterThanOrEqual(1);
    expect(render.bytes).toBeGreaterThan(CONFIGMAP_MAX_BYTES);
    for (const cm of [...render.shards, render.configMap]) await admin.create(cm);
    const stored = await admin.list({ apiVersion: 'v1', kind: 'ConfigMap' }, { namespace });
    expect(stored.items.filter((c) => c.metadata.name.startsWith(name)).length).toBe(render.shards.length + 1);
  });

  it('refuses the same limits in one ConfigMap, with the words the fake API server uses', async () => {
    const whole = [render.configMap, ...render.shards].map((c) => c.data['policies.yaml'] ?? '').join('');
    let message = '';
    try {
      await admin.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-whole`, namespace }, data: { 'policies.yaml': whole } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`Too long: must have at most ${CONFIGMAP_MAX_BYTES} bytes`);
  });
});
