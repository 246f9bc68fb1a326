/**
 * The console's server on a real SQLite ledger and the memory counter store, over HTTP: its data endpoints
 * (/v1/limits, /v1/subjects, /v1/subject, /v1/refusals, the /v1/events change feed), the pages and assets, the
 * sign-in page and session cookie, a trusted proxy's user header, and the Content-Security-Policy on every page.
 * The browser's view of the same is test/console/browser.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerQuery } from '../../src/ledger/query.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { Limiter } from '../../src/limits/limiter.js';
import { createMemoryStore } from '../../src/limits/memory-store.js';
import { ObservedOutput } from '../../src/limits/observed.js';
import { compileMatcher } from '../../src/policy/match.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { CSP } from '../../src/console/server.js';
import { startConsoleServer, type ConsoleServer } from '../../src/console/serve.js';
import { usageRecord } from '../helpers/ledger-contract.js';

const TOKEN = 'console-admin-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const NOW = Date.UTC(2026, 1, 10, 12, 30); // 10 February 2026, 12:30 UTC
const dir = mkdtempSync(join(tmpdir(), 'tm-console-api-'));
const POLICIES = parsePolicies(`apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: team, namespace: llm}
spec:
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: 1000, window: Day, count: Total}
  - {name: per-minute, tokens: 600, window: 1m, count: Input}
  reservation: {output: None}
`);
const matcher = compileMatcher(POLICIES.policies);
const counters = createMemoryStore();
let clock = NOW;
const limiter = new Limiter({ store: counters, matcher: () => matcher, observed: new ObservedOutput(), reservationTtlMs: 60_000, now: () => clock });
let store: SqliteLedger;
let server: ConsoleServer;
let proxied: ConsoleServer;
let base: string;

async function admit(tenant: string, input: number, output = 0): Promise<boolean> {
  const a = await limiter.admit({
    requestId: `${tenant}-${input}`, provider: 'openai', endpoint: 'openai.chat', host: 'h', path: '/v1/chat/completions', method: 'POST',
    headers: { 'x-tenant-id': tenant }, model: 'gpt-4o-mini', inputTokens: input,
  });
  if (!a.rejection) await a.settle({ input, cachedInput: 0, cacheWrite: 0, output, reasoning: 0 }, 'gpt-4o-mini');
  return !a.rejection;
}

beforeAll(async () => {
  expect(POLICIES.errors).toEqual([]);
  store = await SqliteLedger.open(join(dir, 'ledger.sqlite'));
  const rec = (min: number, subject: string, input: number, over: Partial<Parameters<typeof usageRecord>[0]> = {}): ReturnType<typeof usageRecord> =>
    usageRecord({ ts: NOW - min * 60_000, policy: 'llm/team', subject, inputTokens: input, outputTokens: 0, cachedInputTokens: 0, costUsd: input / 1e6, ...over });
  await store.write([
    rec(0.5, 'acme', 200), rec(1.5, 'acme', 100), rec(3, 'acme', 50), rec(60 * 24, 'acme', 400), rec(0.2, 'beta', 20),
    rec(0.1, 'acme', 0, { decision: 'limited', rejected: true, status: 429, limit: 'daily', costUsd: 0 }),
    rec(0.1, 'zed', 0, { decision: 'limited', rejected: true, status: 429, limit: 'daily', costUsd: 0 }),
    rec(0.1, 'zed', 0, { decision: 'subject-missing', rejected: true, status: 400, subject: null, costUsd: 0 }),
    rec(60 * 30, 'acme', 0, { decision: 'limited', rejected: true, status: 429, limit: 'daily', costUsd: 0 }), // yesterday: not in today's refusals
  ]);
  for (const [t, n] of [['acme', 250], ['beta', 20], ['gamma', 590], ['delta', 10]] as const) expect(await admit(t, n)).toBe(true);
  const deps = {
    registry: new Registry(), ready: () => true, adminToken: TOKEN, now: () => clock, ledger: createLedgerQuery(store),
    usage: { policies: () => matcher.policies, store: counters, now: () => clock },
  };
  server = await startConsoleServer(deps, { userHeader: '' }, '127.0.0.1', 0);
  proxied = await startConsoleServer({ ...deps, adminToken: '' }, { userHeader: 'x-forwarded-user' }, '127.0.0.1', 0);
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server.close();
  await proxied.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

type Json = Record<string, unknown> & { error?: { message: string }; rows?: Record<string, unknown>[] };
async function get(path: string, headers: Record<string, string> = auth, at = base): Promise<{ status: number; body: Json; text: string; headers: Headers }> {
  const res = await fetch(`${at}${path}`, { headers, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, body: (text.startsWith('{') ? JSON.parse(text) : {}) as Json };
}

describe('the console data endpoints', () => {
  it('GET /v1/limits: the policies in words, behind the token', async () => {
    expect((await get('/v1/limits', {})).status).toBe(401);
    const all = await get('/v1/limits');
    expect(all.body.policies).toEqual([expect.objectContaining({ policy: 'llm/team', mode: 'Enforce', tiers: null, overrides: null })]);
    const one = await get('/v1/limits?policy=llm/team');
    expect((one.body.policies as { limits: { words: string }[] }[])[0]?.limits.map((l) => l.words)).toEqual(['1,000 tokens (input + output) a day (UTC)', '600 input tokens a minute']);
    expect((await get('/v1/limits?policy=nope')).status).toBe(404);
  });

  it('GET /v1/subjects: one row per subject, sorted, searched and paged on the server; CSV of the whole view', async () => {
    const first = await get('/v1/subjects?policy=llm/team&page_size=2');
    expect(first.body).toMatchObject({ policy: 'llm/team', source: 'counters', total: 4, offset: 0, next_offset: 2, sort: 'share', order: 'desc' });
    expect(first.body.rows?.map((r) => [r.subject, r.max_share])).toEqual([['gamma', 0.983333], ['acme', 0.416667]]);
    expect((await get('/v1/subjects?policy=llm/team&page_size=2&offset=2')).body.rows?.map((r) => r.subject)).toEqual(['beta', 'delta']);
    expect((await get('/v1/subjects?policy=llm/team&sort=subject')).body.rows?.map((r) => r.subject)).toEqual(['acme', 'beta', 'delta', 'gamma']);
    expect((await get('/v1/subjects?policy=llm/team&sort=daily&order=asc')).body.rows?.map((r) => r.subject)).toEqual(['delta', 'beta', 'acme', 'gamma']);
    expect((await get('/v1/subjects?policy=llm/team&q=TA')).body.rows?.map((r) => r.subject)).toEqual(['beta', 'delta']);
    const row = (await get('/v1/subjects?policy=llm/team&q=gamma')).body.rows?.[0];
    expect(row).toMatchObject({ limits: { daily: { used: 590, budget: 1000, share: 0.59, reset_at: '2026-02-11T00:00:00.000Z' }, 'per-minute': { used: 590, budget: 600, share: 0.983333, reset_at: '2026-02-10T12:31:00.000Z' } } });
    const csv = await get('/v1/subjects?policy=llm/team&q=ta&sort=subject&format=csv');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('subject,max_share,daily_used,daily_budget,daily_share,daily_reset_at,per-minute_used,per-minute_budget,per-minute_share,per-minute_reset_at');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['beta', 'delta']);
    expect((await get('/v1/subjects?policy=llm/team&sort=nope')).body.error?.message).toBe('sort=nope: use share, subject or a limit of llm/team (daily, per-minute)');
    expect((await get('/v1/subjects?policy=llm/team&order=up')).status).toBe(400);
    expect((await get('/v1/subjects?policy=llm/team&page_size=5000')).status).toBe(400);
    expect((await get('/v1/subjects?policy=llm/team', {})).status).toBe(401);
  });

  it('GET /v1/subject: the current window, the last windows from the ledger, the typical request, what refuses it next', async () => {
    const res = await get('/v1/subject?policy=llm/team&subject=acme');
    expect(res.status).toBe(200);
    const limits = res.body.limits as { limit: string; used: number; history: { start: string; used: number }[]; typical_request: number | null }[];
    const daily = limits.find((l) => l.limit === 'daily');
    expect(daily).toMatchObject({ used: 250, budget: 1000, remaining: 750, reset_at: '2026-02-11T00:00:00.000Z' });
    expect(daily?.history).toHaveLength(30);
    // Today's window holds the ledger's 200 + 100 + 50 (the counters' 250 are the live requests above), yesterday's 400.
    expect(daily?.history.slice(-2).map((w) => [w.start, w.used])).toEqual([['2026-02-09T00:00:00.000Z', 400], ['2026-02-10T00:00:00.000Z', 350]]);
    const minute = limits.find((l) => l.limit === 'per-minute');
    expect(minute?.history).toHaveLength(60);
    expect(minute?.history.slice(-4).map((w) => w.used)).toEqual([50, 100, 200, 0]);
    // Typical request over the last day: (200 + 100 + 50 + 400) / 4 admitted (the refused one does not count).
    expect(daily?.typical_request).toBe(187.5);
    // daily: 750 left = 4 such requests; per-minute: 350 left = 1.
    expect(res.body.next_refusal).toMatchObject({ limit: 'per-minute', requests_left: 1 });
    expect(String((res.body.next_refusal as { words: string }).words)).toMatch(/^About 1 more request like its typical one \(188 tokens\) before per-minute refuses it: 350 tokens left; resets in 60 s/);
    const beta = await get('/v1/subject?policy=llm/team&subject=beta');
    expect(beta.body.next_refusal).toMatchObject({ limit: 'per-minute', requests_left: 29 });
    // No request of gamma in the ledger: no typical request, so the closest limit and what is left.
    const gamma = (await get('/v1/subject?policy=llm/team&subject=gamma')).body.next_refusal as { limit: string; requests_left: null; words: string };
    expect(gamma).toMatchObject({ limit: 'per-minute', requests_left: null });
    expect(gamma.words).toMatch(/^per-minute is the closest: 10 tokens left \(98 % used\)/);
    // Over a budget (a response longer than its reservation): refused now, until the reset.
    clock = NOW + 30_000;
    expect(await admit('delta', 5, 990)).toBe(true);
    const delta = (await get('/v1/subject?policy=llm/team&subject=delta')).body.next_refusal as { limit: string; requests_left: number; words: string };
    expect(delta).toMatchObject({ limit: 'daily', requests_left: 0 });
    expect(delta.words).toBe('Refused now by daily: 0 tokens left; resets in 11 h (2026-02-11T00:00:00Z).');
    clock = NOW;
    expect((await get('/v1/subject?policy=llm/team')).status).toBe(400);
  });

  it('GET /v1/refusals: today by policy, limit and reason, with the subjects hit', async () => {
    const res = await get('/v1/refusals');
    expect(res.body.from).toBe('2026-02-10T00:00:00.000Z');
    expect(res.body.rows).toEqual([
      { policy: 'llm/team', limit: 'daily', decision: 'limited', status: 429, requests: 2, subjects: 2 },
      { policy: 'llm/team', limit: null, decision: 'subject-missing', status: 400, requests: 1, subjects: 0 },
    ]);
    expect(res.body.totals).toEqual({ refused: 3, would_refuse: 0 });
    expect((await get('/v1/refusals?from=2026-02-09&to=2026-02-10')).body.rows).toEqual([expect.objectContaining({ requests: 1, limit: 'daily' })]);
    expect((await get('/v1/refusals?subject=zed&format=csv')).text.split('\r\n')[0]).toBe('policy,limit,decision,status,requests,subjects');
  });

  it('GET /v1/events: hello, then a change when records are written', async () => {
    expect((await get('/v1/events', {})).status).toBe(401);
    const ctrl = new AbortController();
    const res = await fetch(`${base}/v1/events`, { headers: auth, signal: ctrl.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const until = async (needle: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!text.includes(needle)) {
        if (Date.now() > deadline) throw new Error(`no ${needle} in ${text}`);
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
      }
    };
    await until('event: hello');
    expect(server.feed.open).toBe(1);
    await new Promise((r) => setTimeout(r, 1500)); // the feed's first read sets the mark
    await store.write([usageRecord({ ts: NOW, policy: 'llm/team', subject: 'beta', inputTokens: 5 })]);
    await until('event: change');
    expect(text).toMatch(/event: change\ndata: \{"version":1,/);
    ctrl.abort();
    await new Promise((r) => setTimeout(r, 200));
    expect(server.feed.open).toBe(0);
  });
});

describe('pages, sign-in and the CSP', () => {
  it('without a credential: pages send the browser to sign in, data and scripts are refused, the stylesheet is public', async () => {
    const page = await get('/console/policy?name=llm/team', {});
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/console/sign-in?next=%2Fconsole%2Fpolicy%3Fname%3Dllm%2Fteam');
    expect((await get('/console/assets/console.js', {})).status).toBe(401);
    expect((await get('/console/assets/console.css', {})).status).toBe(200);
    expect((await get('/v1/spend', {})).status).toBe(401);
    const signIn = await get('/console/sign-in?next=/console/policy', {});
    expect(signIn.status).toBe(200);
    expect(signIn.headers.get('content-security-policy')).toBe(CSP);
    expect(signIn.text).toContain('<input id="token" name="token" type="password"');
    expect(signIn.text).not.toMatch(/<script|style=/);
  });

  it('a wrong token is refused; the right one sets a session cookie that opens the pages and the data', async () => {
    const post = (token: string, next: string): Promise<Response> => fetch(`${base}/console/sign-in`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, next }).toString(),
    });
    const wrong = await post('guess', '/console/');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That is not the admin token');
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const right = await post(TOKEN, '/console/subject?policy=llm/team&subject=acme');
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/console/subject?policy=llm/team&subject=acme');
    const cookie = (right.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^tm_console=/);
    expect(cookie).not.toContain(TOKEN);
    const page = await get('/console/', { cookie });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CSP);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.text).toContain('<script type="module" src="/console/assets/console.js"></script>');
    expect(page.text).not.toMatch(/<script>|<style|style=/);
    expect((await get('/console/assets/console.js', { cookie })).status).toBe(200);
    expect((await get('/v1/spend?group_by=policy', { cookie })).body.totals).toMatchObject({ requests: 10 });
    // Never back to another site.
    expect((await post(TOKEN, '//evil.example/')).headers.get('location')).toBe('/console/');
    expect((await post(TOKEN, 'https://evil.example/console/')).headers.get('location')).toBe('/console/');
    const out = await fetch(`${base}/console/sign-out`, { method: 'POST', redirect: 'manual', headers: { cookie } });
    expect(out.headers.get('set-cookie')).toMatch(/^tm_console=; .*Max-Age=0/);
  });

  it('a trusted proxy user header lets its user in and names them; without it, nothing is served', async () => {
    const at = `http://127.0.0.1:${proxied.port}`;
    const page = await get('/console/', { 'x-forwarded-user': 'ana@example.com' }, at);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Signed in as ana@example.com');
    expect((await get('/v1/subjects?policy=llm/team', { 'x-forwarded-user': 'ana@example.com' }, at)).body.total).toBe(4);
    expect((await get('/console/', {}, at)).status).toBe(401);
    expect((await get('/v1/spend', {}, at)).status).toBe(401);
    expect((await get('/v1/events', {}, at)).status).toBe(401);
  });
});
