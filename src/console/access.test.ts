import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Route } from '../admin/probes.js';
import { ConsoleAccess, guardRoutes, sessionValue, SESSION_COOKIE } from './access.js';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers } as unknown as IncomingMessage);

describe('console access', () => {
  it('open when neither a token nor a proxy header is configured', () => {
    const a = new ConsoleAccess({ adminToken: '', userHeader: '' });
    expect(a.required).toBe(false);
    expect(a.check(req({}))).toEqual({ ok: true, via: 'open' });
  });

  it('with a token: the bearer token or the session cookie, nothing else; the cookie is not the token', () => {
    const a = new ConsoleAccess({ adminToken: 's3cret', userHeader: '' });
    expect(a.check(req({}))).toEqual({ ok: false });
    expect(a.check(req({ authorization: 'Bearer s3cret' }))).toEqual({ ok: true, via: 'token' });
    expect(a.check(req({ authorization: 'Bearer wrong' }))).toEqual({ ok: false });
    expect(a.check(req({ cookie: `other=1; ${SESSION_COOKIE}=${sessionValue('s3cret')}` }))).toEqual({ ok: true, via: 'cookie' });
    expect(a.check(req({ cookie: `${SESSION_COOKIE}=${sessionValue('old-token')}` }))).toEqual({ ok: false });
    expect(a.check(req({ cookie: `${SESSION_COOKIE}=s3cret` }))).toEqual({ ok: false });
    expect(sessionValue('s3cret')).not.toContain('s3cret');
    expect(a.sessionCookie(req({}))).toMatch(/^tm_console=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(a.sessionCookie(req({ 'x-forwarded-proto': 'https' }))).toMatch(/; Secure$/);
    expect(a.tokenMatches('s3cret')).toBe(true);
    expect(a.tokenMatches('s3cre')).toBe(false);
  });

  it('with a trusted proxy header: its user is let in; without the header, the token still works', () => {
    const a = new ConsoleAccess({ adminToken: 's3cret', userHeader: 'x-forwarded-user' });
    expect(a.check(req({ 'x-forwarded-user': 'ana@example.com' }))).toEqual({ ok: true, via: 'proxy', user: 'ana@example.com' });
    expect(a.check(req({ 'x-forwarded-user': ' ' }))).toEqual({ ok: false });
    expect(a.check(req({ authorization: 'Bearer s3cret' }))).toMatchObject({ ok: true, via: 'token' });
    const proxyOnly = new ConsoleAccess({ adminToken: '', userHeader: 'x-forwarded-user' });
    expect(proxyOnly.check(req({}))).toEqual({ ok: false });
    expect(proxyOnly.signIn).toBe(false);
  });

  it('guarded data routes: refused without a credential, and reached as if the bearer token was sent', async () => {
    const seen: (string | undefined)[] = [];
    const table = new Map<string, Route>([
      ['/v1/spend', { methods: ['GET'], handle: (r) => void seen.push(r.headers.authorization) }],
      ['/healthz', { methods: ['GET'], handle: () => void seen.push('healthz') }],
    ]);
    const guarded = guardRoutes(table, new ConsoleAccess({ adminToken: 's3cret', userHeader: 'x-forwarded-user' }));
    let status = 0;
    const res = { writeHead: (s: number) => ((status = s), { end: () => undefined }) } as unknown as ServerResponse;
    const url = new URL('http://x/v1/spend');
    await guarded.get('/v1/spend')?.handle(req({}), res, url);
    expect(status).toBe(401);
    await guarded.get('/v1/spend')?.handle(req({ 'x-forwarded-user': 'ana' }), res, url);
    await guarded.get('/v1/spend')?.handle(req({ cookie: `${SESSION_COOKIE}=${sessionValue('s3cret')}` }), res, url);
    await guarded.get('/healthz')?.handle(req({}), res, url);
    expect(seen).toEqual(['Bearer s3cret', 'Bearer s3cret', 'healthz']);
  });
});
