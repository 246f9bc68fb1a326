/**
 * The admin HTTP server on 127.0.0.1:0: health endpoints, POST /v1/count, GET /v1/models, GET /v1/usage (with and
 * without the admin token, after reservations made through a real Limiter on a memory store), and the error replies.
 */
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter, type AdmitInput } from '../limits/limiter.js';
import { createMemoryStore } from '../limits/memory-store.js';
import { ObservedOutput } from '../limits/observed.js';
import { compileMatcher } from '../policy/match.js';
import { parsePolicies } from '../policy/parse.js';
import { policyKey } from '../policy/types.js';
import { startAdminServer, type AdminServer } from './server.js';

const POLICIES = `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: team}
spec:
  match: {paths: [/v1/chat]}
  subject: {from: Header, name: x-tenant-id, onMissing: Shared}
  limits:
  - {name: per-minute, tokens: 1000, window: 1m, count: Total}
  - {name: per-model-day, tokens: 5000, window: Day, count: Input, perModel: true}
  - {name: spend, costUSD: 2, window: Month}
  reservation: {output: MaxTokens, defaultMaxTokens: 100}
---
apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: keys, namespace: llm}
spec:
  match: {paths: [/v1/embeddings]}
  subject: {from: APIKey}
  limits:
  - {name: hourly, tokens: 100000, window: 1h}
  reservation: {output: None}
---
apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: plans}
spec:
  match: {paths: [/v1/responses]}
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: 1000, window: Day}
  tiers:
    selector: {from: Header, name: x-plan}
    default: free
    plans:
    - {name: free}
    - {name: pro, limits: [{name: daily, tokens: 50000}]}
  overrides:
  - {subject: acme, name: acme-contract, limits: [{name: daily, tokens: 9000}]}
  - {subject: eval, exempt: true}
  reservation: {output: None}
`;

const T0 = Date.UTC(2026, 0, 31, 23, 59, 30);
const TOKEN = 's3cret-admin-token';
const MAX_BODY = 2048;

const parsed = parsePolicies(POLICIES);
const matcher = compileMatcher(parsed.policies);
const store = createMemoryStore();
const limiter = new Limiter({ store, matcher: () => matcher, observed: new ObservedOutput(), reservationTtlMs: 60_000, now: () => T0 });

let admin: AdminServer;
let bare: AdminServer;
let base: string;

beforeAll(async () => {
  expect(parsed.errors).toEqual([]);
  admin = await startAdminServer({
    registry: new Registry(), ready: () => true, maxRequestBodyBytes: MAX_BODY, adminToken: TOKEN,
    usage: { policies: () => matcher.policies, store, now: () => T0 },
    loadedPolicies: () => ({ source: 'configmap', version: 'v-abc', policies: matcher.policies.map(policyKey) }),
  }, '127.0.0.1', 0);
  bare = await startAdminServer({ registry: new Registry(), ready: () => false }, '127.0.0.1', 0);
  base = `http://127.0.0.1:${admin.port}`;
});

afterAll(async () => {
  await admin.close();
  await bare.close();
  await store.close();
});

const auth = { authorization: `Bearer ${TOKEN}` };
type Json = Record<string, unknown> & { error?: { message: string; code: string } };
async function call(path: string, init: RequestInit = {}, server = base): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(`${server}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text.startsWith('{') ? JSON.parse(text) : { text }) as Json };
}
const post = (path: string, body: string, server?: string): ReturnType<typeof call> => call(path, { method: 'POST', body }, server);

function admit(over: Partial<AdmitInput>): AdmitInput {
  return {
    requestId: 'r', provider: 'openai', endpoint: 'openai.chat', host: 'api.openai.com', path: '/v1/chat/completions', method: 'POST',
    headers: {}, model: 'gpt-4o-2024-08-06', maxOutputTokens: 100, inputTokens: 200, ...over,
  };
}

describe('health endpoints', () => {
  it('keep answering as before', async () => {
    expect((await call('/healthz')).status).toBe(200);
    expect((await call('/readyz', {}, `http://127.0.0.1:${bare.port}`)).status).toBe(503);
    const m = await fetch(`${base}/metrics`);
    expect(m.status).toBe(200);
  });
});

