/**
 * The PostgreSQL ledger store, for several replicas and real deployments (`--ledger-url postgres://…`). node-postgres
 * (`pg`) with a pool of at most `poolSize` connections (chosen over `postgres` by measurement: README "Performance").
 *
 * - Schema: versioned migrations in `tokenmeter_schema_migrations`, applied at start-up under an advisory lock (so
 *   replicas starting together apply each once). A database that is down at start-up is migrated on the first write
 *   that reaches it; until then records queue and spill.
 * - `usage_records` is partitioned by month on `ts` (partitions created two months ahead, a default partition for
 *   anything else), so retention drops whole months instead of deleting rows.
 * - A batch is one statement: the rows as arrays (`unnest`), `INSERT … ON CONFLICT DO NOTHING RETURNING` the new
 *   ones (only the columns the roll-ups sum), and the daily and monthly roll-ups upserted from exactly those
 *   (rollups.ts).
 */
import pg from 'pg';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import type { Logger } from '../log/logger.js';
import { RECORD_COLUMNS, TOTALS, recordRow, type ColumnType } from './columns.js';
import type { Param, Row, SqlSource } from './query.js';
import type { UsageRecord } from './record.js';
import { MONTHLY, ROLLUP_DDL, monthlyDdl, rollupUpsert } from './rollups.js';
import type { LedgerStore, WriteResult } from './writer.js';

const TYPES: Record<ColumnType, string> = { id: 'uuid', text: 'text', int: 'bigint', real: 'double precision', flag: 'smallint' };
const LOCK_ID = 0x746f6b6d; // "tokm": the advisory lock migrations and partition upkeep take

/** Versioned schema: migration i has version i + 1. Append only. */
const MIGRATIONS: readonly { name: string; sql: string[] }[] = [{
  name: 'usage records (monthly partitions) and daily roll-ups',
  sql: [
    `CREATE TABLE usage_records (${RECORD_COLUMNS.map(([c, t]) => `${c} ${TYPES[t]}${c === 'ts' || c === 'id' ? ' NOT NULL' : ''}`).join(', ')},
      PRIMARY KEY (ts, id)) PARTITION BY RANGE (ts)`,
    'CREATE TABLE usage_records_default PARTITION OF usage_records DEFAULT',
    'CREATE INDEX usage_records_subject_ts ON usage_records (subject, ts)',
    ...ROLLUP_DDL,
  ],
}, {
  name: 'monthly roll-ups (filled from the daily ones)',
  sql: monthlyDdl(),
}];

const arrays = RECORD_COLUMNS.map(([, t], i) => `$${i + 1}::${TYPES[t]}[]`).join(', ');
const names = RECORD_COLUMNS.map(([c]) => c).join(', ');
const WRITE = `WITH batch AS (SELECT * FROM unnest(${arrays}) AS b(${names})),
  ins AS (INSERT INTO usage_records (${names}) SELECT ${names} FROM batch ON CONFLICT (ts, id) DO NOTHING
    RETURNING day, policy, subject, model, rejected, ${TOTALS.join(', ')}),
  up AS (${rollupUpsert('ins')} RETURNING 1),
  upm AS (${rollupUpsert('ins', MONTHLY)} RETURNING 1)
  SELECT (SELECT count(*) FROM ins)::int AS written`;

export interface PostgresOptions {
  url: string;
  /** Connections at most. */
  poolSize: number;
  logger: Logger;
  /** ms to wait for a connection and for a statement. */
  timeoutMs?: number;
  now?: () => number;
}

function monthStart(ms: number, add = 0): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1);
}

const partitionName = (start: number): string => `usage_records_${new Date(start).toISOString().slice(0, 7).replace('-', '_')}`;

