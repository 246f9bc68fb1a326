/**
 * Every recorded exchange in test/fixtures/llm replayed through a real ext_proc server with the ledger on, against
 * SQLite and a real PostgreSQL: exactly one row per metered request, token counts equal to the io.tokenmeter metadata
 * Envoy received, the cost the price table gives for them, a client that disconnects mid-stream recorded with what
 * was consumed, and budget rejections recorded with cost 0 and the limit that rejected them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBudgets, type Budgets } from '../../src/cli/budgets.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { PostgresLedger } from '../../src/ledger/postgres.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import { lookupPrice } from '../../src/policy/prices.js';
import { priceDataVersion } from '../../src/prices/catalogue.js';
import type { Provider } from '../../src/llm/types.js';
import { FALLBACK_PRICE } from '../../src/policy/charge.js';
import { runExchange, splitRandomly, FUNCTIONAL_TIMEOUT_MS, type Exchange } from '../envoy/emulator.js';
import { fixtureFile, hasRequest, wireEntries, wireResponse, type WireEntry } from '../helpers/fixtures.js';
import type { TestStore } from '../helpers/ledger-contract.js';
import { skipWithoutPostgres, startPostgresServer, type PostgresServer } from '../helpers/postgres-server.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { plannedRequest } from '../helpers/budget-traffic.js';

const POLICY = `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: everyone, namespace: llm}
spec:
  subject: {from: Header, name: x-tenant-id, onMissing: Shared}
  limits:
  - {name: tiny, tokens: 1, window: Day, count: Total}
  reservation: {output: None}
  enforcement: {mode: DryRun}
---
apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: poor, namespace: llm}
spec:
  hosts: [poor.example]
  subject: {from: Header, name: x-poor-tenant}
  limits:
  - {name: tiny, tokens: 10, window: Day, count: Total}
  reservation: {output: MaxTokens, defaultMaxTokens: 100}
`;

const entries = wireEntries();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function exchangeFor(e: WireEntry, seed: number): Exchange {
  const url = new URL(e.url);
  const { body: resp, headers: responseHeaders } = wireResponse(e);
  return {
    path: url.pathname + url.search, authority: url.host, requestHeaders: { 'content-type': 'application/json', 'x-request-id': `${e.dir}/${e.name}`, 'x-tenant-id': `tenant-${seed % 3}` },
    requestChunks: [hasRequest(e) ? fixtureFile(e.req) : Buffer.alloc(0)], status: e.status, responseHeaders, responseChunks: splitRandomly(resp, 2 + (seed % 20), seed),
  };
}

/** The price table's cost, computed here from the token counts (not by the code under test). */
function priceHint(md: Record<string, unknown>, host: string): { provider: Provider; inputTokens: number; host: string } {
  return { provider: md.provider as Provider, inputTokens: typeof md.input_tokens === 'number' ? md.input_tokens : 0, host };
}

function expectedCost(model: string | undefined, md: Record<string, unknown>, host: string): number {
  const p = lookupPrice(model, [], priceHint(md, host))?.price ?? FALLBACK_PRICE;
  const n = (k: string): number => (typeof md[k] === 'number' ? md[k] : 0);
  const cached = n('cached_input_tokens');
  const write = n('cache_write_tokens');
  return (Math.max(0, n('input_tokens') - cached - write) * p.input + cached * p.cachedInput + write * p.cacheWrite + n('output_tokens') * p.output) / 1e6;
}

interface Rig {
  t: TestServer;
  budgets: Budgets;
  writer: LedgerWriter;
  store: TestStore;
}

async function rig(store: TestStore): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-replay-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  const { config } = loadConfig(['extproc', '--policies', dir], {});
  const metrics = createMetrics({ maxModelLabels: 50, processMetrics: false });
  const budgets = await createBudgets(config, createLogger('silent'), metrics);
  if (!budgets) throw new Error('no budgets');
  const writer = new LedgerWriter({ store, metrics: metrics.ledger, logger: createLogger('silent'), maxQueue: 10_000, batchSize: 50, flushIntervalMs: 20 });
  const t = await startTestServer({ deps: { limiter: budgets.limiter, metrics, ledger: writer } });
  return { t, budgets, writer, store };
}

