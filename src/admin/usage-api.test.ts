import { describe, expect, it } from 'vitest';
import { parsePolicies } from '../policy/parse.js';
import { subjectFor, type SubjectInput } from '../policy/subject.js';
import type { TokenPolicy } from '../policy/types.js';
import { findPolicy, subjectKeyOf } from './usage-api.js';

function policy(subject: string, meta = '{name: p}'): TokenPolicy {
  const { policies, errors } = parsePolicies(`apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: ${meta}
spec:
  ${subject}
  limits: [{name: l, tokens: 10, window: 1m}]
`);
  expect(errors).toEqual([]);
  return policies[0] as TokenPolicy;
}

const jwt = (payload: unknown): string => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

describe('subjectKeyOf: the same counter key the limiter derives from a request', () => {
  const cases: [string, string, SubjectInput][] = [
    ['subject: {from: Header, name: x-tenant-id}', 'acme', { headers: { 'x-tenant-id': ' acme ' }, path: '/' }],
    ['subject: {from: Header, name: x-tenant-id}', 'Team {A} with spaces', { headers: { 'x-tenant-id': 'Team {A} with spaces' }, path: '/' }],
    ['subject: {from: Header, name: x-tenant-id}', 'x'.repeat(80), { headers: { 'x-tenant-id': 'x'.repeat(80) }, path: '/' }],
    ['subject: {from: ClientIP}', '10.1.2.3', { headers: {}, path: '/', sourceAddress: '10.1.2.3:5555' }],
    ['subject: {from: ClientIP}', '[2001:DB8::1]:443', { headers: {}, path: '/', sourceAddress: '[2001:db8::1]:1234' }],
    ['subject: {from: ClientIP}', '::ffff:192.0.2.7', { headers: {}, path: '/', sourceAddress: '192.0.2.7:80' }],
    ['subject: {from: APIKey}', 'sk-abc', { headers: { authorization: 'Bearer sk-abc' }, path: '/' }],
    ['subject: {from: APIKey}', 'AIzaKey', { headers: {}, path: '/v1beta/models/m:generateContent?key=AIzaKey' }],
    ['subject: {from: JWTClaim, name: org.id}', 'org-7', { headers: { authorization: `Bearer ${jwt({ org: { id: 'org-7' } })}` }, path: '/' }],
    ['subject: {from: JWTClaim, name: tier}', '42', { headers: { authorization: `Bearer ${jwt({ tier: 42 })}` }, path: '/' }],
    ['subject: {from: JWTClaim, name: name}', 'Ada Lovelace', { headers: { authorization: `Bearer ${jwt({ name: 'Ada Lovelace' })}` }, path: '/' }],
  ];

  it.each(cases)('%s, value %s', (subject, value, request) => {
    const p = policy(subject);
    const fromRequest = subjectFor(p.subject, request);
    expect(fromRequest.kind).toBe('key');
    expect(subjectKeyOf(p, value, false)).toEqual({ ok: true, value: fromRequest.kind === 'key' ? fromRequest.key : '' });
  });

  it('never returns the API key itself', () => {
    const key = subjectKeyOf(policy('subject: {from: APIKey}'), 'sk-secret', false);
    expect(key.ok && key.value).toMatch(/^#[0-9a-f]{32}$/);
  });

  it('shared budget, policy without subject, missing value, bad IP', () => {
    const shared = policy('subject: {from: Header, name: x-t, onMissing: Shared}');
    const anon = subjectFor(shared.subject, { headers: {}, path: '/' });
    expect(subjectKeyOf(shared, undefined, true)).toEqual({ ok: true, value: anon.kind === 'key' ? anon.key : '' });
    const global = policy('match: {paths: [/v1]}');
    const all = subjectFor(global.subject, { headers: {}, path: '/' });
    expect(subjectKeyOf(global, undefined, false)).toEqual({ ok: true, value: all.kind === 'key' ? all.key : '' });
    expect(subjectKeyOf(shared, '  ', false)).toMatchObject({ ok: false, status: 400 });
    expect(subjectKeyOf(policy('subject: {from: ClientIP}'), 'not-an-ip', false)).toMatchObject({ ok: false, status: 400 });
  });
});

describe('findPolicy', () => {
  const a = policy('match: {paths: [/v1]}', '{name: p, namespace: a}');
  const b = policy('match: {paths: [/v1]}', '{name: p, namespace: b}');
  const plain = policy('match: {paths: [/v1]}', '{name: q}');

  it('by name, NS/NAME or namespace=, and asks for a namespace when ambiguous', () => {
    expect(findPolicy([a, plain], 'p', undefined)).toEqual({ ok: true, value: a });
    expect(findPolicy([a, b], 'b/p', undefined)).toEqual({ ok: true, value: b });
    expect(findPolicy([a, b], 'p', 'a')).toEqual({ ok: true, value: a });
    expect(findPolicy([a, b], 'p', undefined)).toMatchObject({ ok: false, status: 400 });
    expect(findPolicy([a, b], 'p', 'c')).toMatchObject({ ok: false, status: 404 });
    expect(findPolicy([a, plain], 'q', undefined)).toEqual({ ok: true, value: plain });
  });
});
