import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ledgerStoreContract, usageRecord } from '../../test/helpers/ledger-contract.js';
import { recordRow } from './columns.js';
import { createLedgerQuery, splitRange } from './query.js';
import { SqliteLedger } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-sqlite-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

ledgerStoreContract('SQLite', () => SqliteLedger.open(join(dir, `l${++n}`, 'ledger.sqlite')));

interface Db {
  exec(sql: string): void;
  prepare(sql: string): { run(...p: unknown[]): unknown; all(...p: unknown[]): Record<string, unknown>[] };
  pragma(p: string, o?: { simple: boolean }): unknown;
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => Db;

/** Schema version 1 as the first ledger release created it: `id` the primary key, a separate `ts` index. */
const V1 = `
CREATE TABLE usage_records (id TEXT PRIMARY KEY, request_id TEXT, ts INTEGER, day TEXT, policy TEXT, limit_name TEXT, tier TEXT, override TEXT,
  subject TEXT, provider TEXT, endpoint TEXT, request_model TEXT, response_model TEXT, model TEXT, input_tokens INTEGER, cached_input_tokens INTEGER,
  cache_write_tokens INTEGER, output_tokens INTEGER, reasoning_tokens INTEGER, usage_source TEXT, cost_usd REAL, price_version TEXT, decision TEXT,
  rejected INTEGER, status INTEGER, stream INTEGER, duration_ms REAL);
CREATE INDEX usage_records_ts ON usage_records (ts);
CREATE INDEX usage_records_subject_ts ON usage_records (subject, ts);
CREATE TABLE usage_daily (day TEXT NOT NULL, policy TEXT NOT NULL, subject TEXT NOT NULL, model TEXT NOT NULL, requests BIGINT NOT NULL,
  rejected BIGINT NOT NULL, input_tokens BIGINT NOT NULL, cached_input_tokens BIGINT NOT NULL, cache_write_tokens BIGINT NOT NULL,
  output_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, cost_usd DOUBLE PRECISION NOT NULL, PRIMARY KEY (day, policy, subject, model));
CREATE INDEX usage_daily_policy_day ON usage_daily (policy, day);
CREATE INDEX usage_daily_subject_day ON usage_daily (subject, day);
PRAGMA user_version = 1;`;

describe('SQLite schema', () => {
  it('creates the directory and file, is versioned, and reopens without migrating again', async () => {
    const file = join(dir, 'nested', 'deeper', 'ledger.sqlite');
    const a = await SqliteLedger.open(file);
    expect(await a.version()).toBe(3);
    await a.write([usageRecord()]);
    await a.close();
    const b = await SqliteLedger.open(file);
    expect(await b.version()).toBe(3);
    expect(await b.all('SELECT count(*) AS n FROM usage_records')).toEqual([{ n: 1 }]);
    await b.close();
  });

  it('version 1 → 3: rows kept, unique on (ts, id) instead of an id key plus a ts index, monthly roll-ups filled from the daily ones, daily roll-ups WITHOUT ROWID', async () => {
    const file = join(dir, 'v1', 'ledger.sqlite');
    mkdirSync(join(dir, 'v1'));
    const old = [
      usageRecord({ ts: Date.UTC(2025, 11, 31, 23), costUsd: 1, inputTokens: 1 }),
      usageRecord({ ts: Date.UTC(2026, 0, 1, 1), costUsd: 2, inputTokens: 2 }),
      usageRecord({ ts: Date.UTC(2026, 0, 2, 1), costUsd: 4, inputTokens: 4, subject: 'beta' }),
    ];
    const db = new Database(file);
    db.exec(V1);
    const insert = db.prepare(`INSERT INTO usage_records VALUES (${recordRow(old[0] as never).map(() => '?').join(', ')})`);
    for (const r of old) insert.run(...recordRow(r));
    // Daily roll-ups as version 1 kept them; one of them for a day whose raw rows retention has already pruned.
    db.exec(`INSERT INTO usage_daily SELECT day, policy, subject, model, count(*), sum(rejected), sum(input_tokens), sum(cached_input_tokens),
      sum(cache_write_tokens), sum(output_tokens), sum(reasoning_tokens), sum(cost_usd) FROM usage_records GROUP BY day, policy, subject, model;
      INSERT INTO usage_daily VALUES ('2026-01-01', 'team', 'acme', 'gpt-4o', 5, 0, 50, 0, 0, 0, 0, 8);`);
    db.close();

    const store = await SqliteLedger.open(file);
    try {
      expect(await store.version()).toBe(3);
      expect(await store.all('SELECT count(*) AS n FROM usage_records')).toEqual([{ n: 3 }]);
      // The daily roll-ups rebuilt WITHOUT ROWID (no rowid column to select), every row and both indexes kept.
      await expect(store.all('SELECT rowid FROM usage_daily')).rejects.toThrow(/rowid/);
      expect(await store.all('SELECT day, subject, model, requests, cost_usd FROM usage_daily ORDER BY day, subject, model')).toEqual([
        { day: '2025-12-31', subject: 'acme', model: 'gpt-4o-mini-2024-07-18', requests: 1, cost_usd: 1 },
        { day: '2026-01-01', subject: 'acme', model: 'gpt-4o', requests: 5, cost_usd: 8 },
        { day: '2026-01-01', subject: 'acme', model: 'gpt-4o-mini-2024-07-18', requests: 1, cost_usd: 2 },
        { day: '2026-01-02', subject: 'beta', model: 'gpt-4o-mini-2024-07-18', requests: 1, cost_usd: 4 },
      ]);
      expect((await store.all("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_daily' AND sql IS NOT NULL ORDER BY name")).map((r) => r.name))
        .toEqual(['usage_daily_policy_day', 'usage_daily_subject_day']);
      expect((await store.all("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_records' ORDER BY name")).map((r) => r.name))
        .toEqual(['sqlite_autoindex_usage_records_1', 'usage_records_subject_ts']);
      expect((await store.all("PRAGMA index_info('sqlite_autoindex_usage_records_1')")).map((r) => r.name)).toEqual(['ts', 'id']);
      // Still idempotent on the records written before the migration.
      expect(await store.write([...old, usageRecord({ ts: Date.UTC(2026, 0, 3), costUsd: 16 })])).toEqual({ written: 1, duplicates: 3 });
      const months = await store.all('SELECT month, subject, model, requests, cost_usd FROM usage_monthly ORDER BY month, subject, model');
      expect(months).toEqual([
        { month: '2025-12', subject: 'acme', model: 'gpt-4o-mini-2024-07-18', requests: 1, cost_usd: 1 },
        { month: '2026-01', subject: 'acme', model: 'gpt-4o', requests: 5, cost_usd: 8 },
        { month: '2026-01', subject: 'acme', model: 'gpt-4o-mini-2024-07-18', requests: 2, cost_usd: 18 },
        { month: '2026-01', subject: 'beta', model: 'gpt-4o-mini-2024-07-18', requests: 1, cost_usd: 4 },
      ]);
      const q = createLedgerQuery(store);
      expect((await q.spend({ from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 1, 1), groupBy: ['subject'] })).map((r) => [r.subject, r.requests, r.cost_usd]))
        .toEqual([['acme', 7, 26], ['beta', 1, 4]]);
    } finally {
      await store.close();
    }
  });
});