function storeSuite(name: string, open: () => Promise<TestStore>, skip = false): void {
  describe.skipIf(skip)(`${name}: every fixture through the emulated Envoy, ledger on`, () => {
    let r: Rig;
    beforeAll(async () => {
      r = await rig(await open());
    }, 60_000);
    afterAll(async () => {
      await r?.t.close();
      await r?.writer.close(2000);
      await r?.budgets.close();
    });

    it('one row per metered request with the tokens Envoy saw and the price table\'s cost; a disconnect and a rejection recorded', async () => {
      const seen = new Map<string, Record<string, unknown>>();
      for (const [i, e] of entries.entries()) {
        const res = await runExchange(r.t.client, exchangeFor(e, i + 1), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED' });
        seen.set(`${e.dir}/${e.name}`, res.dynamicMetadata['io.tokenmeter'] ?? {});
      }
      // A client gone after 2 chunks of a long stream, and a tenant over its 10-token budget.
      const stream = entries.find((e) => e.name === 'oll_deepseek-chat_usage-on-last-content-chunk') as WireEntry;
      const cut = { ...exchangeFor(stream, 1), requestHeaders: { 'content-type': 'application/json', 'x-request-id': 'cut-mid-stream' } };
      await runExchange(r.t.client, cut, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, cancelAfterResponseChunks: 2 }).catch(() => undefined);
      const poor = plannedRequest(1, 'x', 100).exchange;
      const rejected = await runExchange(r.t.client, { ...poor, authority: 'poor.example', requestHeaders: { ...poor.requestHeaders, 'x-poor-tenant': 'broke', 'x-request-id': 'rejected-1' } }, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
      // Larger than the whole 10-token budget: refused as one that can never fit (a 400, not retried).
      expect(rejected.immediate?.status?.code).toBe('BadRequest');

      const want = entries.length + 2;
      const until = Date.now() + 20_000;
      let rows: Record<string, unknown>[] = [];
      while (Date.now() < until) {
        await r.writer.flush();
        rows = await r.store.all('SELECT * FROM usage_records');
        if (rows.length >= want) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(rows).toHaveLength(want);
      const byRequest = new Map(rows.map((row) => [String(row.request_id), row]));
      expect(byRequest.size).toBe(want);
      const num = (v: unknown): number => Number(v ?? 0);
      for (const e of entries) {
        const row = byRequest.get(`${e.dir}/${e.name}`) as Record<string, unknown>;
        const md = seen.get(`${e.dir}/${e.name}`) as Record<string, unknown>;
        expect(row, e.name).toBeDefined();
        expect([num(row.input_tokens), num(row.output_tokens), row.usage_source], e.name).toEqual([md.input_tokens, md.output_tokens, md.usage_source]);
        expect(num(row.cached_input_tokens), e.name).toBe(md.cached_input_tokens ?? 0);
        expect(num(row.cache_write_tokens), e.name).toBe(md.cache_write_tokens ?? 0);
        expect(num(row.reasoning_tokens), e.name).toBe(md.reasoning_tokens ?? 0);
        expect(row.model, e.name).toBe(md.model ?? '');
        expect(num(row.cost_usd), e.name).toBeCloseTo(md.usage_source === 'none' ? 0 : expectedCost(md.model as string | undefined, md, new URL(e.url).host), 12);
        expect(row.price_version, e.name).toBe(lookupPrice(md.model as string | undefined, [], priceHint(md, new URL(e.url).host)) ? priceDataVersion() : 'fallback');
        expect([row.policy, row.decision, row.limit_name], e.name).toEqual(['llm/everyone', 'dry-run-limited', 'tiny']);
        expect(row.subject, e.name).toMatch(/^tenant-[012]$/);
        expect(num(row.status), e.name).toBe(e.status);
        expect(row.tier).toBeNull();
        expect(row.override).toBeNull();
      }
      const cutRow = byRequest.get('cut-mid-stream') as Record<string, unknown>;
      expect(cutRow.usage_source).toBe('estimated');
      expect(num(cutRow.input_tokens)).toBeGreaterThan(0);
      expect(num(cutRow.output_tokens)).toBeGreaterThan(0);
      expect(num(cutRow.cost_usd)).toBeGreaterThan(0);
      expect(cutRow.subject).toBe('(anonymous)');
      const rej = byRequest.get('rejected-1') as Record<string, unknown>;
      expect([rej.policy, rej.limit_name, rej.subject, rej.decision, num(rej.rejected), num(rej.status), num(rej.cost_usd), num(rej.input_tokens)])
        .toEqual(['llm/poor', 'tiny', 'broke', 'never-fits', 1, 400, 0, 0]);
      // Nothing dropped, every write one row: the roll-ups sum to the raw rows.
      expect((await r.t.metrics.ledger.dropped.get()).values.reduce((s, v) => s + v.value, 0)).toBe(0);
      const [raw] = await r.store.all('SELECT count(*) AS n, sum(cost_usd) AS c FROM usage_records');
      const [roll] = await r.store.all('SELECT sum(requests) AS n, sum(cost_usd) AS c FROM usage_daily');
      expect(num(roll?.n)).toBe(num(raw?.n));
      expect(num(roll?.c)).toBeCloseTo(num(raw?.c), 9);
    }, 120_000);
  });
}

const sqliteDir = mkdtempSync(join(tmpdir(), 'tm-ledger-sqlite-'));
dirs.push(sqliteDir);
storeSuite('SQLite', () => SqliteLedger.open(join(sqliteDir, 'ledger.sqlite')));

const skipPg = skipWithoutPostgres();
let server: PostgresServer | undefined;
afterAll(async () => {
  await server?.close();
});
storeSuite('PostgreSQL', async () => {
  server = await startPostgresServer();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('CREATE DATABASE replay');
  await admin.end();
  const store = new PostgresLedger({ url: server.url.replace(/\/postgres$/, '/replay'), poolSize: 4, logger: createLogger('silent') });
  await store.open();
  return store;
}, skipPg);
