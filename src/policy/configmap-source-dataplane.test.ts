/**
 * The data-plane document (filter facts, route index) travels with the limits: a ConfigMap whose dataplane.json alone
 * changed is loaded (new version, new document); a malformed document keeps the last good one.
 */
import { describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject, WatchEvent } from '../k8s/client.js';
import { formatDataPlaneDoc } from '../envoy/data-plane.js';
import { RENDERED_FILTER } from '../envoy/filter-facts.js';
import { watchConfigMapPolicies } from './configmap-source.js';

const POLICY = '{"apiVersion":"tokenmeter.dev/v1alpha1","kind":"TokenPolicy","metadata":{"name":"p","namespace":"a"},"spec":{"limits":[{"name":"l","tokens":5,"window":"1m"}]}}\n';
const doc = (routes: Record<string, string[]>): string => formatDataPlaneDoc({ filter: RENDERED_FILTER, routes: { routes, ruleNames: {} } });
const configMap = (rv: string, version: string, dataplane: string): KubeObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'limits', namespace: 'ns', resourceVersion: rv },
  data: { 'policies.yaml': POLICY, version, 'dataplane.json': dataplane },
});

describe('the ConfigMap source and dataplane.json', () => {
  it('loads a change of the document alone, and keeps the last good one over a malformed one', async () => {
    let emit: ((e: WatchEvent) => void) | undefined;
    const unused = (): never => {
      throw new Error('unexpected');
    };
    const client: KubeClient = {
      get: unused, create: unused, replace: unused, apply: unused, applyStatus: unused, delete: unused, createEvent: unused, resourceExists: unused,
      list: <T extends KubeObject>() => Promise.resolve({ items: [configMap('1', 'v1', doc({ 'HTTPRoute/a/x': ['a/p'] }))] as T[], resourceVersion: '1' }),
      watch: (_r, _o, onEvent) => {
        emit = onEvent;
        return { stop: () => undefined };
      },
    };
    const versions: (string | undefined)[] = [];
    const source = await watchConfigMapPolicies({ client, namespace: 'ns', name: 'limits', onChange: (_s, v) => versions.push(v), syncTimeoutMs: 1000 });
    try {
      expect(source.dataPlane?.routes.routes).toEqual({ 'HTTPRoute/a/x': ['a/p'] });
      for (let i = 0; i < 50 && !emit; i++) await new Promise((r) => setTimeout(r, 10));
      emit?.({ type: 'MODIFIED', object: configMap('2', 'v2', doc({ 'HTTPRoute/a/y': ['a/p'] })) });
      expect(versions).toEqual(['v2']);
      expect(source.version).toBe('v2');
      expect(source.dataPlane?.routes.routes).toEqual({ 'HTTPRoute/a/y': ['a/p'] });
      emit?.({ type: 'MODIFIED', object: configMap('3', 'v3', '{"broken"') });
      expect(source.dataPlane?.routes.routes).toEqual({ 'HTTPRoute/a/y': ['a/p'] });
    } finally {
      source.close();
    }
  });
});
