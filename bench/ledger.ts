/**
 * Spend ledger benchmark (prints nothing itself, asserts nothing: returns rows for bench/run.ts):
 * - the PostgreSQL client choice: `pg` vs `postgres` on the same batched insert (unnest arrays, 1,000 rows) and on
 *   small queries;
 * - sustained write rate of one writer (queue → batches → store, roll-ups included) into SQLite and PostgreSQL (with
 *   the batches in flight `tokenmeter extproc` uses: 1 for SQLite, pool − 1 for PostgreSQL), against a raw INSERT of
 *   the same records in the same run (ledger-write.ts);
 * - GET /v1/spend for a month grouped by subject over 10 million records: 29 whole days of roll-ups (as the writer
 *   maintains them for ~9.7 M records: daily rows and the month's rows) plus today's ~330,000 records written
 *   through the store (raw rows and their roll-ups); month to date, as the API's default range, which reads the
 *   monthly roll-ups; and, as the baseline, the same month's 29 whole days read from the daily roll-ups;
 * - ledger queue memory at its bound (100,000 records, the default --ledger-queue);
 * - GET /v1/budgets over 10,000 subjects (memory counters and ledger).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { createLogger } from '../src/log/logger.js';
import { createLedgerMetrics } from '../src/metrics/ledger-metrics.js';
import { PostgresLedger } from '../src/ledger/postgres.js';
import { createLedgerQuery, type SqlSource } from '../src/ledger/query.js';
import { SqliteLedger, WRITER_PRAGMAS } from '../src/ledger/sqlite.js';
import { LedgerWriter, type LedgerStore } from '../src/ledger/writer.js';
import { utcDay } from '../src/ledger/columns.js';
import { benchRecord, compareWrites, postgresCpuUs, rawPostgres, rawSqlite, settledRecords, type WriteRow } from './ledger-write.js';

export type { WriteRow } from './ledger-write.js';

const logger = createLogger('silent');
const DAY = 86_400_000;
const MODELS = ['gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash'];
const record = (i: number, ts: number, subjects: number): ReturnType<typeof benchRecord> => benchRecord(i, ts, i % subjects, MODELS[i % 3] ?? '');
/** Write-rate runs per store (ledger and baseline each). */
const RUNS = 3;

export interface ClientRow { client: string; rowsPerSec: number; cpuUsPerRow: number; queriesPerSec: number }

/** `pg` and `postgres` on the same work: 40 batches of 1,000 rows (unnest arrays), then 2,000 one-row queries. */
export async function compareClients(url: string): Promise<ClientRow[]> {
  const require = createRequire(import.meta.url);
  const postgres = require('postgres') as (url: string, o: object) => { unsafe(q: string, p?: unknown[], o?: object): Promise<unknown>; end(): Promise<void> };
  const ddl = 'CREATE TABLE IF NOT EXISTS client_bench (id uuid PRIMARY KEY, ts bigint, subject text, model text, input bigint, output bigint, cost double precision)';
  const sql = 'INSERT INTO client_bench SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::float8[]) ON CONFLICT DO NOTHING';
  const batch = (k: number): unknown[][] => {
    const rows = Array.from({ length: 1000 }, (_, i) => record(k * 1000 + i, Date.now(), 500));
    return [rows.map((r) => r.id), rows.map((r) => r.ts), rows.map((r) => r.subject), rows.map((r) => r.requestModel), rows.map((r) => r.inputTokens), rows.map((r) => r.outputTokens), rows.map((r) => r.costUsd)];
  };
  const run = async (name: string, insert: (values: unknown[][]) => Promise<unknown>, query: (i: number) => Promise<unknown>): Promise<ClientRow> => {
    await insert(batch(999));
    const batches = Array.from({ length: 40 }, (_, k) => batch(k));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const b of batches) await insert(b);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    const q0 = performance.now();
    for (let i = 0; i < 2000; i++) await query(i);
    return { client: name, rowsPerSec: 40_000 / seconds, cpuUsPerRow: (cpu.user + cpu.system) / 40_000, queriesPerSec: 2000 / ((performance.now() - q0) / 1000) };
  };
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await pool.query(ddl);
  const client = postgres(url, { max: 1, onnotice: () => undefined });
  const rounds: ClientRow[][] = [[], []];
  for (let round = 0; round < 3; round++) {
    await pool.query('TRUNCATE client_bench');
    rounds[0]?.push(await run('pg', (v) => pool.query({ name: 'ins', text: sql, values: v }), (i) => pool.query('SELECT $1::text AS s', [`s${i}`])));
    await pool.query('TRUNCATE client_bench');
    rounds[1]?.push(await run('postgres', (v) => client.unsafe(sql, v, { prepare: true }), (i) => client.unsafe('SELECT $1::text AS s', [`s${i}`], { prepare: true })));
  }
  await pool.end();
  await client.end();
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[1] ?? NaN;
  return rounds.map((r) => ({
    client: `${r[0]?.client ?? ''} (median of 3)`, rowsPerSec: median(r.map((x) => x.rowsPerSec)), cpuUsPerRow: median(r.map((x) => x.cpuUsPerRow)), queriesPerSec: median(r.map((x) => x.queriesPerSec)),
  }));
}

