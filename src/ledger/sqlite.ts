/**
 * The embedded ledger store (the default): one SQLite file, written by a worker thread (sqlite-worker.ts) in WAL
 * mode and read by a second, read-only connection, so report queries and batch writes neither block each other nor
 * the ext_proc's event loop. Each thread runs only while it has work (started on demand, stopped when idle). One
 * replica per file: several processes must not share it (use PostgreSQL). Schema versions are applied at open
 * (PRAGMA user_version).
 *
 * A batch is one transaction: each record inserted (`ON CONFLICT (ts, id) DO NOTHING`), the new ones summed in
 * memory per roll-up key, then one upsert per daily and per monthly group. What a record costs the B-trees: the
 * table row, the (ts, id) key, the (subject, ts) index that pages one subject's records, and its share of the two
 * roll-up upserts (README "Performance").
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RECORD_COLUMNS, ROLLUP_KEY, columnIndex, recordRow, type ColumnType } from './columns.js';
import type { SqlSource } from './query.js';
import type { UsageRecord } from './record.js';
import { ROLLUP_DDL, ROLLUP_SUMS, ROLLUPS, dailyWithoutRowid, monthlyDdl, rollupRowUpsert } from './rollups.js';
import { SqliteThread, type BatchRollup, type Row } from './sqlite-worker.js';
import type { LedgerStore, WriteResult } from './writer.js';

const TYPES: Record<ColumnType, string> = { id: 'TEXT', text: 'TEXT', int: 'INTEGER', real: 'REAL', flag: 'INTEGER' };
const NAMES = RECORD_COLUMNS.map(([c]) => c).join(', ');

/**
 * Versioned schema: entry i brings the database to user_version i + 1. Append only.
 * 2: the raw rows' uniqueness is on (ts, id) — one B-tree that also serves every time-range read and the newest-first
 * paging, instead of an `id` key plus a `ts` index (a record's id is assigned once with its time, so (ts, id) is as
 * unique as id, and is PostgreSQL's key too) — and the monthly roll-ups, filled from the daily ones.
 * 3: the daily roll-ups `WITHOUT ROWID`, like the monthly ones (rollups.ts).
 */
const MIGRATIONS: readonly string[][] = [[
  `CREATE TABLE IF NOT EXISTS usage_records (${RECORD_COLUMNS.map(([c, t]) => `${c} ${TYPES[t]}${c === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')})`,
  'CREATE INDEX IF NOT EXISTS usage_records_ts ON usage_records (ts)',
  'CREATE INDEX IF NOT EXISTS usage_records_subject_ts ON usage_records (subject, ts)',
  ...ROLLUP_DDL,
], [
  `CREATE TABLE usage_records_v2 (${RECORD_COLUMNS.map(([c, t]) => `${c} ${TYPES[t]}${c === 'id' || c === 'ts' ? ' NOT NULL' : ''}`).join(', ')}, UNIQUE (ts, id))`,
  `INSERT INTO usage_records_v2 (${NAMES}) SELECT ${NAMES} FROM usage_records`,
  'DROP TABLE usage_records',
  'ALTER TABLE usage_records_v2 RENAME TO usage_records',
  'CREATE INDEX usage_records_subject_ts ON usage_records (subject, ts)',
  ...monthlyDdl(' WITHOUT ROWID'),
], dailyWithoutRowid()];

/**
 * The writer connection's settings. WAL: readers never block the writer. `synchronous = FULL`: the WAL is synced at
 * every commit, so a batch the store has acknowledged survives a power loss too (with NORMAL only a process crash
 * is survived, a power loss can roll back the commits since the last checkpoint); one fsync per batch of up to
 * --ledger-batch records. Checkpoints every ~40 MiB of WAL instead of SQLite's 4 MiB: a roll-up or index page
 * rewritten by many batches is copied into the database once per checkpoint rather than once per batch; the WAL
 * file is cut back to 64 MiB after a checkpoint.
 */
export const WRITER_PRAGMAS: readonly string[] = ['journal_mode = WAL', 'synchronous = FULL', 'wal_autocheckpoint = 10000', 'journal_size_limit = 67108864'];

const INSERT = `INSERT INTO usage_records (${NAMES}) VALUES (${RECORD_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (ts, id) DO NOTHING`;
/** Each roll-up's key as record positions (the period is the record's day cut to the roll-up's length; NULL policy/subject become ''). */
const BATCH_ROLLUPS: BatchRollup[] = ROLLUPS.map((r) => ({
  sql: rollupRowUpsert(r),
  key: ROLLUP_KEY.map((c): [number, number] => [columnIndex(c), c === 'day' ? r.chars : 0]),
}));
/** Summed record positions, after the count (ROLLUP_SUMS without `requests`). */
const SUM = ROLLUP_SUMS.slice(1).map((c) => columnIndex(c as Exclude<(typeof ROLLUP_SUMS)[number], 'requests'>));

export class SqliteLedger implements LedgerStore, SqlSource {
  readonly kind = 'sqlite';
  readonly dialect = 'sqlite' as const;
  private readonly writer: SqliteThread;
  private reader: SqliteThread | undefined;

  private constructor(private readonly file: string, private readonly idleMs?: number) {
    this.writer = new SqliteThread(file, { pragmas: WRITER_PRAGMAS, ...(idleMs === undefined ? {} : { idleMs }) });
  }

  /**
   * Opens (creating the directory and file) and migrates the database. `idleMs`: how long each connection's thread
   * stays up without work (default 10 s; see sqlite-worker.ts).
   */
  static async open(file: string, opts: { idleMs?: number } = {}): Promise<SqliteLedger> {
    mkdirSync(dirname(file), { recursive: true });
    const store = new SqliteLedger(file, opts.idleMs);
    try {
      await store.migrate();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Whether the writer's and the reader's threads are running now (each stops when idle). */
  get running(): { writer: boolean; reader: boolean } {
    return { writer: this.writer.running, reader: this.reader?.running ?? false };
  }

  /** The schema version the file is at. */
  async version(): Promise<number> {
    const rows = await this.writer.all('PRAGMA user_version');
    return Number(rows[0]?.user_version ?? 0);
  }

  private async migrate(): Promise<void> {
    for (let v = await this.version(); v < MIGRATIONS.length; v++) {
      const steps = [...(MIGRATIONS[v] ?? []), `PRAGMA user_version = ${v + 1}`];
      await this.writer.exec(`BEGIN; ${steps.join(';\n')}; COMMIT;`);
    }
  }

  async write(batch: readonly UsageRecord[]): Promise<WriteResult> {
    if (batch.length === 0) return { written: 0, duplicates: 0 };
    const written = await this.writer.batch({ insert: INSERT, rows: batch.map(recordRow), rollups: BATCH_ROLLUPS, sum: SUM });
    return { written, duplicates: batch.length - written };
  }

  all(sql: string, params: (string | number | null)[] = []): Promise<Row[]> {
    this.reader ??= new SqliteThread(this.file, { readonly: true, ...(this.idleMs === undefined ? {} : { idleMs: this.idleMs }) });
    return this.reader.all(sql, params);
  }

  /** Deletes raw rows older than `cutoffMs` (roll-ups are kept), in chunks; resolves to the rows deleted. */
  async prune(cutoffMs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const [n = 0] = await this.writer.tx([{ sql: 'DELETE FROM usage_records WHERE rowid IN (SELECT rowid FROM usage_records WHERE ts < ? LIMIT 5000)', params: [cutoffMs] }]);
      total += n;
      if (n < 5000) return total;
    }
  }

  async close(): Promise<void> {
    await this.reader?.close();
    await this.writer.close();
  }
}