describe('SQLite batch roll-up groups', () => {
  it('keeps keys apart whose values hold a NUL (the in-batch group id joins the values with NUL)', async () => {
    const store = await SqliteLedger.open(join(dir, 'nul', 'ledger.sqlite'));
    try {
      const ts = Date.UTC(2026, 0, 5);
      expect(await store.write([usageRecord({ ts, policy: 'p', subject: 'a\u0000b' }), usageRecord({ ts, policy: 'p\u0000a', subject: 'b' })]))
        .toEqual({ written: 2, duplicates: 0 });
      for (const table of ['usage_daily', 'usage_monthly']) {
        expect(await store.all(`SELECT policy, subject, requests FROM ${table} ORDER BY policy`)).toEqual([
          { policy: 'p', subject: 'a\u0000b', requests: 1 },
          { policy: 'p\u0000a', subject: 'b', requests: 1 },
        ]);
      }
    } finally {
      await store.close();
    }
  });
});

describe('SQLite threads', () => {
  it('run only while there is work: started by a call, stopped when idle, started again by the next', async () => {
    const store = await SqliteLedger.open(join(dir, 'idle', 'ledger.sqlite'), { idleMs: 300 });
    const stopped = async (): Promise<void> => {
      for (let i = 0; i < 100 && (store.running.writer || store.running.reader); i++) await new Promise((r) => setTimeout(r, 100));
      expect(store.running).toEqual({ writer: false, reader: false });
    };
    try {
      expect(store.running).toEqual({ writer: true, reader: false });
      await stopped();
      expect(await store.write([usageRecord()])).toEqual({ written: 1, duplicates: 0 });
      expect(store.running.writer).toBe(true);
      expect(await store.all('SELECT count(*) AS n FROM usage_records')).toEqual([{ n: 1 }]);
      expect(store.running.reader).toBe(true);
      await stopped();
      // Calls made back to back while a thread is stopping are answered by a new one.
      const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => store.write([usageRecord({ subject: `s${i}` })])));
      expect(rs.reduce((t, r) => t + r.written, 0)).toBe(5);
      expect(await store.all('SELECT count(*) AS n FROM usage_records')).toEqual([{ n: 6 }]);
    } finally {
      await store.close();
    }
    await expect(store.write([usageRecord()])).rejects.toMatchObject({ code: 'TM_LEDGER_UNAVAILABLE' });
  });
});

