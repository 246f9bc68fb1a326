/**
 * Who may see the console and its data. Three ways in, checked on every page, asset and data request:
 * - the admin bearer token (`--admin-token`): `authorization: Bearer …` (curl, scripts), or the console's session
 *   cookie, set by the sign-in page once the token was typed there. The cookie holds an HMAC of the token, not the
 *   token; it has no expiry (it lasts the browser session), is HttpOnly and SameSite=Strict, and stops working when
 *   the token changes;
 * - a trusted authenticating proxy (`--console-user-header`, e.g. oauth2-proxy's X-Forwarded-User): a request that
 *   carries the header is let in as that user. Only safe when nothing but the proxy can reach the console (a
 *   NetworkPolicy, a loopback or pod-local listener): the header is not a secret;
 * - neither configured (`npm start` on a laptop): open, like the admin API itself.
 * With a token or a user header configured, nothing but the sign-in page and its stylesheet is served without one.
 * A request let in by the cookie or the proxy reaches the admin API's handlers as if it carried the bearer token
 * (guardRoutes): the handlers keep one rule.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Route } from '../admin/probes.js';
import { bearerAuthorized, sendUnauthorized } from '../admin/http.js';

export const SESSION_COOKIE = 'tm_console';

export interface AccessConfig {
  /** '' = none. */
  adminToken: string;
  /** Lower-case header name of the trusted proxy's user; '' = none. */
  userHeader: string;
}

export type Admission = { ok: true; via: 'open' | 'token' | 'cookie' | 'proxy'; user?: string } | { ok: false };

/** The session cookie's value for a token. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('tokenmeter-console-session-v1').digest('base64url');
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class ConsoleAccess {
  private readonly session: string;

  constructor(readonly config: AccessConfig) {
    this.session = config.adminToken === '' ? '' : sessionValue(config.adminToken);
  }

  /** Whether anything is required at all. */
  get required(): boolean {
    return this.config.adminToken !== '' || this.config.userHeader !== '';
  }

  /** Whether the sign-in page can let anyone in (a token is configured). */
  get signIn(): boolean {
    return this.config.adminToken !== '';
  }

  check(req: IncomingMessage): Admission {
    if (!this.required) return { ok: true, via: 'open' };
    if (this.config.userHeader !== '') {
      const user = req.headers[this.config.userHeader];
      const value = Array.isArray(user) ? user[0] : user;
      if (value !== undefined && value.trim() !== '') return { ok: true, via: 'proxy', user: value.trim().slice(0, 200) };
    }
    if (this.config.adminToken === '') return { ok: false };
    if (req.headers.authorization !== undefined) return bearerAuthorized(req, this.config.adminToken) ? { ok: true, via: 'token' } : { ok: false };
    const c = cookie(req, SESSION_COOKIE);
    return c !== undefined && sameSecret(c, this.session) ? { ok: true, via: 'cookie' } : { ok: false };
  }

  /** Whether `token` is the admin token (constant time). */
  tokenMatches(token: string): boolean {
    return this.config.adminToken !== '' && bearerAuthorized({ headers: { authorization: `Bearer ${token}` } } as IncomingMessage, this.config.adminToken);
  }

  /** Set-Cookie for a signed-in browser session (Secure behind an HTTPS proxy). */
  sessionCookie(req: IncomingMessage): string {
    return `${SESSION_COOKIE}=${this.session}; Path=/; HttpOnly; SameSite=Strict${secure(req)}`;
  }

  clearCookie(req: IncomingMessage): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure(req)}`;
  }
}

function secure(req: IncomingMessage): string {
  return req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
}

/** The admin API's routes that show usage, spend or subjects: what the console's credentials open. */
export const DATA_ROUTES = ['/v1/usage', '/v1/spend', '/v1/requests', '/v1/budgets', '/v1/limits', '/v1/subjects', '/v1/subject', '/v1/refusals', '/v1/events'];

/**
 * The data routes of `table` behind the console's access rule: refused (401) without a credential; let in by the
 * session cookie or the proxy's user header, they reach the handler as if they carried the bearer token.
 */
export function guardRoutes(table: Map<string, Route>, access: ConsoleAccess): Map<string, Route> {
  if (!access.required) return table;
  const out = new Map(table);
  for (const path of DATA_ROUTES) {
    const route = table.get(path);
    if (!route) continue;
    out.set(path, {
      methods: route.methods,
      handle: (req, res, url) => {
        const a = access.check(req);
        if (!a.ok) return sendUnauthorized(res);
        if (a.via !== 'token' && access.config.adminToken !== '') req.headers.authorization = `Bearer ${access.config.adminToken}`;
        return route.handle(req, res, url);
      },
    });
  }
  return out;
}
