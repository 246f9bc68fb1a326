/**
 * The PostgreSQL ledger store against a real server (initdb + postgres on a free port): the store contract, versioned
 * migrations applied once by replicas starting together, monthly partitions, a bounded pool, and a server that is
 * down at start-up and comes up later.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { PostgresLedger } from '../../src/ledger/postgres.js';
import { ledgerStoreContract, usageRecord } from '../helpers/ledger-contract.js';
import { skipWithoutPostgres, startPostgresServer, type PostgresServer } from '../helpers/postgres-server.js';

const skip = skipWithoutPostgres();
let server: PostgresServer;
let n = 0;
const logger = createLogger('silent');

async function freshDatabase(): Promise<string> {
  const name = `ledger_${++n}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return server.url.replace(/\/postgres$/, `/${name}`);
}

async function openStore(url?: string, poolSize = 4): Promise<PostgresLedger> {
  const store = new PostgresLedger({ url: url ?? (await freshDatabase()), poolSize, logger, now: () => Date.UTC(2026, 0, 20) });
  await store.open();
  return store;
}

describe.skipIf(skip)('PostgreSQL ledger store', () => {
  beforeAll(async () => {
    server = await startPostgresServer();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  ledgerStoreContract('PostgreSQL', () => openStore());

  it('replicas starting together apply each migration once; monthly partitions exist around now', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(url)));
    try {
      expect(await (stores[0] as PostgresLedger).versions()).toEqual([1, 2]);
      const parts = await (stores[0] as PostgresLedger).all(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_records' ORDER BY 1`);
      expect(parts.map((p) => p.name)).toEqual(['usage_records_2025_12', 'usage_records_2026_01', 'usage_records_2026_02', 'usage_records_2026_03', 'usage_records_default']);
      await (stores[1] as PostgresLedger).write([usageRecord({ ts: Date.UTC(2026, 1, 2) })]);
      const where = await (stores[2] as PostgresLedger).all('SELECT tableoid::regclass::text AS t FROM usage_records');
      expect(where).toEqual([{ t: 'usage_records_2026_02' }]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('migration 2 fills the monthly roll-ups from the daily ones a version-1 database already has', async () => {
    const url = await freshDatabase();
    const first = await openStore(url);
    try {
      await first.write([usageRecord({ ts: Date.UTC(2025, 11, 31, 23), costUsd: 1 }), usageRecord({ ts: Date.UTC(2026, 0, 1, 1), costUsd: 2 })]);
      // Back to version 1, with a daily roll-up whose raw rows retention has pruned.
      await first.all('DROP TABLE usage_monthly');
      await first.all('DELETE FROM tokenmeter_schema_migrations WHERE version = 2');
      await first.all("INSERT INTO usage_daily VALUES ('2026-01-02', 'team', 'acme', 'gpt-4o', 5, 1, 50, 0, 0, 0, 0, 8)");
    } finally {
      await first.close();
    }
    const store = await openStore(url);
    try {
      expect(await store.versions()).toEqual([1, 2]);
      const rows = await store.all('SELECT month, model, requests, rejected, cost_usd FROM usage_monthly ORDER BY month, model');
      expect(rows.map((r) => [r.month, r.model, Number(r.requests), Number(r.rejected), Number(r.cost_usd)])).toEqual([
        ['2025-12', 'gpt-4o-mini-2024-07-18', 1, 0, 1], ['2026-01', 'gpt-4o', 5, 1, 8], ['2026-01', 'gpt-4o-mini-2024-07-18', 1, 0, 2],
      ]);
      expect(await store.write([usageRecord({ ts: Date.UTC(2026, 0, 3), costUsd: 4 })])).toEqual({ written: 1, duplicates: 0 });
      const jan = await store.all("SELECT sum(requests) AS n, sum(cost_usd) AS c FROM usage_monthly WHERE month = '2026-01'");
      expect([Number(jan[0]?.n), Number(jan[0]?.c)]).toEqual([7, 14]);
    } finally {
      await store.close();
    }
  });

  it('never opens more connections than the pool size', async () => {
    const url = await freshDatabase();
    const store = await openStore(url, 2);
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.write([usageRecord({ subject: `p${i}` })])));
      const rows = await store.all("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'tokenmeter' AND datname = current_database()");
      expect(Number(rows[0]?.n)).toBeLessThanOrEqual(2);
    } finally {
      await store.close();
    }
  });

  it('a database down at start-up: open() fails with TM_LEDGER_UNAVAILABLE, and the first write after it is up migrates', async () => {
    const url = await freshDatabase();
    await server.stop();
    const store = new PostgresLedger({ url, poolSize: 2, logger, timeoutMs: 1000 });
    try {
      await expect(store.open()).rejects.toMatchObject({ code: 'TM_LEDGER_UNAVAILABLE' });
      await expect(store.write([usageRecord()])).rejects.toMatchObject({ code: 'TM_LEDGER_UNAVAILABLE' });
      await server.start();
      expect(await store.write([usageRecord()])).toEqual({ written: 1, duplicates: 0 });
      expect(await store.versions()).toEqual([1, 2]);
    } finally {
      if (!server.running) await server.start();
      await store.close();
    }
  });
});
