import { describe, expect, it } from 'vitest';
import { parsePolicies } from './parse.js';
import { PolicyParseCache } from './parse-cache.js';

const doc = (name: string, tokens: number): string => `---\n${JSON.stringify({
  apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name, namespace: 'ns' },
  spec: { subject: { from: 'Header', name: 'x-t' }, limits: [{ name: 'l', tokens, window: '1m' }], overrides: [{ subject: 'a', limits: [{ name: 'l', tokens: tokens * 2 }] }] },
})}\n`;

describe('PolicyParseCache', () => {
  it('gives what parsePolicies gives, reusing the policy objects of documents that did not change', () => {
    const cache = new PolicyParseCache();
    const first = doc('a', 1) + doc('b', 2) + doc('c', 3);
    const r1 = cache.parse(first);
    expect(r1).toEqual(parsePolicies(first));
    const second = doc('a', 1) + doc('b', 20) + doc('c', 3);
    const r2 = cache.parse(second);
    expect(r2).toEqual(parsePolicies(second));
    expect(r2.policies[0]).toBe(r1.policies[0]);
    expect(r2.policies[1]).not.toBe(r1.policies[1]);
    expect(r2.policies[2]).toBe(r1.policies[2]);
  });

  it('falls back to the whole parse for errors, duplicates and hand-written YAML', () => {
    const cache = new PolicyParseCache();
    const broken = doc('a', 1) + doc('b', 0);
    expect(cache.parse(broken)).toEqual(parsePolicies(broken));
    expect(cache.parse(broken).errors[0]?.path).toBe('spec.limits[0].tokens');
    const dup = doc('a', 1) + doc('a', 2);
    expect(cache.parse(dup)).toEqual(parsePolicies(dup));
    const yaml = 'apiVersion: tokenmeter.dev/v1alpha1\nkind: TokenPolicy\nmetadata: {name: y}\nspec: {limits: [{name: l, tokens: 1, window: 1m}]}\n';
    expect(cache.parse(yaml)).toEqual(parsePolicies(yaml));
    expect(cache.parse('')).toEqual({ policies: [], errors: [] });
  });
});
