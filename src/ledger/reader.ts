/**
 * The ledger opened for reading only, for `tokenmeter console`: the SQLite file another process writes (a read-only
 * connection on its own thread; WAL lets it read while the ext_proc writes), or PostgreSQL through a small pool
 * without running migrations (the ext_proc owns the schema; the console's database user may be read-only).
 */
import { existsSync } from 'node:fs';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import type { Logger } from '../log/logger.js';
import { PostgresLedger } from './postgres.js';
import type { Param, Row, SqlSource } from './query.js';
import { SqliteThread } from './sqlite-worker.js';
import { describeTarget, type LedgerTarget } from './target.js';

export interface LedgerReader extends SqlSource {
  readonly description: string;
  close(): Promise<void>;
}

/** Undefined for `none`; throws LEDGER_UNAVAILABLE when the SQLite file does not exist (yet). */
export function openLedgerReader(target: LedgerTarget, opts: { poolSize: number; logger: Logger }): LedgerReader | undefined {
  if (target.kind === 'none') return undefined;
  const description = describeTarget(target);
  if (target.kind === 'sqlite') {
    if (!existsSync(target.file)) {
      throw new TokenmeterError(ErrorCodes.LEDGER_UNAVAILABLE, `no ledger at ${target.file}: point --data-dir or --ledger-url at the file tokenmeter extproc writes`);
    }
    const thread = new SqliteThread(target.file, { readonly: true });
    return { dialect: 'sqlite', description, all: (sql: string, params?: Param[]): Promise<Row[]> => thread.all(sql, params), close: () => thread.close() };
  }
  const pg = new PostgresLedger({ url: target.url, poolSize: opts.poolSize, logger: opts.logger });
  return { dialect: 'postgres', description, all: (sql: string, params?: Param[]): Promise<Row[]> => pg.all(sql, params), close: () => pg.close() };
}
