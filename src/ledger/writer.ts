/**
 * The ledger writer: the sink the ext_proc sessions hand finished usage records to. `add()` is synchronous and never
 * waits for, nor fails because of, the store: records go to a bounded in-memory queue, and a timer writes them in
 * batches (one transaction each, idempotent on the record id, roll-ups included) off the request path.
 *
 * Store down: the batch is retried with capped exponential backoff while new records keep queueing; past the queue
 * bound the oldest records move to the spill directory (spill.ts), which is replayed when the store is back. Only a
 * spill that cannot be written (full, unwritable) loses records, and each one is counted in
 * tokenmeter_ledger_records_dropped_total and logged. close() (SIGTERM): writes what is queued, or spills it when the
 * store cannot take it before the deadline, then closes the store.
 *
 * With a journal (journal.ts), each record is also appended to a local file within `journalIntervalMs`, and the file
 * is let go once the record is in the store or the spill: a `kill -9` then loses only the records of the last journal
 * interval, and the flush interval (how long a partial batch gathers: fewer, larger batches cost less CPU per record)
 * is no longer what a crash can lose. Without one, a `kill -9` loses what is in the queue: at most the records of the
 * last flush interval plus the batch being written (README "Guarantees").
 *
 * The writer knows no SQL: any LedgerStore (SQLite, PostgreSQL, a future ClickHouse or Kafka sink) plugs in.
 */
import type { Logger } from '../log/logger.js';
import type { DropReason, LedgerMetrics } from '../metrics/ledger-metrics.js';
import type { UsageRecord } from './record.js';
import type { Journal } from './journal.js';
import type { SpillDir } from './spill.js';

/** Where finished usage records go. Never blocks, never throws. */
export interface LedgerSink {
  add(record: UsageRecord): void;
}

export interface WriteResult {
  /** Records that were new to the store. */
  written: number;
  /** Records the store already had (not counted again). */
  duplicates: number;
}

/** A store the writer can write batches to. */
export interface LedgerStore {
  readonly kind: string;
  /** Writes the batch in one transaction, idempotent on record id, roll-ups updated by the new rows only. */
  write(batch: readonly UsageRecord[]): Promise<WriteResult>;
  close(): Promise<void>;
}

export interface WriterOptions {
  store: LedgerStore;
  /** Records held in memory before the oldest are spilled. */
  maxQueue: number;
  /** Records per write. */
  batchSize: number;
  /** Batches written at once (a store with a connection pool takes several). Default 1. */
  concurrency?: number;
  /** A non-empty queue is written at least this often (ms). */
  flushIntervalMs: number;
  /** Absent: records past the queue bound are dropped (counted). */
  spill?: SpillDir;
  /** Absent: records live only in memory until written (a kill -9 loses the queue). */
  journal?: Journal;
  /** A record is journaled at most this long after it was added (ms). Default 100. */
  journalIntervalMs?: number;
  metrics: LedgerMetrics;
  logger: Logger;
  retryMaxMs?: number;
  /** Errors are logged at most once per this interval (ms). Default 30 s. */
  logEveryMs?: number;
}

export class LedgerWriter implements LedgerSink {
  private queue: UsageRecord[] = [];
  /** Queued records not yet in the journal. */
  private unjournaled: UsageRecord[] = [];
  private journalTimer: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private failures = 0;
  private lastLog = -Infinity;
  private readonly retryMaxMs: number;

  constructor(private readonly opts: WriterOptions) {
    this.retryMaxMs = opts.retryMaxMs ?? 5000;
    opts.metrics.watch(() => ({ queued: this.queue.length, spilled: opts.spill?.records ?? 0, oldestQueuedAtMs: this.oldest() }));
    if ((opts.spill?.records ?? 0) > 0) this.schedule(0);
  }

  add(record: UsageRecord): void {
    if (this.closed) {
      this.drop('closed', [record], new Error('usage record added after the ledger was closed'));
      return;
    }
    this.queue.push(record);
    if (this.opts.journal) {
      this.unjournaled.push(record);
      if (!this.journalTimer) {
        this.journalTimer = setTimeout(() => this.journalNow(), this.opts.journalIntervalMs ?? 100);
        this.journalTimer.unref();
      }
    }
    if (this.queue.length > this.opts.maxQueue) this.spillOldest();
    if (this.queue.length >= this.opts.batchSize && this.failures === 0) this.schedule(0);
    else this.schedule(this.opts.flushIntervalMs);
  }

