/**
 * The budget console's pages: /console/ (overview), /console/policy?name=NS/NAME, /console/subject?policy=…&subject=…,
 * the sign-in page, and the bundled front end (/console/assets/: console.js and console.css built from web/ by
 * `npm run build`, no CDN). Every page is the same small HTML document; the front end draws it from the admin API's
 * JSON (/v1/…) and its live updates (/v1/events), so what a page shows is what curl shows.
 *
 * Served beside the admin API's routes on one listener: the ext_proc's admin address in local mode, and
 * `tokenmeter console`. Read-only: the only POSTs sign a browser in and out. Every response carries a strict
 * Content-Security-Policy (scripts and styles from this origin only, nothing inline; data from this origin only).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { readBody, sendError } from '../admin/http.js';
import { GET, type Route } from '../admin/probes.js';
import { guardRoutes, type ConsoleAccess } from './access.js';
import { pageHtml, signInHtml } from './pages.js';

export const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "font-src 'self'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin', 'cache-control': 'no-store',
} as const;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.map': 'application/json',
};

/** Public: the sign-in page needs its stylesheet (and the browser asks for the icon). */
const PUBLIC_ASSETS = new Set(['console.css', 'favicon.svg']);

/** The built assets: next to the compiled module, or (tests on the sources) in dist/ of the checkout. */
export function defaultAssetsDir(): string {
  for (const rel of ['./assets/', '../../dist/src/console/assets/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}console.js`)) return dir;
  }
  return fileURLToPath(new URL('./assets/', import.meta.url));
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type) continue;
    const body = readFileSync(`${dir}${dir.endsWith('/') ? '' : '/'}${name}`);
    out.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return out;
}

export interface ConsoleOptions {
  access: ConsoleAccess;
  /** Default: defaultAssetsDir(). */
  assetsDir?: string;
  /** Shown in the header (e.g. "local" or the release name). */
  title?: string;
}

function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string>): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers }).end(body);
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  send(res, 303, '', { location, ...headers });
}

/** A `next` target that stays in the console (no open redirect). */
function safeNext(raw: string | null | undefined): string {
  return raw && /^\/console\/[^\\\s]*$/.test(raw) && !raw.startsWith('//') ? raw : '/console/';
}

/** Wrong tokens wait a little: guessing stays slow. */
const WRONG_TOKEN_DELAY_MS = 250;

export function consoleRoutes(opts: ConsoleOptions): Map<string, Route> {
  const access = opts.access;
  const assets = loadAssets(opts.assetsDir ?? defaultAssetsDir());
  const title = opts.title ?? 'tokenmeter';
  const page = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const a = access.check(req);
    if (!a.ok) {
      if (!access.signIn) return send(res, 401, signInHtml({ title, next: '/console/', message: 'Sign in through your organisation\'s proxy to see this console.', form: false }), { 'content-type': 'text/html; charset=utf-8' });
      return redirect(res, `/console/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`);
    }
    if (!assets.has('console.js')) return sendError(res, 503, 'TM_UNAVAILABLE', 'the console was not built: run npm run build');
    send(res, 200, pageHtml({ title, via: a.via, ...(a.user ? { user: a.user } : {}) }), { 'content-type': 'text/html; charset=utf-8' });
  };
  const signIn = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const html = { 'content-type': 'text/html; charset=utf-8' };
    if (!access.required) return redirect(res, '/console/');
    if (req.method !== 'POST') {
      return send(res, 200, signInHtml({ title, next: safeNext(url.searchParams.get('next')), form: access.signIn, ...(access.signIn ? {} : { message: 'Sign in through your organisation\'s proxy.' }) }), html);
    }
    const body = await readBody(req, 4096);
    const form = new URLSearchParams(body.ok ? body.body.toString('utf8') : '');
    const next = safeNext(form.get('next'));
    if (access.tokenMatches(form.get('token')?.trim() ?? '')) return redirect(res, next, { 'set-cookie': access.sessionCookie(req) });
    await new Promise((r) => setTimeout(r, WRONG_TOKEN_DELAY_MS));
    send(res, 401, signInHtml({ title, next, form: true, message: 'That is not the admin token. Try again.' }), html);
  };
  const table = new Map<string, Route>([
    ['/console', { methods: GET, handle: (_q, res) => redirect(res, '/console/') }],
    ['/console/', { methods: GET, handle: page }],
    ['/console/policy', { methods: GET, handle: page }],
    ['/console/subject', { methods: GET, handle: page }],
    ['/console/sign-in', { methods: [...GET, 'POST'], handle: signIn }],
    ['/console/sign-out', { methods: ['POST'], handle: (req, res) => redirect(res, '/console/sign-in', { 'set-cookie': access.clearCookie(req) }) }],
  ]);
  for (const [name, asset] of assets) {
    table.set(`/console/assets/${name}`, {
      methods: GET,
      handle: (req, res) => {
        if (!PUBLIC_ASSETS.has(name) && !access.check(req).ok) return send(res, 401, 'sign in first\n', { 'content-type': 'text/plain' });
        if (req.headers['if-none-match'] === asset.etag) return send(res, 304, '', { etag: asset.etag, 'cache-control': 'no-cache' });
        send(res, 200, asset.body, { 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache' });
      },
    });
  }
  return table;
}

/** The admin API's routes with the console's pages beside them, its data routes behind the console's access rule. */
export function withConsole(admin: Map<string, Route>, opts: ConsoleOptions): Map<string, Route> {
  return new Map([...guardRoutes(admin, opts.access), ...consoleRoutes(opts)]);
}
