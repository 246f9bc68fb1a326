/**
 * An in-memory ledger store for the writer's tests: idempotent on the record id like the real stores, and able to be
 * taken down, to lose a reply after committing, or to hold its writes until released.
 */
import type { UsageRecord } from '../../src/ledger/record.js';
import type { LedgerStore, WriteResult } from '../../src/ledger/writer.js';

export class MemoryLedger implements LedgerStore {
  readonly kind = 'memory';
  readonly rows = new Map<string, UsageRecord>();
  up = true;
  batches: number[] = [];
  /** Fail the next write after committing it (the reply lost): the batch is retried. */
  loseNextReply = false;
  write(batch: readonly UsageRecord[]): Promise<WriteResult> {
    if (!this.up) return Promise.reject(new Error('store down'));
    this.batches.push(batch.length);
    let written = 0;
    for (const r of batch) {
      if (this.rows.has(r.id)) continue;
      this.rows.set(r.id, r);
      written++;
    }
    if (this.loseNextReply) {
      this.loseNextReply = false;
      return Promise.reject(new Error('connection reset after commit'));
    }
    return Promise.resolve({ written, duplicates: batch.length - written });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
