/**
 * The ledger's admin API on a real admin server over a real SQLite ledger: /v1/spend (filters, grouping, CSV, auth,
 * clear 400s, a month boundary, UTC and offsets), /v1/requests (paging, subject forms), /v1/budgets (from the memory
 * counter store after real admissions, and from the ledger when the store cannot list), and `tokenmeter spend`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { runSpend } from '../../src/cli/spend.js';
import { loadConfig } from '../../src/config/config.js';
import { createLedgerQuery } from '../../src/ledger/query.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { Limiter } from '../../src/limits/limiter.js';
import { createMemoryStore } from '../../src/limits/memory-store.js';
import { ObservedOutput } from '../../src/limits/observed.js';
import type { CounterStore } from '../../src/limits/store.js';
import { createLogger } from '../../src/log/logger.js';
import { compileMatcher } from '../../src/policy/match.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { hashKey } from '../../src/policy/subject.js';
import { usageRecord } from '../helpers/ledger-contract.js';

const TOKEN = 'ledger-admin-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const NOW = Date.UTC(2026, 1, 10, 12); // 10 February 2026, 12:00 UTC
const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-api-'));
const file = join(dir, 'ledger.sqlite');
let store: SqliteLedger;
let admin: AdminServer;
let base: string;

const POLICIES = parsePolicies(`apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: team, namespace: llm}
spec:
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: 1000, window: Day, count: Total}
  - {name: per-model, tokens: 2000, window: Day, count: Input, perModel: true}
  - {name: spend, costUSD: 1, window: Month}
  reservation: {output: None}
`);
const matcher = compileMatcher(POLICIES.policies);
const counters = createMemoryStore();
const limiter = new Limiter({ store: counters, matcher: () => matcher, observed: new ObservedOutput(), reservationTtlMs: 60_000, now: () => NOW });

beforeAll(async () => {
  expect(POLICIES.errors).toEqual([]);
  store = await SqliteLedger.open(file);
  const at = (d: number, h: number, m = 0): number => Date.UTC(2026, 0, d, h, m);
  await store.write([
    usageRecord({ ts: at(31, 22, 30), subject: 'acme', policy: 'llm/team', costUsd: 1.5, inputTokens: 100 }), // 31 Jan 22:30 UTC = 1 Feb 00:30 in UTC+02:00
    usageRecord({ ts: at(32, 9), subject: 'acme', policy: 'llm/team', costUsd: 2, inputTokens: 200, responseModel: 'gpt-4o' }),
    usageRecord({ ts: at(33, 9), subject: 'Team, "B"', policy: 'llm/team', costUsd: 4, inputTokens: 400 }),
    usageRecord({ ts: at(33, 10), subject: hashKey('sk-live-secret'), policy: 'llm/keys', costUsd: 8, inputTokens: 800 }),
    usageRecord({ ts: at(33, 11), subject: hashKey('203.0.113.9'), policy: 'llm/ips', costUsd: 16, inputTokens: 1600 }),
    usageRecord({ ts: at(33, 12), subject: '=cmd()', policy: 'llm/team', costUsd: 0, inputTokens: 0, outputTokens: 0, decision: 'limited', rejected: true, status: 429 }),
    // This month (February), for the budgets-from-ledger listing.
    usageRecord({ ts: Date.UTC(2026, 1, 10, 1), subject: 'acme', policy: 'llm/team', inputTokens: 300, outputTokens: 100, costUsd: 0.25, responseModel: 'gpt-4o-mini' }),
    usageRecord({ ts: Date.UTC(2026, 1, 10, 2), subject: 'zed', policy: 'llm/team', inputTokens: 50, outputTokens: 10, costUsd: 0.5, responseModel: 'gpt-4o-mini' }),
  ]);
  admin = await startAdminServer({
    registry: new Registry(), ready: () => true, adminToken: TOKEN, now: () => NOW, ledger: createLedgerQuery(store),
    usage: { policies: () => matcher.policies, store: counters, now: () => NOW },
  }, '127.0.0.1', 0);
  base = `http://127.0.0.1:${admin.port}`;
});
afterAll(async () => {
  await admin.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

type Json = Record<string, unknown> & { error?: { message: string; code: string }; rows?: Record<string, unknown>[] };
async function get(path: string, headers: Record<string, string> = auth): Promise<{ status: number; body: Json; text: string; type: string | null }> {
  const res = await fetch(`${base}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get('content-type'), body: (text.startsWith('{') ? JSON.parse(text) : {}) as Json };
}

describe('GET /v1/spend', () => {
  it('needs the bearer token', async () => {
    expect((await get('/v1/spend', {})).status).toBe(401);
    expect((await get('/v1/spend', { authorization: 'Bearer wrong' })).status).toBe(401);
  });

  it('defaults to the current UTC month by subject; groups by policy, model, day, month; filters by policy and subject', async () => {
    const month = await get('/v1/spend');
    expect(month.status).toBe(200);
    expect(month.body).toMatchObject({ from: '2026-02-01T00:00:00.000Z', to: '2026-02-10T12:00:00.000Z', time_zone: 'UTC', group_by: ['subject'] });
    const jan = await get('/v1/spend?from=2026-01&to=2026-02-06&group_by=policy,day');
    expect(jan.body.rows?.map((r) => [r.day, r.policy, r.requests, r.cost_usd])).toEqual([
      ['2026-01-31', 'llm/team', 1, 1.5], ['2026-02-01', 'llm/team', 1, 2], ['2026-02-02', 'llm/ips', 1, 16], ['2026-02-02', 'llm/keys', 1, 8], ['2026-02-02', 'llm/team', 2, 4],
    ]);
    expect(jan.body.totals).toMatchObject({ requests: 6, rejected_requests: 1, cost_usd: 31.5 });
    const team = await get('/v1/spend?from=2026-01-01&to=2026-02-06&policy=team&namespace=llm&group_by=model');
    expect(team.body.rows?.map((r) => [r.model, r.requests, r.cost_usd])).toEqual([['gpt-4o-mini-2024-07-18', 3, 5.5], ['gpt-4o', 1, 2]]);
    const acme = await get('/v1/spend?from=2026-01-01&to=2026-02-06&subject=acme&group_by=month');
    expect(acme.body.rows?.map((r) => [r.month, r.cost_usd])).toEqual([['2026-01', 1.5], ['2026-02', 2]]);
  });

  it('a month boundary in another time zone: February in UTC+02:00 starts at 31 January 22:00 UTC', async () => {
    const feb = await get(`/v1/spend?from=${encodeURIComponent('2026-02-01T00:00:00+02:00')}&to=2026-02-06&group_by=month`);
    expect(feb.body.from).toBe('2026-01-31T22:00:00.000Z');
    expect(feb.body.rows?.map((r) => [r.month, r.requests])).toEqual([['2026-01', 1], ['2026-02', 5]]);
  });

  it('finds API-key and client-IP subjects by the key or address they were hashed from', async () => {
    const key = await get('/v1/spend?from=2026-01&to=2026-03&subject=sk-live-secret&group_by=policy');
    expect(key.body.rows?.map((r) => [r.policy, r.cost_usd])).toEqual([['llm/keys', 8]]);
    const ip = await get('/v1/spend?from=2026-01&to=2026-03&subject=203.0.113.9&group_by=policy');
    expect(ip.body.rows?.map((r) => [r.policy, r.cost_usd])).toEqual([['llm/ips', 16]]);
  });

  it('CSV for finance: header, quoting, no formula injection', async () => {
    const csv = await get('/v1/spend?from=2026-01&to=2026-02-06&group_by=subject&policy=llm/team&format=csv');
    expect(csv.status).toBe(200);
    expect(csv.type).toBe('text/csv; charset=utf-8');
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('subject,requests,rejected_requests,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,reasoning_tokens,cost_usd');
    expect(lines).toContain('"Team, ""B""",1,0,400,20,0,50,0,4');
    expect(lines.some((l) => l.startsWith("'=cmd()"))).toBe(true);
  });

  it.each([
    ['from=yesterday', 'from=yesterday is not a time'],
    ['from=2026-01-01T00:00:00', 'has no time zone: add Z (UTC) or an offset'],
    ['from=2026-02&to=2026-01', 'must be before to'],
    ['group_by=tenant', 'group_by: unknown "tenant"; use a comma-separated list of policy, subject, model, day, month'],
    ['group_by=day,day', 'names a key twice'],
    ['format=xml', 'format=xml: use json or csv'],
  ])('400 with a clear message: %s', async (query, message) => {
    const res = await get(`/v1/spend?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('TM_REQUEST_INVALID');
    expect(res.body.error?.message).toContain(message);
  });
});

describe('GET /v1/requests', () => {
  it('the raw records of one subject, newest first, paged; 400 for a foreign cursor', async () => {
    const first = await get('/v1/requests?subject=acme&limit=2');
    const records = first.body.records as Record<string, unknown>[];
    expect(records.map((r) => r.time)).toEqual(['2026-02-10T01:00:00.000Z', '2026-02-01T09:00:00.000Z']);
    expect(records[0]).toMatchObject({ subject: 'acme', policy: 'llm/team', input_tokens: 300, rejected: false, stream: true });
    const second = await get(`/v1/requests?subject=acme&limit=2&cursor=${String(first.body.next)}`);
    expect((second.body.records as Record<string, unknown>[]).map((r) => r.time)).toEqual(['2026-01-31T22:30:00.000Z']);
    expect(second.body.next).toBeNull();
    expect((await get('/v1/requests?cursor=abc')).status).toBe(400);
    expect((await get('/v1/requests?limit=0')).body.error?.message).toContain('limit=0: expected an integer from 1 to 1000');
    const csv = await get('/v1/requests?subject=acme&format=csv');
    expect(csv.text.split('\r\n')[0]).toMatch(/^time,id,request_id,policy,limit,tier,override,subject,/);
  });
});

describe('GET /v1/budgets', () => {
  it('from the memory counter store: every subject with usage, by share of the budget, paged', async () => {
    for (const [tenant, input] of [['acme', 900], ['beta', 100], ['gamma', 450]] as const) {
      const a = await limiter.admit({
        requestId: tenant, provider: 'openai', endpoint: 'openai.chat', host: 'h', path: '/v1/chat/completions', method: 'POST',
        headers: { 'x-tenant-id': tenant }, model: 'gpt-4o', inputTokens: input,
      });
      expect(a.rejection).toBeUndefined();
    }
    const res = await get('/v1/budgets?policy=team&namespace=llm&limit=daily');
    expect(res.body).toMatchObject({ policy: 'llm/team', source: 'counters', total: 3, next_offset: null });
    expect(res.body.rows?.map((r) => [r.subject, r.used, r.budget, r.share, r.reset_at])).toEqual([
      ['acme', 900, 1000, 0.9, '2026-02-11T00:00:00.000Z'], ['gamma', 450, 1000, 0.45, '2026-02-11T00:00:00.000Z'], ['beta', 100, 1000, 0.1, '2026-02-11T00:00:00.000Z'],
    ]);
    const page = await get('/v1/budgets?policy=llm/team&page_size=2&offset=2');
    expect(page.body).toMatchObject({ total: 9, offset: 2, next_offset: 4 });
    const perModel = await get('/v1/budgets?policy=llm/team&limit=per-model');
    expect(perModel.body.rows?.[0]).toMatchObject({ subject: 'acme', model: 'gpt-4o', used: 900, budget: 2000, share: 0.45 });
    expect((await get('/v1/budgets?policy=llm/team&limit=nope')).body.error?.message).toContain('limit=nope: policy llm/team has daily, per-model, spend');
    expect((await get('/v1/budgets?policy=llm/team', {})).status).toBe(401);
    expect((await get('/v1/budgets')).status).toBe(400);
  });

  it('from the ledger when the counter store cannot list (Redis): settled usage this window', async () => {
    const noList: CounterStore = { kind: 'redis', reserve: (r) => counters.reserve(r), settle: (...a) => counters.settle(...a), peek: (...a) => counters.peek(...a), close: () => Promise.resolve() };
    const other = await startAdminServer({
      registry: new Registry(), ready: () => true, adminToken: TOKEN, now: () => NOW, ledger: createLedgerQuery(store),
      usage: { policies: () => matcher.policies, store: noList, now: () => NOW },
    }, '127.0.0.1', 0);
    try {
      const res = await fetch(`http://127.0.0.1:${other.port}/v1/budgets?policy=llm/team`, { headers: auth });
      const body = (await res.json()) as { source: string; rows: Record<string, unknown>[] };
      expect(body.source).toBe('ledger');
      expect(body.rows.filter((r) => r.limit === 'daily').map((r) => [r.subject, r.used])).toEqual([['acme', 400], ['zed', 60]]);
      expect(body.rows.filter((r) => r.limit === 'spend').map((r) => [r.subject, r.used, r.share])).toEqual([['Team, "B"', 4, 4], ['acme', 2.25, 2.25], ['zed', 0.5, 0.5]]);
      expect(body.rows.find((r) => r.limit === 'per-model' && r.subject === 'acme')).toMatchObject({ model: 'gpt-4o-mini', used: 300 });
    } finally {
      await other.close();
    }
  });
});

describe('tokenmeter spend', () => {
  const capture = (): { stream: Writable; text: () => string } => {
    let out = '';
    return { stream: new Writable({ write: (c: Buffer, _e, cb) => { out += c.toString(); cb(); } }), text: () => out };
  };
  it('prints the spend rows as a table, JSON or CSV from the ledger file; exit 2 for bad options or no ledger', async () => {
    const { config } = loadConfig(['spend', '--ledger-url', `sqlite:${file}`], {});
    const out = capture();
    const err = capture();
    const io = { stdout: out.stream, stderr: err.stream };
    const logger = createLogger('silent');
    expect(await runSpend({ from: '2026-01', to: '2026-02-06', groupBy: 'policy' }, config, io, logger, NOW)).toBe(0);
    expect(out.text()).toContain('2026-01-01T00:00:00.000Z .. 2026-02-06T00:00:00.000Z (UTC)');
    expect(out.text()).toMatch(/llm\/ips\s+1\s+0\s+1600\s+20\s+0\s+50\s+0\s+16/);
    expect(await runSpend({ from: '2026-01', to: '2026-02-06', groupBy: 'month', format: 'json' }, config, io, logger, NOW)).toBe(0);
    expect(await runSpend({ from: '2026-01', to: '2026-02-06', subject: 'sk-live-secret', format: 'csv' }, config, io, logger, NOW)).toBe(0);
    expect(out.text()).toContain(`${hashKey('sk-live-secret')},1,0,800,20,0,50,0,8`);
    expect(await runSpend({ groupBy: 'tenant' }, config, io, logger, NOW)).toBe(2);
    expect(err.text()).toContain('--group-by: unknown "tenant"');
    const missing = loadConfig(['spend', '--data-dir', join(dir, 'nowhere')], {}).config;
    expect(await runSpend({}, missing, io, logger, NOW)).toBe(2);
    expect(err.text()).toContain('no ledger at');
  });
});