function unavailable(err: unknown): TokenmeterError {
  if (err instanceof TokenmeterError) return err;
  return new TokenmeterError(ErrorCodes.LEDGER_UNAVAILABLE, `postgres: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export class PostgresLedger implements LedgerStore, SqlSource {
  readonly kind = 'postgres';
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: PostgresOptions) {
    this.now = opts.now ?? Date.now;
    const timeout = opts.timeoutMs ?? 10_000;
    this.pool = new pg.Pool({
      connectionString: opts.url, max: opts.poolSize, connectionTimeoutMillis: timeout, idleTimeoutMillis: 30_000,
      statement_timeout: timeout * 3, application_name: 'tokenmeter',
    });
    // An idle connection dropped by the server must not crash the process: the next query reconnects.
    this.pool.on('error', (err) => opts.logger.warn({ err: { message: err.message } }, 'ledger: idle PostgreSQL connection closed'));
  }

  /** Migrates now (start-up); on failure the next write tries again. */
  async open(): Promise<void> {
    await this.ensureReady();
  }

  private ensureReady(): Promise<void> {
    this.ready ??= this.migrate().catch((err: unknown) => {
      this.ready = undefined;
      throw unavailable(err);
    });
    return this.ready;
  }

  /** Applied migration versions, in order. */
  async versions(): Promise<number[]> {
    const rows = await this.all('SELECT version FROM tokenmeter_schema_migrations ORDER BY version');
    return rows.map((r) => Number(r.version));
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
      await client.query('CREATE TABLE IF NOT EXISTS tokenmeter_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM tokenmeter_schema_migrations');
      for (let v = rows[0]?.v ?? 0; v < MIGRATIONS.length; v++) {
        const m = MIGRATIONS[v] as (typeof MIGRATIONS)[number];
        for (const sql of m.sql) await client.query(sql);
        await client.query('INSERT INTO tokenmeter_schema_migrations (version, name) VALUES ($1, $2)', [v + 1, m.name]);
        this.opts.logger.info({ version: v + 1, name: m.name }, 'ledger: PostgreSQL schema migrated');
      }
      await this.createPartitions(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Monthly partitions from last month to two months ahead (idempotent; called under the advisory lock). */
  private async createPartitions(client: pg.PoolClient): Promise<void> {
    for (let m = -1; m <= 2; m++) {
      const start = monthStart(this.now(), m);
      const end = monthStart(this.now(), m + 1);
      await client.query(`CREATE TABLE IF NOT EXISTS ${partitionName(start)} PARTITION OF usage_records FOR VALUES FROM (${start}) TO (${end})`);
    }
  }

  /** Creates the coming months' partitions (run daily). */
  async maintain(): Promise<void> {
    await this.ensureReady();
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
      await this.createPartitions(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw unavailable(err);
    } finally {
      client.release();
    }
  }

  async write(batch: readonly UsageRecord[]): Promise<WriteResult> {
    if (batch.length === 0) return { written: 0, duplicates: 0 };
    await this.ensureReady();
    const rows = batch.map(recordRow);
    const columns = RECORD_COLUMNS.map((_, i) => rows.map((r) => r[i] ?? null));
    try {
      const res = await this.pool.query<{ written: number }>({ name: 'tokenmeter_ledger_write', text: WRITE, values: columns });
      const written = res.rows[0]?.written ?? 0;
      return { written, duplicates: batch.length - written };
    } catch (err) {
      throw unavailable(err);
    }
  }

  async all(sql: string, params: Param[] = []): Promise<Row[]> {
    let i = 0;
    const text = sql.replace(/\?/g, () => `$${++i}`);
    try {
      return (await this.pool.query(text, params)).rows as Row[];
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Drops the monthly partitions wholly older than `cutoffMs` and deletes older rows from the rest. */
  async prune(cutoffMs: number): Promise<number> {
    await this.ensureReady();
    const parts = await this.all(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_records'`);
    for (const { name } of parts) {
      const m = /^usage_records_(\d{4})_(\d{2})$/.exec(String(name));
      if (m && Date.UTC(Number(m[1]), Number(m[2]), 1) <= cutoffMs) await this.all(`DROP TABLE IF EXISTS ${String(name)}`);
    }
    const res = await this.pool.query('DELETE FROM usage_records WHERE ts < $1', [cutoffMs]).catch((err: unknown) => {
      throw unavailable(err);
    });
    return res.rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
