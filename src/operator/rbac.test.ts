import { describe, expect, it } from 'vitest';
import { rbacVerbs, type Call } from '../../test/helpers/fake-kube.js';
import { OPERATOR_RULES, allowed, resourceOf } from './rbac.js';

describe('OPERATOR_RULES', () => {
  it('allow what the reconciler does and nothing broader than named resources', () => {
    expect(allowed('tokenmeter.dev', 'tokenpolicies/status', 'patch')).toBe(true);
    expect(allowed('tokenmeter.dev', 'tokenpolicies', 'patch')).toBe(false);
    expect(allowed('', 'configmaps', 'patch')).toBe(true);
    expect(allowed('', 'secrets', 'get')).toBe(false);
    expect(allowed('gateway.networking.k8s.io', 'gateways', 'patch')).toBe(false);
    expect(allowed('events.k8s.io', 'events', 'create')).toBe(true);
    expect(allowed('coordination.k8s.io', 'leases', 'update')).toBe(true);
    for (const r of OPERATOR_RULES) {
      expect(r.resources).not.toContain('*');
      expect(r.verbs).not.toContain('*');
      expect(r.apiGroups).not.toContain('*');
    }
  });

  it('map kinds to resources and calls to verbs (a server-side apply needs create and patch)', () => {
    expect(resourceOf('gateway.envoyproxy.io/v1alpha1', 'EnvoyExtensionPolicy')).toEqual({ group: 'gateway.envoyproxy.io', resource: 'envoyextensionpolicies' });
    expect(resourceOf('v1', 'ConfigMap')).toEqual({ group: '', resource: 'configmaps' });
    expect(resourceOf('v1', 'Secret')).toBeUndefined();
    const call = (verb: Call['verb']): Call => ({ verb, apiVersion: 'v1', kind: 'ConfigMap' });
    expect(rbacVerbs(call('apply'))).toEqual(['create', 'patch']);
    expect(rbacVerbs(call('applyStatus'))).toEqual(['patch']);
    expect(rbacVerbs(call('replace'))).toEqual(['update']);
    expect(rbacVerbs(call('list'))).toEqual(['list']);
  });
});