describe('GET /v1/policies', () => {
  it('reports the source, the limits version loaded and the policies; none when budgets are off', async () => {
    const res = await call('/v1/policies');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ source: 'configmap', version: 'v-abc', policies: ['team', 'llm/keys', 'plans'] });
    expect((await call('/v1/policies', {}, `http://127.0.0.1:${bare.port}`)).body).toEqual({ source: 'none', version: null, policies: [] });
    expect((await call('/v1/policies', { method: 'POST' })).status).toBe(405);
  });
});

describe('POST /v1/count', () => {
  const chat = JSON.stringify({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'How many tokens is this?' }] });

  it('counts and prices a body, sniffing its format', async () => {
    const { status, body, headers } = await post('/v1/count', chat);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json');
    expect(body).toMatchObject({
      encoding: 'o200k_base', exact: true, endpoint: 'openai.chat', model: 'gpt-4o', max_output_tokens: 50,
      price: { input: 2.5, cached_input: 1.25, output: 10 }, estimated_cost_usd: { output_at_max_tokens: 0.0005 },
    });
    expect(body['input_tokens']).toBeGreaterThan(5);
  });

  it('takes ?endpoint= and ?path= (with the path model)', async () => {
    const anthropic = await post('/v1/count?endpoint=anthropic.messages', JSON.stringify({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hi' }] }));
    expect(anthropic.body).toMatchObject({ endpoint: 'anthropic.messages', encoding: 'estimate:anthropic', exact: false, price: { input: 1 } });
    const path = encodeURIComponent('/v1beta/models/gemini-2.5-pro:generateContent');
    const gemini = await post(`/v1/count?path=${path}`, JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }));
    expect(gemini.body).toMatchObject({ endpoint: 'gemini.generate', endpoint_from: 'path', model: 'gemini-2.5-pro', encoding: 'sentencepiece/gemma3' });
    const model = await post('/v1/count?model=gpt-4.1-nano', chat);
    expect(model.body).toMatchObject({ model: 'gpt-4.1-nano', price: { input: 0.1 } });
  });

  it('400 on bad JSON, an unknown endpoint or an unknown shape', async () => {
    const bad = await post('/v1/count', '{"model": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'TM_JSON_INVALID', message: expect.stringContaining('invalid JSON') as unknown });
    const empty = await post('/v1/count', '');
    expect(empty.body.error?.code).toBe('TM_JSON_INVALID');
    const unknown = await post('/v1/count?endpoint=cohere.chat', chat);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'TM_REQUEST_INVALID', message: expect.stringContaining('unknown endpoint "cohere.chat"') as unknown });
    expect((await post('/v1/count', '{"model":"gpt-4o"}')).body.error?.message).toContain('cannot tell the API format');
  });

  it('413 over the body cap (declared length, and chunked)', async () => {
    const big = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY) }] });
    const declared = await post('/v1/count', big);
    expect(declared.status).toBe(413);
    expect(declared.body.error?.code).toBe('TM_BODY_TOO_LARGE');
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${base}/v1/count`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(big.slice(0, 1500));
      setTimeout(() => req.end(big.slice(1500)), 20);
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ error: { code: 'TM_BODY_TOO_LARGE' } });
    expect((await post('/v1/count', chat)).status).toBe(200); // the server is fine afterwards
  });
});

describe('GET /v1/models', () => {
  it('lists models with encodings and prices, without a token', async () => {
    const { status, body } = await call('/v1/models');
    expect(status).toBe(200);
    const data = body['data'] as { id: string }[];
    const byId = (id: string): unknown => data.find((m) => m.id === id);
    expect(body['prices_as_of']).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(byId('gpt-4o')).toMatchObject({ provider: 'openai', encoding: 'o200k_base', exact: true, price: { input: 2.5, cached_input: 1.25, output: 10 } });
    expect(byId('gpt-3.5-turbo')).toMatchObject({ encoding: 'cl100k_base', exact: true });
    expect(byId('claude-sonnet-4-5')).toMatchObject({ provider: 'anthropic', encoding: 'estimate:anthropic', exact: false, price: { input: 3, output: 15 } });
    expect(byId('gemini-2.5-flash')).toMatchObject({ provider: 'gemini', encoding: 'sentencepiece/gemma3', exact: true });
    expect(byId('gemini-2.0-flash')).toMatchObject({ encoding: 'sentencepiece/gemma' });
    expect(byId('gemini-2.5-pro')).toMatchObject({ price: { input: 1.25, tiers: [{ above_input_tokens: 200_000, input: 2.5, output: 15 }] } });
    expect(body['prices_source']).toMatch(/^genai-prices@\d+\.\d+\.\d+ \(\d{4}-\d\d-\d\d\)$/);
  });
});

describe('GET /v1/usage', () => {
  it('needs the bearer token when one is configured', async () => {
    const none = await call('/v1/usage?policy=team&subject=acme');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(none.body.error?.code).toBe('TM_UNAUTHORIZED');
    expect((await call('/v1/usage?policy=team&subject=acme', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await call('/v1/usage?policy=team&subject=acme', { headers: auth })).status).toBe(200);
  });

  it('reports usage, remaining and reset per limit after reservations and a settle', async () => {
    const a = await limiter.admit(admit({ headers: { 'x-tenant-id': 'acme' } }));
    expect(a.rejection).toBeUndefined();
    const { status, body } = await call('/v1/usage?policy=team&subject=acme&model=gpt-4o', { headers: auth });
    expect(status).toBe(200);
    expect(body['policy']).toBe('team');
    expect(body['subject']).toBe(a.log.subject);
    const limits = body['limits'] as Record<string, unknown>[];
    expect(limits[0]).toEqual({
      name: 'per-minute', window: '1m', unit: 'tokens', limit: 1000, used: 300, remaining: 700,
      reset_at: '2026-02-01T00:00:00.000Z', reset_in_seconds: 30,
    });
    expect(limits[1]).toMatchObject({ name: 'per-model-day', window: 'Day', used: 200, remaining: 4800, model: 'gpt-4o' });
    expect(limits[2]).toMatchObject({ name: 'spend', window: 'Month', unit: 'usd', limit: 2, reset_at: '2026-02-01T00:00:00.000Z' });
    expect(limits[2]?.['used']).toBeCloseTo((200 * 2.5 + 100 * 10) / 1e6, 6);

    await a.settle({ input: 200, cachedInput: 0, cacheWrite: 0, output: 20, reasoning: 0 }, 'gpt-4o');
    const after = await call('/v1/usage?policy=team&subject=acme', { headers: { ...auth, 'x-forwarded-for': '1.2.3.4' } });
    const [minute, perModel] = after.body['limits'] as Record<string, unknown>[];
    expect(minute).toMatchObject({ used: 220, remaining: 780 });
    expect(perModel).toMatchObject({ used: 0, model: '(none)' }); // no model: the counter of requests without one
    const other = await call('/v1/usage?policy=team&subject=globex', { headers: auth });
    expect((other.body['limits'] as Record<string, unknown>[])[0]).toMatchObject({ used: 0, remaining: 1000 });
  });

  it('the shared budget of requests without a subject, and the subject in a header', async () => {
    await limiter.admit(admit({ headers: {}, inputTokens: 10, maxOutputTokens: 5 }));
    const shared = await call('/v1/usage?policy=team&shared=true', { headers: auth });
    expect((shared.body['limits'] as Record<string, unknown>[])[0]).toMatchObject({ used: 15 });
    const viaHeader = await call('/v1/usage?policy=team', { headers: { ...auth, 'x-tokenmeter-subject': 'acme' } });
    expect((viaHeader.body['limits'] as Record<string, unknown>[])[0]).toMatchObject({ used: 220 });
  });

  it('APIKey subjects: the key is hashed like the data plane does (plain or as a Bearer value)', async () => {
    const a = await limiter.admit(admit({
      headers: { authorization: 'Bearer sk-live-123' }, inputTokens: 42, endpoint: 'openai.embeddings', path: '/v1/embeddings', model: 'text-embedding-3-small',
    }));
    expect(a.log.policies).toEqual(['llm/keys']);
    for (const subject of ['sk-live-123', 'Bearer sk-live-123']) {
      const { status, body } = await call(`/v1/usage?policy=llm/keys&subject=${encodeURIComponent(subject)}`, { headers: auth });
      expect(status).toBe(200);
      expect(body).toMatchObject({ policy: 'llm/keys', subject: a.log.subject, limits: [{ name: 'hourly', used: 42, remaining: 99958 }] });
    }
    const byNs = await call('/v1/usage?policy=keys&namespace=llm&subject=sk-other', { headers: auth });
    expect(byNs.body).toMatchObject({ limits: [{ used: 0 }] });
  });

  it('says which tier and override apply: the tier asked for, else the default', async () => {
    const get = async (q: string): Promise<Json> => (await call(`/v1/usage?policy=plans&${q}`, { headers: auth })).body;
    expect(await get('subject=globex')).toMatchObject({ tier: 'free', tier_source: 'default', override: null, exempt: false, limits: [{ name: 'daily', limit: 1000, used: 0 }] });
    const a = await limiter.admit(admit({ headers: { 'x-tenant-id': 'globex', 'x-plan': 'Pro' }, path: '/v1/responses', endpoint: 'openai.responses', inputTokens: 70 }));
    expect(a.log).toMatchObject({ tiers: { plans: 'pro' }, decision: 'allowed' });
    expect(await get('subject=globex&tier=PRO')).toMatchObject({ tier: 'pro', tier_source: 'query', limits: [{ name: 'daily', limit: 50000, used: 70 }] });
    // Same counter under either tier: the usage does not reset when the tier changes.
    expect(await get('subject=globex&tier=free')).toMatchObject({ tier: 'free', tier_source: 'query', limits: [{ limit: 1000, used: 70, remaining: 930 }] });
    expect(await get('subject=acme')).toMatchObject({ override: 'acme-contract', exempt: false, limits: [{ limit: 9000 }] });
    const eval_ = await get('subject=eval');
    expect(eval_).toMatchObject({ override: eval_['subject'] as string, exempt: true, limits: [{ limit: 1000 }] });
    const bad = await call('/v1/usage?policy=plans&subject=acme&tier=gold', { headers: auth });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toBe('policy plans has no tier "gold": its tiers are free, pro');
    expect(await get('subject=acme')).not.toHaveProperty('tier_unknown');
    const tierless = (await call('/v1/usage?policy=team&subject=acme', { headers: auth })).body;
    expect(tierless).not.toHaveProperty('tier');
    expect(tierless).toMatchObject({ override: null, exempt: false });
  });

  it('404 for an unknown policy or when no policies are loaded; 400 without a subject', async () => {
    const unknown = await call('/v1/usage?policy=nope&subject=x', { headers: auth });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.code).toBe('TM_NOT_FOUND');
    expect((await call('/v1/usage?policy=keys&namespace=other&subject=x', { headers: auth })).status).toBe(404);
    const noSubject = await call('/v1/usage?policy=team', { headers: auth });
    expect(noSubject.status).toBe(400);
    expect(noSubject.body.error?.message).toContain('subject=');
    expect((await call('/v1/usage?subject=x', { headers: auth })).status).toBe(400);
    const off = await call('/v1/usage?policy=team&subject=acme', {}, `http://127.0.0.1:${bare.port}`);
    expect(off.status).toBe(404);
    expect(off.body.error?.message).toBe('no policies loaded');
  });
});

describe('routing', () => {
  it('404 for unknown paths, 405 with allow for wrong methods', async () => {
    const nf = await call('/v1/nothing');
    expect(nf.status).toBe(404);
    expect(nf.body.error).toMatchObject({ code: 'TM_NOT_FOUND' });
    const getCount = await call('/v1/count');
    expect(getCount.status).toBe(405);
    expect(getCount.headers.get('allow')).toBe('POST');
    expect(getCount.body.error?.code).toBe('TM_METHOD_NOT_ALLOWED');
    const postModels = await post('/v1/models', '{}');
    expect(postModels.status).toBe(405);
    expect(postModels.headers.get('allow')).toBe('GET, HEAD');
    expect((await call('/healthz', { method: 'DELETE' })).status).toBe(405);
  });
});
