/**
 * The spend ledger of `tokenmeter extproc`: the store named by --ledger-url (default: SQLite in --data-dir), the
 * spill directory (DATA_DIR/spill), the journal (DATA_DIR/journal; what a stopped process left is handed to the
 * spill), the writer the sessions hand records to, the query side the admin API reads, and the hourly upkeep
 * (retention; PostgreSQL's coming monthly partitions). Wiring only.
 */
import { join } from 'node:path';
import type { LedgerConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { PostgresLedger } from '../ledger/postgres.js';
import { createLedgerQuery, type LedgerQuery, type SqlSource } from '../ledger/query.js';
import { Journal } from '../ledger/journal.js';
import { SpillDir } from '../ledger/spill.js';
import { SqliteLedger } from '../ledger/sqlite.js';
import { describeTarget, ledgerTarget } from '../ledger/target.js';
import { LedgerWriter, type LedgerSink, type LedgerStore } from '../ledger/writer.js';

const UPKEEP_MS = 3_600_000;
const DAY_MS = 86_400_000;

export type ReadableStore = LedgerStore & SqlSource & { prune(cutoffMs: number): Promise<number> };

export interface Ledger {
  kind: string;
  sink: LedgerSink;
  query: LedgerQuery;
  /** Writes what is queued (spilling what the store cannot take within the deadline) and closes the store. */
  close(deadlineMs: number): Promise<void>;
}

/** Opens the store the config names; undefined for `--ledger-url none`. SQLite that cannot be opened throws. */
export async function openLedgerStore(config: LedgerConfig, logger: Logger): Promise<ReadableStore | undefined> {
  const target = ledgerTarget(config);
  if (target.kind === 'none') return undefined;
  if (target.kind === 'sqlite') return SqliteLedger.open(target.file);
  // pg (and its share of net/tls/crypto code) is loaded only when PostgreSQL is configured: memory at rest.
  const { PostgresLedger } = await import('../ledger/postgres.js');
  const store = new PostgresLedger({ url: target.url, poolSize: config.ledgerPool, logger });
  // A database that is down at start-up must not stop the data plane: records queue, spill, and are written later.
  await store.open().catch((err: unknown) => logger.error({ err, ledger: describeTarget(target) }, 'ledger: PostgreSQL not reachable at start-up; records are queued and spilled until it is'));
  return store;
}

function isPostgres(store: ReadableStore): store is ReadableStore & PostgresLedger {
  return store.kind === 'postgres';
}

export async function createLedger(config: LedgerConfig, logger: Logger, metrics: Metrics): Promise<Ledger | undefined> {
  const store = await openLedgerStore(config, logger);
  if (!store) {
    logger.warn('ledger off (--ledger-url none): usage records are only logged');
    return undefined;
  }
  // A spill segment is read whole when replayed: at most 10,000 records (~7 MiB) at a time, whatever the batch size.
  const spill = new SpillDir({ dir: join(config.dataDir, 'spill'), maxBytes: config.ledgerSpillMaxBytes, segmentRecords: Math.max(1000, Math.min(10_000, config.ledgerBatch * 10)) });
  // A journal left by a process that did not stop cleanly holds records the store may not have: replayed as spill.
  const journal = config.ledgerJournalMs > 0 ? new Journal(join(config.dataDir, 'journal')) : undefined;
  let recovered = 0;
  for (const file of journal?.leftovers ?? []) {
    try {
      recovered += spill.adopt(file);
    } catch (err) {
      logger.error({ err, file }, 'ledger: a journal segment left by a stopped process cannot be read; it is kept for inspection and tried again at the next start');
    }
  }
  if (recovered > 0) {
    metrics.ledger.recovered.inc(recovered);
    logger.warn({ records: recovered }, 'ledger: usage records recovered from the journal of a process that did not stop cleanly; replayed (those already in the store count as duplicates)');
  }
  // PostgreSQL takes batches in parallel on its pool (one connection left for the APIs); SQLite has one writer.
  const postgres = isPostgres(store) ? store : undefined;
  const concurrency = postgres ? Math.max(1, Math.min(4, config.ledgerPool - 1)) : 1;
  const writer = new LedgerWriter({
    store, spill, metrics: metrics.ledger, logger, maxQueue: config.ledgerQueue, batchSize: config.ledgerBatch, flushIntervalMs: config.ledgerFlushMs, concurrency,
    ...(journal ? { journal, journalIntervalMs: config.ledgerJournalMs } : {}),
  });
  const upkeep = async (): Promise<void> => {
    try {
      if (postgres) await postgres.maintain();
      if (config.ledgerRetentionDays > 0) {
        const pruned = await store.prune(Date.now() - config.ledgerRetentionDays * DAY_MS);
        if (pruned > 0) logger.info({ pruned, retention_days: config.ledgerRetentionDays }, 'ledger: raw usage records past retention deleted (roll-ups kept)');
      }
    } catch (err) {
      logger.warn({ err }, 'ledger upkeep failed; retried in an hour');
    }
  };
  void upkeep();
  const timer = setInterval(() => void upkeep(), UPKEEP_MS);
  timer.unref();
  logger.info({ ledger: describeTarget(ledgerTarget(config)), spill: join(config.dataDir, 'spill'), spilled: spill.records }, 'ledger open');
  return {
    kind: store.kind, sink: writer, query: createLedgerQuery(store),
    close: async (deadlineMs) => {
      clearInterval(timer);
      await writer.close(deadlineMs);
    },
  };
}
