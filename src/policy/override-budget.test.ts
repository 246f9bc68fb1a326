import { describe, expect, it } from 'vitest';
import { overrideBudget } from './override-budget.js';
import { parsePolicies } from './parse.js';
import { hashKey, logIdOf } from './subject.js';
import type { TokenPolicy } from './types.js';

describe('a subject\'s own budget in the listings', () => {
  const policy = (subject: string, override: string): TokenPolicy => parsePolicies(`apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: p}
spec:
  subject: ${subject}
  limits: [{name: daily, tokens: 1000, window: Day}]
  overrides: [{subject: "${override}", limits: [{name: daily, tokens: 5000}]}]
`).policies[0] as TokenPolicy;

  it('finds the override of an API key (written as its log id) from the key the listing shows', () => {
    const key = hashKey('sk-some-key');
    const p = policy('{from: APIKey}', logIdOf(key));
    expect(overrideBudget(p, 'daily', key)).toBe(5000);
    expect(overrideBudget(p, 'daily', hashKey('sk-another-key'))).toBeUndefined();
  });

  it('finds a hashed subject (hashInLedger, client addresses) by the hash the listing shows', () => {
    expect(overrideBudget(policy('{from: Header, name: x-tenant-id, hashInLedger: true}', 'acme'), 'daily', hashKey('acme'))).toBe(5000);
    expect(overrideBudget(policy('{from: ClientIP}', '10.0.0.7'), 'daily', hashKey('10.0.0.7'))).toBe(5000);
    expect(overrideBudget(policy('{from: Header, name: x-tenant-id}', 'acme'), 'daily', 'acme')).toBe(5000);
  });
});
