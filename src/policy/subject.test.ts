import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Subject } from './types.js';
import {
  GLOBAL_KEY, SHARED_KEY, hashKey, logIdOf, modelKey, normaliseIp, subjectFor, subjectValue, unverifiedJwtPayload, valueKey, type SubjectInput,
} from './subject.js';

const input = (headers: Record<string, string> = {}, over: Partial<SubjectInput> = {}): SubjectInput => ({
  headers, path: '/v1/chat/completions', sourceAddress: '203.0.113.9:51234', ...over,
});

const sha = (s: string): string => `#${createHash('sha256').update(s).digest('hex').slice(0, 32)}`;

function jwt(payload: object): string {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(payload)}.c2lnbmF0dXJl`;
}

const header: Subject = { from: 'Header', header: 'x-tenant-id', onMissing: 'Reject' };
const apiKey: Subject = { from: 'APIKey', onMissing: 'Reject' };
const ip = (trustedProxyHops: number): Subject => ({ from: 'ClientIP', trustedProxyHops, onMissing: 'Reject' });
const claim = (path: string): Subject => ({ from: 'JWTClaim', claim: path, onMissing: 'Reject' });

describe('keys', () => {
  it.each([
    ['acme', 'acme'], ['team.a-1@x:y+z=', 'team.a-1@x:y+z='], ['a'.repeat(64), 'a'.repeat(64)],
    ['a'.repeat(65), sha('a'.repeat(65))], ['has space', sha('has space')], ['{tag}', sha('{tag}')], ['é', sha('é')],
  ])('value %j → key %j', (value, want) => {
    expect(valueKey(value)).toBe(want);
  });

  it.each([
    ['gpt-4o-2024-08-06', 'gpt-4o'], ['openai/GPT-4o', 'gpt-4o'], ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['models/gemini-2.5-flash', 'gemini-2.5-flash'], [undefined, '(none)'], ['', '(none)'], ['x'.repeat(80), hashKey('x'.repeat(80))],
  ])('model %j → per-model key %j', (model, want) => {
    expect(modelKey(model)).toBe(want);
  });

  it('hashes to # + 32 hex digits and logs a different short id', () => {
    expect(hashKey('sk-secret')).toMatch(/^#[0-9a-f]{32}$/);
    expect(logIdOf('acme')).toMatch(/^[0-9a-f]{16}$/);
    expect(logIdOf('acme')).not.toContain('acme');
  });
});

describe('Header', () => {
  it.each<[Record<string, string>, unknown]>([
    [{ 'x-tenant-id': 'acme' }, { missing: false, key: 'acme' }],
    [{ 'x-tenant-id': '  acme ' }, { missing: false, key: 'acme' }],
    [{ 'x-tenant-id': 'A Long Tenant Name' }, { missing: false, key: sha('A Long Tenant Name') }],
    [{ 'x-tenant-id': '' }, { missing: true, status: 400, message: 'missing request header x-tenant-id (it selects the token budget)' }],
    [{}, { missing: true, status: 400, message: 'missing request header x-tenant-id (it selects the token budget)' }],
  ])('%j', (headers, want) => {
    expect(subjectValue(header, input(headers))).toEqual(want);
  });
});

describe('ClientIP', () => {
  it.each<[string, number, Record<string, string>, string | undefined, unknown]>([
    ['peer address, XFF ignored with 0 hops', 0, { 'x-forwarded-for': '1.1.1.1' }, '203.0.113.9:51234', '203.0.113.9'],
    ['IPv6 peer', 0, {}, '[2001:DB8::1]:443', '2001:db8::1'],
    ['IPv4-mapped IPv6 peer', 0, {}, '[::ffff:198.51.100.7]:1', '198.51.100.7'],
    ['one trusted hop: the rightmost entry', 1, { 'x-forwarded-for': '6.6.6.6, 198.51.100.1' }, '10.0.0.2:1', '198.51.100.1'],
    ['two trusted hops', 2, { 'x-forwarded-for': '6.6.6.6, 198.51.100.1, 10.0.0.1' }, '10.0.0.2:1', '198.51.100.1'],
    ['Envoy appended the peer (use_remote_address): skipped', 1, { 'x-forwarded-for': '198.51.100.1, 10.0.0.2' }, '10.0.0.2:1', '198.51.100.1'],
    ['entries with ports', 1, { 'x-forwarded-for': '198.51.100.1:5555' }, '10.0.0.2:1', '198.51.100.1'],
    ['fewer entries than hops: the peer', 3, { 'x-forwarded-for': '198.51.100.1' }, '10.0.0.2:1', '10.0.0.2'],
    ['no XFF: the peer', 1, {}, '10.0.0.2:1', '10.0.0.2'],
  ])('%s', (_name, hops, headers, source, want) => {
    expect(subjectValue(ip(hops), input(headers, { sourceAddress: source }))).toEqual({ missing: false, key: want });
  });

  it('reports a bad XFF entry and an unknown peer', () => {
    expect(subjectValue(ip(1), input({ 'x-forwarded-for': 'unknown' }, { sourceAddress: '10.0.0.2:1' }))).toEqual(
      { missing: true, status: 400, message: 'x-forwarded-for does not hold a valid client address' });
    expect(subjectValue(ip(0), input({}, { sourceAddress: undefined }))).toEqual({ missing: true, status: 400, message: 'the client address is unknown' });
  });

  it.each([['1.2.3.4', '1.2.3.4'], ['1.2.3.4:80', '1.2.3.4'], ['[::1]', '::1'], ['::1', '::1'], ['nope', undefined], ['1.2.3.4.5', undefined]])(
    'normaliseIp(%j) = %j', (raw, want) => {
      expect(normaliseIp(raw)).toBe(want);
    });
});

describe('APIKey', () => {
  it.each<[string, Record<string, string>, string, string?]>([
    ['authorization: Bearer', { authorization: 'Bearer sk-abc' }, 'sk-abc'],
    ['bearer, any case', { authorization: 'bearer   sk-abc ' }, 'sk-abc'],
    ['x-api-key (Anthropic)', { 'x-api-key': 'sk-ant-1' }, 'sk-ant-1'],
    ['api-key (Azure)', { 'api-key': 'az-1' }, 'az-1'],
    ['x-goog-api-key (Gemini)', { 'x-goog-api-key': 'AIza1' }, 'AIza1'],
    ['?key= (Gemini)', {}, 'AIza2', '/v1beta/models/gemini-2.5-flash:generateContent?alt=sse&key=AIza2'],
    ['Bearer wins over x-api-key', { authorization: 'Bearer first', 'x-api-key': 'second' }, 'first'],
    ['Basic auth is not a bearer key', { authorization: 'Basic dXNlcg==', 'x-api-key': 'sk-x' }, 'sk-x'],
  ])('%s', (_name, headers, credential, path) => {
    const v = subjectValue(apiKey, input(headers, path ? { path } : {}));
    expect(v).toEqual({ missing: false, key: sha(credential) });
    expect(JSON.stringify(v)).not.toContain(credential);
  });

  it('rejects with 401 without a credential', () => {
    expect(subjectValue(apiKey, input({ authorization: 'Basic x' }, { path: '/v1?key=' }))).toEqual({
      missing: true, status: 401, message: 'missing API key: send authorization: Bearer, x-api-key, api-key, x-goog-api-key or ?key=',
    });
  });
});

describe('JWTClaim (payload read without verification)', () => {
  const token = jwt({ sub: 'u1', org: { id: 'acme', tier: 3, tags: ['a'] }, 'https://example.com/tenant': 'ex', admin: true, empty: ' ' });
  const auth = { authorization: `Bearer ${token}` };

  it.each([
    ['sub', 'u1'], ['org.id', 'acme'], ['org.tier', '3'], ['admin', 'true'], ['https://example.com/tenant', 'ex'],
  ])('%s → %s', (path, want) => {
    expect(subjectValue(claim(path), input(auth))).toEqual({ missing: false, key: valueKey(want) });
  });

  it.each<[string, Record<string, string>, string]>([
    ['org.name', auth, 'the bearer token has no claim org.name'],
    ['org.tags', auth, 'claim org.tags is not a string or number'],
    ['org', auth, 'claim org is not a string or number'],
    ['empty', auth, 'claim empty is not a string or number'],
    ['sub.x', auth, 'the bearer token has no claim sub.x'],
    ['sub', {}, 'missing bearer token (claim sub is needed to pick a token budget)'],
    ['sub', { authorization: 'Bearer sk-not-a-jwt' }, 'the bearer token is not a JWT'],
    ['sub', { authorization: 'Bearer a.!!!.c' }, 'the bearer token is not a JWT'],
    ['sub', { authorization: `Bearer a.${Buffer.from('[1]').toString('base64url')}.c` }, 'the bearer token is not a JWT'],
    ['sub', { authorization: `Bearer a.${'A'.repeat(20000)}.c` }, 'the bearer token is not a JWT'],
  ])('%s with %j is missing', (path, headers, message) => {
    expect(subjectValue(claim(path), input(headers))).toEqual({ missing: true, status: 401, message });
  });

  it('decodes the payload', () => {
    expect(unverifiedJwtPayload(token)).toMatchObject({ sub: 'u1' });
    expect(unverifiedJwtPayload('x.e30.y')).toEqual({});
  });
});

describe('subjectFor (onMissing)', () => {
  it('uses the value when present', () => {
    expect(subjectFor(header, input({ 'x-tenant-id': 'acme' }))).toEqual({ kind: 'key', key: 'acme', logId: logIdOf('acme'), shared: false, recorded: 'acme' });
  });

  it('Shared: one anonymous key; Reject: the status and message', () => {
    expect(subjectFor({ ...header, onMissing: 'Shared' }, input())).toEqual({ kind: 'key', key: SHARED_KEY, logId: logIdOf(SHARED_KEY), shared: true, recorded: SHARED_KEY });
    expect(subjectFor(apiKey, input())).toMatchObject({ kind: 'reject', status: 401 });
    expect(subjectFor(header, input())).toMatchObject({ kind: 'reject', status: 400 });
  });

  it('no subject: one key for all', () => {
    expect(subjectFor(undefined, input())).toEqual({ kind: 'key', key: GLOBAL_KEY, logId: logIdOf(GLOBAL_KEY), shared: true, recorded: GLOBAL_KEY });
  });

  it('the shared keys cannot collide with values', () => {
    expect(valueKey(SHARED_KEY)).not.toBe(SHARED_KEY);
    expect(valueKey(GLOBAL_KEY)).not.toBe(GLOBAL_KEY);
  });
});

describe('the subject the spend ledger records', () => {
  const recorded = (s: Subject, i: SubjectInput): string | undefined => {
    const d = subjectFor(s, i);
    return d.kind === 'key' ? d.recorded : undefined;
  };
  it('Header and JWTClaim: the value as carried (not the counter key), or its hash when the policy asks', () => {
    expect(recorded(header, input({ 'x-tenant-id': ' A Long Tenant Name ' }))).toBe('A Long Tenant Name');
    expect(recorded({ ...header, hashInLedger: true }, input({ 'x-tenant-id': 'acme' }))).toBe(sha('acme'));
    expect(recorded(claim('email'), input({ authorization: `Bearer ${jwt({ email: 'ada@example.com' })}` }))).toBe('ada@example.com');
    expect(recorded({ ...claim('email'), hashInLedger: true } as Subject, input({ authorization: `Bearer ${jwt({ email: 'ada@example.com' })}` }))).toBe(sha('ada@example.com'));
    expect(recorded(header, input({ 'x-tenant-id': 'x'.repeat(257) }))).toBe(sha('x'.repeat(257)));
  });
  it('APIKey and ClientIP: always a hash, never the credential or the address', () => {
    expect(recorded(apiKey, input({ authorization: 'Bearer sk-live-1' }))).toBe(sha('sk-live-1'));
    expect(recorded(ip(0), input())).toBe(sha('203.0.113.9'));
  });
});
