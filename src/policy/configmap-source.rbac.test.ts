/**
 * The ext_proc's ConfigMap source uses only what EXTPROC_RULES grant (the chart renders the Role from them).
 */
import { describe, expect, it } from 'vitest';
import type { KubeClient, WatchHandle } from '../k8s/client.js';
import { EXTPROC_RULES } from '../operator/rbac.js';
import { watchConfigMapPolicies } from './configmap-source.js';

describe('ext_proc RBAC', () => {
  it('reads the limits ConfigMap with verbs EXTPROC_RULES allow, in one namespace', async () => {
    const calls: { verb: string; kind: string; namespace?: string }[] = [];
    const unused = (verb: string) => (): never => {
      throw new Error(`unexpected ${verb}`);
    };
    const client: KubeClient = {
      get: (ref) => {
        calls.push({ verb: 'get', kind: ref.kind, namespace: ref.namespace });
        return Promise.resolve(undefined);
      },
      list: (res, opts) => {
        calls.push({ verb: 'list', kind: res.kind, namespace: opts?.namespace });
        return Promise.resolve({ items: [], resourceVersion: '1' });
      },
      watch: (res, opts): WatchHandle => {
        calls.push({ verb: 'watch', kind: res.kind, namespace: opts.namespace });
        return { stop: () => undefined };
      },
      create: unused('create'), replace: unused('replace'), apply: unused('apply'), applyStatus: unused('applyStatus'),
      delete: unused('delete'), createEvent: unused('createEvent'), resourceExists: unused('resourceExists'),
    };
    const source = await watchConfigMapPolicies({ client, namespace: 'tokenmeter-system', name: 'tokenmeter-policies', onChange: () => undefined, syncTimeoutMs: 500 });
    await new Promise((r) => setTimeout(r, 50));
    source.close();
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) {
      expect(c.kind).toBe('ConfigMap');
      expect(c.namespace).toBe('tokenmeter-system');
      expect(EXTPROC_RULES.some((r) => r.apiGroups.includes('') && r.resources.includes('configmaps') && r.verbs.includes(c.verb))).toBe(true);
    }
  });
});