describe('splitRange', () => {
  const d = (day: number, h = 0): number => Date.UTC(2026, 0, day, h);
  const parts = (rs: ReturnType<typeof splitRange>): unknown[][] => rs.map((r) => [r.table, ...r.params]);

  it('whole days from roll-ups, partial days from raw rows; a range reaching now takes today (and this month) from its roll-up', () => {
    expect(splitRange(d(1), d(3))).toEqual([{ table: 'usage_daily', where: 'day >= ? AND day < ?', params: ['2026-01-01', '2026-01-03'] }]);
    expect(parts(splitRange(d(1, 6), d(3, 6)))).toEqual([
      ['usage_records', d(1, 6), d(2)], ['usage_daily', '2026-01-02', '2026-01-03'], ['usage_records', d(3), d(3, 6)],
    ]);
    expect(parts(splitRange(d(2), d(3, 6), d(3, 6)))).toEqual([['usage_daily', '2026-01-02', '2026-01-04']]);
    expect(parts(splitRange(d(1), d(3, 6), d(3, 6)))).toEqual([['usage_monthly', '2026-01', '2026-02']]);
    expect(splitRange(d(3, 1), d(3, 2))).toEqual([{ table: 'usage_records', where: 'ts >= ? AND ts < ?', params: [d(3, 1), d(3, 2)] }]);
  });

  it('whole months from the monthly roll-ups, the days around them from the daily ones; none when grouped by day', () => {
    const m = (month: number, day = 1, h = 0): number => Date.UTC(2026, month, day, h);
    expect(parts(splitRange(m(0), m(3)))).toEqual([['usage_monthly', '2026-01', '2026-04']]);
    expect(parts(splitRange(m(0, 20, 6), m(3, 10, 6)))).toEqual([
      ['usage_records', m(0, 20, 6), m(0, 21)], ['usage_daily', '2026-01-21', '2026-02-01'], ['usage_monthly', '2026-02', '2026-04'],
      ['usage_daily', '2026-04-01', '2026-04-10'], ['usage_records', m(3, 10), m(3, 10, 6)],
    ]);
    expect(parts(splitRange(m(0), m(3), Infinity, false))).toEqual([['usage_daily', '2026-01-01', '2026-04-01']]);
    // December into January across the year boundary; not reaching now, January's days stay daily.
    expect(parts(splitRange(Date.UTC(2025, 11, 1), m(0, 15)))).toEqual([['usage_monthly', '2025-12', '2026-01'], ['usage_daily', '2026-01-01', '2026-01-15']]);
    // Reaching now in the middle of March: February whole, March to date from its roll-up.
    expect(parts(splitRange(m(1), m(2, 10, 12), m(2, 10, 12)))).toEqual([['usage_monthly', '2026-02', '2026-04']]);
    expect(parts(splitRange(m(1, 15), m(2, 10, 12), m(2, 10, 12)))).toEqual([['usage_daily', '2026-02-15', '2026-03-01'], ['usage_monthly', '2026-03', '2026-04']]);
  });
});