  /** Records queued in memory (for tests and the bench). */
  get queued(): number {
    return this.queue.length;
  }

  /** Writes everything queued (and replays spilled segments) now; resolves when done or when a write fails. */
  async flush(): Promise<boolean> {
    await this.running;
    while (this.queue.length > 0 || (this.opts.spill?.records ?? 0) > 0) {
      if (!(await this.step())) return false;
    }
    return true;
  }

  /**
   * Stops taking records; writes the queue within `deadlineMs`, spilling what the store could not take; closes the
   * store. Records still in memory after that are counted as dropped (only when no spill directory is configured).
   */
  async close(deadlineMs: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.journalNow();
    await this.running;
    const until = Date.now() + deadlineMs;
    while (this.queue.length > 0 && Date.now() < until) {
      const ok = await Promise.race([this.writeHead(), new Promise<boolean>((r) => setTimeout(r, Math.max(0, until - Date.now()), false).unref())]);
      if (!ok) break;
    }
    await this.running;
    if (this.queue.length > 0) {
      const rest = this.queue.splice(0);
      if (this.opts.spill) this.spill(rest);
      else this.drop('spill_error', rest, new Error('store unreachable at shutdown and no spill directory'));
    }
    this.opts.journal?.close();
    await this.opts.store.close();
  }

  private oldest(): number | undefined {
    const q = this.queue[0]?.ts;
    const s = this.opts.spill?.oldestTs;
    return q === undefined ? s : s === undefined ? q : Math.min(q, s);
  }

