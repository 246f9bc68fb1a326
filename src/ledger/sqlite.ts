/**
 * The embedded ledger store (the default): one SQLite file, written by a worker thread (sqlite-worker.ts) in WAL
 * mode and read by a second, read-only connection, so report queries and batch writes neither block each other nor
 * the ext_proc's event loop. One replica per file: several processes must not share it (use PostgreSQL).
 * Schema versions are applied at open (PRAGMA user_version).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RECORD_COLUMNS, ROLLUP_KEY, TOTALS, columnIndex, recordRow, type ColumnType } from './columns.js';
import type { SqlSource } from './query.js';
import type { UsageRecord } from './record.js';
import { ROLLUP_DDL } from './rollups.js';
import { SqliteThread, type Row } from './sqlite-worker.js';
import type { LedgerStore, WriteResult } from './writer.js';

const TYPES: Record<ColumnType, string> = { id: 'TEXT', text: 'TEXT', int: 'INTEGER', real: 'REAL', flag: 'INTEGER' };

/** Versioned schema: entry i brings the database to user_version i + 1. Append only. */
const MIGRATIONS: readonly string[][] = [[
  `CREATE TABLE IF NOT EXISTS usage_records (${RECORD_COLUMNS.map(([c, t]) => `${c} ${TYPES[t]}${c === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')})`,
  'CREATE INDEX IF NOT EXISTS usage_records_ts ON usage_records (ts)',
  'CREATE INDEX IF NOT EXISTS usage_records_subject_ts ON usage_records (subject, ts)',
  ...ROLLUP_DDL,
]];

const INSERT = `INSERT INTO usage_records (${RECORD_COLUMNS.map(([c]) => c).join(', ')})
  VALUES (${RECORD_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`;
/** Roll-up key and summed columns, as positions in recordRow(); NULL policy/subject become '' in the key. */
const KEY = ROLLUP_KEY.map((c) => columnIndex(c));
const SUM = (['rejected', ...TOTALS] as const).map((c) => columnIndex(c));
const ROLLUP = `INSERT INTO usage_daily (${ROLLUP_KEY.join(', ')}, requests, rejected, ${TOTALS.join(', ')})
  VALUES (${[...KEY, 0, ...SUM].map(() => '?').join(', ')})
  ON CONFLICT (${ROLLUP_KEY.join(', ')}) DO UPDATE SET ${['requests', 'rejected', ...TOTALS].map((c) => `${c} = usage_daily.${c} + excluded.${c}`).join(', ')}`;

export class SqliteLedger implements LedgerStore, SqlSource {
  readonly kind = 'sqlite';
  readonly dialect = 'sqlite' as const;
  private readonly writer: SqliteThread;
  private reader: SqliteThread | undefined;

  private constructor(private readonly file: string) {
    this.writer = new SqliteThread(file);
  }

  /** Opens (creating the directory and file) and migrates the database. */
  static async open(file: string): Promise<SqliteLedger> {
    mkdirSync(dirname(file), { recursive: true });
    const store = new SqliteLedger(file);
    try {
      await store.migrate();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
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
    const written = await this.writer.batch({ insert: INSERT, rows: batch.map(recordRow), key: KEY, sum: SUM, rollup: ROLLUP });
    return { written, duplicates: batch.length - written };
  }

  all(sql: string, params: (string | number | null)[] = []): Promise<Row[]> {
    this.reader ??= new SqliteThread(this.file, true);
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