export interface SpendRow { store: string; rollupRows: number; rawRows: number; records: number; ms: number; dailyMs: number; groups: number }

type RollupRow = (string | number)[];

/**
 * A month of 10 M records: roll-up rows for 29 whole days (10,000 subjects × 3 models, as the writer would have
 * summed ~9.7 M records into them: the daily rows and the month's rows), plus the current day's records written raw
 * through the store; then the month-to-date report grouped by subject, and the same 29 days from the daily
 * roll-ups, timed alternately (median of 5).
 */
export async function monthReport(store: LedgerStore & SqlSource, name: string, insertRollups: (daily: RollupRow[], monthly: RollupRow[]) => Promise<void>): Promise<SpendRow> {
  const monthStart = Date.UTC(2026, 0, 1);
  const today = monthStart + 29 * DAY;
  const subjects = 10_000;
  const perDay = Math.round(10_000_000 / 30);
  const n = Math.round(perDay / subjects / 3);
  const daily: RollupRow[] = [];
  const monthly: RollupRow[] = [];
  for (let s = 0; s < subjects; s++) {
    for (const model of MODELS) {
      for (let d = 0; d < 29; d++) daily.push([utcDay(monthStart + d * DAY), 'llm/team', `tenant-${s}`, model, n, 0, n * 850, n * 100, 0, n * 200, 0, n * 0.00045]);
      monthly.push(['2026-01', 'llm/team', `tenant-${s}`, model, 29 * n, 0, 29 * n * 850, 29 * n * 100, 0, 29 * n * 200, 0, 29 * n * 0.00045]);
    }
  }
  await insertRollups(daily, monthly);
  for (let i = 0; i < perDay; i += 5000) await store.write(Array.from({ length: Math.min(5000, perDay - i) }, (_, k) => record(i + k, today + ((i + k) % (12 * 3600_000)), subjects)));
  const q = createLedgerQuery(store);
  const times: number[] = [];
  const dailyTimes: number[] = [];
  let groups = 0;
  for (let r = 0; r < 5; r++) {
    let t0 = performance.now();
    groups = (await q.spend({ from: monthStart, to: today + 12 * 3600_000, now: today + 12 * 3600_000, groupBy: ['subject'] })).length;
    times.push(performance.now() - t0);
    t0 = performance.now();
    await q.spend({ from: monthStart, to: today, groupBy: ['subject'] });
    dailyTimes.push(performance.now() - t0);
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[2] ?? NaN;
  return { store: name, rollupRows: daily.length, rawRows: perDay, records: perDay * 30, ms: median(times), dailyMs: median(dailyTimes), groups };
}

export async function sqliteRows(quick: boolean): Promise<{ write: WriteRow; report: SpendRow | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-sqlite-'));
  try {
    const records = settledRecords(quick ? 20_000 : 200_000);
    const write = await compareWrites({
      name: 'SQLite', records, runs: quick ? 1 : RUNS, concurrency: 1,
      ledger: (run) => SqliteLedger.open(join(dir, `w${run}.sqlite`)), baseline: (run) => rawSqlite(join(dir, `raw${run}.sqlite`), WRITER_PRAGMAS),
    });
    if (quick) return { write, report: undefined };
    const big = await SqliteLedger.open(join(dir, 'month.sqlite'));
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (f: string) => { prepare(s: string): { run(...a: unknown[]): void }; transaction(f: () => void): () => void; close(): void };
    const report = await monthReport(big, 'SQLite', (daily, monthly) => {
      const db = new Database(join(dir, 'month.sqlite'));
      const cols = '(policy, subject, model, requests, rejected, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_usd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)';
      const d = db.prepare(`INSERT INTO usage_daily (day, ${cols.slice(1)}`);
      const m = db.prepare(`INSERT INTO usage_monthly (month, ${cols.slice(1)}`);
      db.transaction(() => {
        daily.forEach((r) => d.run(...r));
        monthly.forEach((r) => m.run(...r));
      })();
      db.close();
      return Promise.resolve();
    });
    await big.close();
    return { write, report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function postgresRows(url: string, port: number, quick: boolean): Promise<{ write: WriteRow; report: SpendRow | undefined; clients: ClientRow[] }> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const fresh = async (db: string): Promise<string> => {
    await admin.query(`DROP DATABASE IF EXISTS ${db}`);
    await admin.query(`CREATE DATABASE ${db}`);
    return url.replace(/\/[^/]*$/, `/${db}`);
  };
  try {
    const clients = await compareClients(await fresh('bench_clients'));
    const records = settledRecords(quick ? 20_000 : 200_000);
    const write = await compareWrites({
      name: 'PostgreSQL (3 batches in flight, the default pool of 4)', records, runs: quick ? 1 : RUNS, concurrency: 3,
      ledger: async (run) => {
        const store = new PostgresLedger({ url: await fresh(`bench_write_${run}`), poolSize: 4, logger });
        await store.open();
        return store;
      },
      baseline: async (run) => rawPostgres(await fresh(`bench_raw_${run}`), 4), serverCpuUs: postgresCpuUs(port),
    });
    if (quick) return { write, report: undefined, clients };
    const monthUrl = await fresh('bench_month');
    const big = new PostgresLedger({ url: monthUrl, poolSize: 4, logger, now: () => Date.UTC(2026, 0, 20) });
    await big.open();
    const report = await monthReport(big, 'PostgreSQL', async (daily, monthly) => {
      const pool = new pg.Pool({ connectionString: monthUrl, max: 1 });
      const types = '$1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::float8[]';
      for (const [table, rows] of [['usage_daily', daily], ['usage_monthly', monthly]] as const) {
        for (let i = 0; i < rows.length; i += 10_000) {
          const chunk = rows.slice(i, i + 10_000);
          await pool.query(`INSERT INTO ${table} SELECT * FROM unnest(${types})`, Array.from({ length: 12 }, (_, c) => chunk.map((r) => r[c])));
        }
      }
      await pool.query('ANALYZE');
      await pool.end();
    });
    await big.close();
    return { write, report, clients };
  } finally {
    await admin.end();
  }
}

/** Heap held by the writer's queue at its bound (the store never answers), per record and in total. */
export function queueMemory(bound: number): { records: number; mib: number; bytesPerRecord: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  const never: LedgerStore = { kind: 'down', write: () => new Promise(() => undefined), close: () => Promise.resolve() };
  const writer = new LedgerWriter({ store: never, metrics: createLedgerMetrics([new Registry()]), logger, maxQueue: bound, batchSize: 1000, flushIntervalMs: 60_000 });
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const now = Date.now();
  for (let i = 0; i < bound; i++) writer.add(record(i, now, 10_000));
  gc?.();
  const bytes = process.memoryUsage().heapUsed - before;
  return { records: writer.queued, mib: bytes / 2 ** 20, bytesPerRecord: bytes / bound };
}

/** GET /v1/budgets' listing over 10,000 subjects with usage (first page of 100), from the memory counter store. */
export async function budgetListing(): Promise<{ subjects: number; ms: number }> {
  const { parsePolicies } = await import('../src/policy/parse.js');
  const { compileMatcher } = await import('../src/policy/match.js');
  const { Limiter } = await import('../src/limits/limiter.js');
  const { createMemoryStore } = await import('../src/limits/memory-store.js');
  const { ObservedOutput } = await import('../src/limits/observed.js');
  const { listBudgets } = await import('../src/admin/budget-list.js');
  const { policies } = parsePolicies(`apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: team}
spec:
  subject: {from: Header, name: x-tenant-id}
  limits: [{name: daily, tokens: 1000000, window: Day}]
  reservation: {output: None}
`);
  const matcher = compileMatcher(policies);
  const store = createMemoryStore();
  const limiter = new Limiter({ store, matcher: () => matcher, observed: new ObservedOutput(), reservationTtlMs: 60_000 });
  for (let s = 0; s < 10_000; s++) {
    await limiter.admit({ requestId: `r${s}`, provider: 'openai', endpoint: 'openai.chat', host: 'h', path: '/v1/chat/completions', method: 'POST', headers: { 'x-tenant-id': `tenant-${s}` }, inputTokens: 1 + (s % 5000) });
  }
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const list = await listBudgets({ store, now: Date.now }, policies[0] as (typeof policies)[number], { offset: 5000, pageSize: 100 });
    times.push(performance.now() - t0);
    if (list.total !== 10_000) throw new Error(`expected 10,000 rows, got ${list.total}`);
  }
  return { subjects: 10_000, ms: times.sort((a, b) => a - b)[2] ?? NaN };
}
