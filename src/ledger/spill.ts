/**
 * The ledger's spill directory: usage records that could not be kept in memory while the store was unreachable (or
 * that were still queued at shutdown with the store down, or that a stopped process left in its journal), as JSON lines in numbered segment files
 * (`spill-000001.jsonl`, …, at most `segmentRecords` records each; one record a line, record-line.ts). The writer replays the oldest segment when the
 * store is back and deletes it once every record is in the store; a segment replayed twice (a crash in between) is
 * harmless because writes are idempotent on the record id. Survives restarts: segments found at start-up are
 * replayed. Synchronous appends: a segment write is one `appendFileSync` of many records, done off the request path
 * (the writer's timer), and is in the OS page cache when the call returns (a process crash does not lose it; a
 * machine crash can, as no fsync is made).
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { UsageRecord } from './record.js';
import { parseRecordLine, recordLine } from './record-line.js';

const SEGMENT = /^spill-(\d{6,})\.jsonl$/;

export interface SpillOptions {
  dir: string;
  /** Total bytes the segments may take; appends beyond it fail (the writer counts the records as dropped). */
  maxBytes: number;
  /** Records per segment (a replayed segment is read into memory at once). */
  segmentRecords: number;
}

export interface SpillSegment {
  name: string;
  records: UsageRecord[];
  /** Lines that did not parse as a record (a torn last line after a crash). */
  invalid: number;
}

export class SpillDir {
  private segments: { name: string; records: number; bytes: number }[] = [];
  private seq = 0;
  private bytes = 0;
  /** Earliest record time among spilled records (approximate after a restart: the oldest segment's first record). */
  private oldest: number | undefined;

  constructor(private readonly opts: SpillOptions) {
    mkdirSync(opts.dir, { recursive: true });
    for (const name of readdirSync(opts.dir).filter((n) => SEGMENT.test(n)).sort()) {
      const text = readFileSync(join(opts.dir, name), 'utf8');
      const records = text.split('\n').filter((l) => l.trim() !== '').length;
      const bytes = statSync(join(opts.dir, name)).size;
      this.segments.push({ name, records, bytes });
      this.bytes += bytes;
      this.seq = Math.max(this.seq, Number(SEGMENT.exec(name)?.[1] ?? 0));
      if (this.oldest === undefined) this.oldest = firstTs(text);
    }
  }

  /** Records waiting in segments. */
  get records(): number {
    return this.segments.reduce((n, s) => n + s.records, 0);
  }

  get oldestTs(): number | undefined {
    return this.segments.length > 0 ? this.oldest : undefined;
  }

  private nextName(): string {
    return `spill-${String(++this.seq).padStart(6, '0')}.jsonl`;
  }

  /** Appends records; throws (ENOSPC, EACCES…, or over maxBytes) without writing a partial segment line. */
  append(records: readonly UsageRecord[]): void {
    let i = 0;
    while (i < records.length) {
      let seg = this.segments.at(-1);
      if (!seg || seg.records >= this.opts.segmentRecords) {
        seg = { name: this.nextName(), records: 0, bytes: 0 };
        this.segments.push(seg);
      }
      const take = records.slice(i, i + this.opts.segmentRecords - seg.records);
      const text = take.map(recordLine).join('\n') + '\n';
      const size = Buffer.byteLength(text);
      if (this.bytes + size > this.opts.maxBytes) {
        if (seg.records === 0) this.segments.pop();
        throw new Error(`spill directory full: ${this.bytes} + ${size} bytes > ${this.opts.maxBytes} (--ledger-spill-max)`);
      }
      appendFileSync(join(this.opts.dir, seg.name), text);
      seg.records += take.length;
      seg.bytes += size;
      this.bytes += size;
      this.oldest ??= take[0]?.ts;
      i += take.length;
    }
  }

  /**
   * Takes over a file of JSON-line records (a journal segment a stopped process left, journal.ts) as a segment of its
   * own, replayed like spilled records; returns how many records it holds. An empty file is deleted. Not bounded by
   * maxBytes: these records exist already, and refusing them would lose them.
   */
  adopt(file: string): number {
    const text = readFileSync(file, 'utf8');
    const records = text.split('\n').filter((l) => l.trim() !== '').length;
    if (records === 0) {
      rmSync(file, { force: true });
      return 0;
    }
    const name = this.nextName();
    renameSync(file, join(this.opts.dir, name));
    const bytes = Buffer.byteLength(text);
    // Adopted segments go before an empty segment opened for appends, and are never appended to themselves (a torn
    // last line stays a line of its own: read as invalid, counted as dropped).
    const last = this.segments.at(-1);
    const seg = { name, records, bytes };
    if (last && last.records === 0) this.segments.splice(this.segments.length - 1, 0, seg);
    else this.segments.push(seg, { name: this.nextName(), records: 0, bytes: 0 });
    this.bytes += bytes;
    const first = firstTs(text);
    this.oldest = this.oldest === undefined || first === undefined ? this.oldest ?? first : Math.min(this.oldest, first);
    return records;
  }

  /** The oldest segment, read (undefined when there is none). New appends go to a new segment from now on. */
  oldestSegment(): SpillSegment | undefined {
    const seg = this.segments[0];
    if (!seg) return undefined;
    if (this.segments.length === 1) this.segments.push({ name: this.nextName(), records: 0, bytes: 0 });
    const records: UsageRecord[] = [];
    let invalid = 0;
    for (const line of readFileSync(join(this.opts.dir, seg.name), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const r = parseRecordLine(line);
      if (r) records.push(r);
      else invalid++;
    }
    return { name: seg.name, records, invalid };
  }

  /** Deletes a replayed segment. */
  remove(name: string): void {
    const i = this.segments.findIndex((s) => s.name === name);
    if (i < 0) return;
    const [seg] = this.segments.splice(i, 1);
    rmSync(join(this.opts.dir, name), { force: true });
    this.bytes -= seg?.bytes ?? 0;
    if (this.segments.length > 0 && this.segments[0]?.records === 0 && this.segments.length === 1) this.segments = [];
    const next = this.segments[0];
    this.oldest = next && next.records > 0 ? firstTs(readFileSync(join(this.opts.dir, next.name), 'utf8')) : undefined;
  }
}

function firstTs(text: string): number | undefined {
  const end = text.indexOf('\n');
  return parseRecordLine(end >= 0 ? text.slice(0, end) : text)?.ts;
}
