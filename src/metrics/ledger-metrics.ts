/**
 * The spend ledger's metrics (src/ledger): records written, duplicates the store already had, records spilled to the
 * local file while the store was down, records dropped (must stay 0: alerted on), queue and spill depth, the age of
 * the oldest record not yet in the store (lag), batch write time and failed writes, journal failures and records
 * recovered from a stopped process's journal. No per-record labels.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type DropReason = 'spill_full' | 'spill_error' | 'closed';

/** What the ledger writer reports at each scrape. */
export interface LedgerBacklog {
  /** Records in the in-memory queue. */
  queued: number;
  /** Records in the spill file, waiting to be replayed. */
  spilled: number;
  /** Time (ms since epoch) the oldest record not yet in the store was queued; undefined when none. */
  oldestQueuedAtMs: number | undefined;
}

export interface LedgerMetrics {
  /** Cost of the recorded requests by the policy they are charged to ("none": no policy) and model (bounded label). */
  spend: Counter<'policy' | 'model'>;
  written: Counter<'store'>;
  duplicates: Counter<'store'>;
  spilled: Counter;
  dropped: Counter<'reason'>;
  writeErrors: Counter<'store'>;
  /** Journal appends that failed (the records are still written from memory; only the crash guarantee is lost). */
  journalErrors: Counter;
  /** Records found in the journal of a stopped process at start-up (handed to the spill files and replayed). */
  recovered: Counter;
  batchDuration: Histogram<'store'>;
  queue: Gauge;
  spill: Gauge;
  lag: Gauge;
  /** Where the backlog gauges read from (the writer, once it exists). */
  watch(backlog: () => LedgerBacklog, now?: () => number): void;
}

export function createLedgerMetrics(registers: Registry[]): LedgerMetrics {
  let read: (() => LedgerBacklog) | undefined;
  let clock: () => number = Date.now;
  const sample = (): LedgerBacklog => read?.() ?? { queued: 0, spilled: 0, oldestQueuedAtMs: undefined };
  const queue = new Gauge({
    name: 'tokenmeter_ledger_queue_records', help: 'Usage records in the ledger\'s in-memory queue, not yet written.', registers,
    collect() {
      this.set(sample().queued);
    },
  });
  const spill = new Gauge({
    name: 'tokenmeter_ledger_spill_records', help: 'Usage records in the local spill file, waiting for the ledger store to come back.', registers,
    collect() {
      this.set(sample().spilled);
    },
  });
  const lag = new Gauge({
    name: 'tokenmeter_ledger_lag_seconds', help: 'Age of the oldest usage record not yet in the ledger store (0 when none).', registers,
    collect() {
      const oldest = sample().oldestQueuedAtMs;
      this.set(oldest === undefined ? 0 : Math.max(0, (clock() - oldest) / 1000));
    },
  });
  return {
    spend: new Counter({
      name: 'tokenmeter_spend_usd_total', help: 'Cost in USD of the requests the ledger records, by the policy each is charged to ("none": no policy matched) and model.',
      labelNames: ['policy', 'model'], registers,
    }),
    written: new Counter({ name: 'tokenmeter_ledger_records_written_total', help: 'Usage records written to the ledger store.', labelNames: ['store'], registers }),
    duplicates: new Counter({
      name: 'tokenmeter_ledger_records_duplicate_total', help: 'Usage records the ledger store already held (a retried batch or a replayed spill): not counted again.',
      labelNames: ['store'], registers,
    }),
    spilled: new Counter({ name: 'tokenmeter_ledger_records_spilled_total', help: 'Usage records written to the local spill file because the queue was full.', registers }),
    dropped: new Counter({
      name: 'tokenmeter_ledger_records_dropped_total', help: 'Usage records lost (spill file full or unwritable, or queued after shutdown). Must stay 0.',
      labelNames: ['reason'], registers,
    }),
    writeErrors: new Counter({ name: 'tokenmeter_ledger_write_errors_total', help: 'Batch writes the ledger store failed (retried).', labelNames: ['store'], registers }),
    journalErrors: new Counter({
      name: 'tokenmeter_ledger_journal_errors_total', help: 'Appends to the local ledger journal that failed: those records are written from memory only (a crash could lose them).', registers,
    }),
    recovered: new Counter({
      name: 'tokenmeter_ledger_records_recovered_total', help: 'Usage records found at start-up in the journal a stopped process left, replayed into the ledger store (already written ones count as duplicates).', registers,
    }),
    batchDuration: new Histogram({
      name: 'tokenmeter_ledger_batch_duration_seconds', help: 'Time to write one batch of usage records (with its roll-ups).',
      labelNames: ['store'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers,
    }),
    queue, spill, lag,
    watch(backlog, now) {
      read = backlog;
      if (now) clock = now;
    },
  };
}
