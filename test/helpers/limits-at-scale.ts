/**
 * The limits at the sizes the README states for sharded limits ConfigMaps: 1,000 policies shaped like the design
 * example (src/policy/testdata/team-budgets.yaml) plus 20 policies of 1,000 overrides each. Shared by the bench
 * ("Limits ConfigMaps") and the real-apiserver test that the shards are accepted where one ConfigMap is not.
 */
import { parsePolicies } from '../../src/policy/parse.js';
import type { TokenPolicy } from '../../src/policy/types.js';

/** Policy `name` with 1,000 overrides of its per-minute budget; `edited`: override 500 changed. */
export function policyWithOverrides(name: string, edited = false): TokenPolicy {
  const overrides = Array.from({ length: 1000 }, (_, i) => ({ subject: `tenant-${String(i).padStart(4, '0')}`, limits: [{ name: 'per-minute', tokens: edited && i === 500 ? 7 : 200_000 + i }] }));
  const doc = {
    apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name, namespace: 'llm' },
    spec: { subject: { from: 'Header', name: 'x-tenant-id' }, limits: [{ name: 'per-minute', tokens: 100_000, window: '1m' }, { name: 'daily', tokens: 1_000_000, window: 'Day' }], overrides },
  };
  const { policies, errors } = parsePolicies(JSON.stringify(doc));
  if (errors.length > 0 || !policies[0]) throw new Error(`limits-at-scale: ${JSON.stringify(errors)}`);
  return policies[0];
}

/**
 * 1,000 copies of `example` (the design example, which callers read: this file runs from test/ and from dist/) and
 * 20 policies with 1,000 overrides each; `editedBig`: that one of the 20 has override 500 changed.
 */
export function limitsAtScale(example: TokenPolicy, editedBig?: number): TokenPolicy[] {
  const small = Array.from({ length: 1000 }, (_, i) => ({ ...example, name: `team-${String(i).padStart(4, '0')}` }));
  const big = Array.from({ length: 20 }, (_, i) => policyWithOverrides(`big-${String(i).padStart(2, '0')}`, i === editedBig));
  return [...small, ...big];
}