  private schedule(ms: number): void {
    if (this.closed || this.running) return;
    if (this.timer && ms > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.pump().finally(() => {
        this.running = undefined;
        if (this.queue.length > 0 || (this.opts.spill?.records ?? 0) > 0) this.schedule(this.backoff());
      });
    }, ms);
    this.timer.unref();
  }

  private backoff(): number {
    if (this.failures === 0) return this.queue.length >= this.opts.batchSize ? 0 : this.opts.flushIntervalMs;
    return Math.min(this.retryMaxMs, this.opts.flushIntervalMs * 2 ** Math.min(this.failures, 10));
  }

  /**
   * Appends the records not yet journaled to the journal, now. A journal that cannot be written costs the crash
   * guarantee only: the records stay queued and are written to the store as usual (counted, logged).
   */
  private journalNow(): void {
    clearTimeout(this.journalTimer);
    this.journalTimer = undefined;
    const journal = this.opts.journal;
    if (!journal || this.unjournaled.length === 0) return;
    const records = this.unjournaled;
    this.unjournaled = [];
    try {
      journal.append(records);
    } catch (err) {
      this.opts.metrics.journalErrors.inc();
      this.logError(err, 'ledger journal write failed; these records are written to the store from memory only');
    }
  }

  /** Writes what is queued (full batches back to back), then replays spilled segments; stops at the first failure. */
  private async pump(): Promise<void> {
    while (!this.closed && (this.queue.length > 0 || (this.opts.spill?.records ?? 0) > 0)) {
      if (!(await (this.queue.length > this.opts.batchSize ? this.writeHeads() : this.step()))) return;
      // A partial batch waits for the next tick (more records may join it), unless spilled records are waiting.
      if (this.queue.length > 0 && this.queue.length < this.opts.batchSize && (this.opts.spill?.records ?? 0) === 0) return;
    }
  }

  /** One write: the queue's head batch, else the oldest spilled segment. */
  private async step(): Promise<boolean> {
    if (this.queue.length > 0) return this.writeHead();
    return this.replay();
  }

  /**
   * Before a write from the queue: everything queued so far goes to the journal, and its segment ends, so that it can
   * be deleted as soon as the records it holds are written.
   */
  private journalBeforeWrite(): void {
    this.journalNow();
    this.opts.journal?.rotate();
  }

  private async writeHead(): Promise<boolean> {
    this.journalBeforeWrite();
    const batch = this.queue.slice(0, this.opts.batchSize);
    if (batch.length === 0) return true;
    if (!(await this.write(batch))) return false;
    // The queue may have been spilled meanwhile (it only grows at the tail and loses its head to the spill).
    const first = this.queue.indexOf(batch[0] as UsageRecord);
    if (first >= 0) this.queue.splice(first, batch.length);
    this.opts.journal?.release(batch);
    return true;
  }

  /** Up to `concurrency` disjoint batches from the head of the queue, written at once. */
  private async writeHeads(): Promise<boolean> {
    this.journalBeforeWrite();
    const size = this.opts.batchSize;
    const n = Math.max(1, Math.min(this.opts.concurrency ?? 1, Math.floor(this.queue.length / size)));
    const batches = Array.from({ length: n }, (_, k) => this.queue.slice(k * size, (k + 1) * size));
    const ok = await Promise.all(batches.map((b) => this.write(b)));
    batches.forEach((b, k) => {
      if (!ok[k]) return;
      const first = this.queue.indexOf(b[0] as UsageRecord);
      if (first >= 0) this.queue.splice(first, b.length);
      this.opts.journal?.release(b);
    });
    return ok.every(Boolean);
  }

  private async replay(): Promise<boolean> {
    const spill = this.opts.spill;
    const seg = spill?.oldestSegment();
    if (!spill || !seg) return true;
    if (seg.invalid > 0) this.drop('spill_error', new Array<UsageRecord>(seg.invalid), new Error(`${seg.name}: ${seg.invalid} unreadable lines`));
    for (let i = 0; i < seg.records.length; i += this.opts.batchSize) {
      if (!(await this.write(seg.records.slice(i, i + this.opts.batchSize)))) return false;
    }
    spill.remove(seg.name);
    this.opts.logger.info({ segment: seg.name, records: seg.records.length }, 'ledger: spilled usage records replayed');
    return true;
  }

  private async write(batch: UsageRecord[]): Promise<boolean> {
    const { store, metrics } = this.opts;
    const t0 = performance.now();
    try {
      const r = await store.write(batch);
      metrics.batchDuration.observe({ store: store.kind }, (performance.now() - t0) / 1000);
      metrics.written.inc({ store: store.kind }, r.written);
      if (r.duplicates > 0) metrics.duplicates.inc({ store: store.kind }, r.duplicates);
      if (this.failures > 0) this.opts.logger.info({ store: store.kind, after_failures: this.failures }, 'ledger store writable again');
      this.failures = 0;
      return true;
    } catch (err) {
      this.failures++;
      metrics.writeErrors.inc({ store: store.kind });
      this.logError(err, 'ledger store write failed; records stay queued (then spill) and are retried');
      return false;
    }
  }

  /** Moves the oldest records (a batch, or all past the bound) to the spill directory. */
  private spillOldest(): void {
    this.journalNow();
    const n = Math.max(this.queue.length - this.opts.maxQueue, Math.min(this.opts.batchSize, this.queue.length));
    const moved = this.queue.splice(0, n);
    if (this.opts.spill) this.spill(moved);
    else this.drop('spill_full', moved, new Error('ledger queue full and no spill directory'));
  }

  private spill(records: UsageRecord[]): void {
    try {
      this.opts.spill?.append(records);
      this.opts.metrics.spilled.inc(records.length);
    } catch (err) {
      this.drop(/full/.test(String(err)) ? 'spill_full' : 'spill_error', records, err);
    }
    this.opts.journal?.release(records);
  }

  private drop(reason: DropReason, records: UsageRecord[], err: unknown): void {
    this.opts.metrics.dropped.inc({ reason }, records.length);
    this.opts.journal?.release(records);
    this.opts.logger.error({ err, reason, records: records.length, request_ids: records.slice(0, 20).map((r) => r?.requestId) }, 'ledger: usage records dropped');
  }

  private logError(err: unknown, msg: string): void {
    const now = Date.now();
    if (now - this.lastLog < (this.opts.logEveryMs ?? 30_000)) return;
    this.lastLog = now;
    this.opts.logger.error({ err, store: this.opts.store.kind }, `${msg} (logged once per interval)`);
  }
}
