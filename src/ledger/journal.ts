/**
 * The ledger's write-ahead journal: every usage record is appended to a local file (DATA_DIR/journal, JSON lines in
 * numbered segments, one record a line: record-line.ts) within `--ledger-journal-interval` of its request settling, long before the store has it, so a
 * process that dies (kill -9, out of memory, a crash) loses only the records of the last journal interval, however
 * long the writer waits to gather a batch. Appends are one write of many records, made off the request path (the
 * writer's timer); a write is in the OS page cache when the call returns (no fsync: a machine crash can lose it, see
 * README "Guarantees").
 *
 * A segment holds the records appended between two store writes: the writer ends it (`rotate`) when it starts
 * writing, and it is deleted once it is ended and each of its records has left the queue for good (`release`:
 * written to the store, or moved to the spill files). Segments a previous process left behind (`leftovers`) are
 * handed to the spill directory at start-up and replayed like spilled records: a record the store already has is a
 * duplicate there (writes are idempotent on the record id), never a second charge.
 */
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { UsageRecord } from './record.js';
import { recordLine } from './record-line.js';

const SEGMENT = /^journal-(\d{6,})\.jsonl$/;

interface Segment {
  name: string;
  fd: number | undefined;
  /** Records appended and not yet released. */
  outstanding: number;
}

export class Journal {
  /** Segment files a previous process left (oldest first, full paths), found when this journal opened. */
  readonly leftovers: readonly string[];
  private current: Segment | undefined;
  private readonly segmentOf = new WeakMap<UsageRecord, Segment>();
  private seq = 0;
  /** Segment files on disk now (for tests and the bench). */
  private files = 0;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir).filter((n) => SEGMENT.test(n)).sort();
    for (const n of names) this.seq = Math.max(this.seq, Number(SEGMENT.exec(n)?.[1] ?? 0));
    this.leftovers = names.map((n) => join(dir, n));
  }

  /** Segment files this journal has open or waiting for their records to be released. */
  get segments(): number {
    return this.files;
  }

  /**
   * Appends the records to the current segment in one write (starting a segment when none is open). Throws on an I/O
   * error (disk full, unwritable): the records are then not journaled and keep only their place in the queue.
   */
  append(records: readonly UsageRecord[]): void {
    if (records.length === 0) return;
    const seg = this.current ?? this.open();
    const fd = seg.fd as number;
    const buf = Buffer.from(records.map(recordLine).join('\n') + '\n');
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    for (const r of records) this.segmentOf.set(r, seg);
    seg.outstanding += records.length;
  }

  /** Ends the current segment: later appends go to a new one. It is deleted now if all its records were released. */
  rotate(): void {
    const seg = this.current;
    if (!seg) return;
    this.current = undefined;
    this.closeFd(seg);
    if (seg.outstanding === 0) this.remove(seg);
  }

  /** Records that left the queue for good (in the store, or in the spill files); records never journaled are ignored. */
  release(records: readonly UsageRecord[]): void {
    for (const r of records) {
      const seg = this.segmentOf.get(r);
      if (!seg) continue;
      this.segmentOf.delete(r);
      if (--seg.outstanding === 0 && seg !== this.current) this.remove(seg);
    }
  }

  /** Ends the current segment (deleting it when everything in it was released). */
  close(): void {
    this.rotate();
  }

  private open(): Segment {
    const name = `journal-${String(++this.seq).padStart(6, '0')}.jsonl`;
    const seg: Segment = { name, fd: openSync(join(this.dir, name), 'a'), outstanding: 0 };
    this.files++;
    this.current = seg;
    return seg;
  }

  private closeFd(seg: Segment): void {
    if (seg.fd === undefined) return;
    try {
      closeSync(seg.fd);
    } catch {
      // Closing cannot lose what was written; the segment is still released and deleted normally.
    }
    seg.fd = undefined;
  }

  private remove(seg: Segment): void {
    this.closeFd(seg);
    this.files--;
    try {
      rmSync(join(this.dir, seg.name), { force: true });
    } catch {
      // Left on disk, it is replayed at the next start: duplicates the store recognises, nothing counted twice.
    }
  }
}
