/**
 * The write-ahead journal: records reach the local file within the journal interval while the store write is far
 * off; segments are deleted once their records are in the store or the spill; what a process that never stopped
 * cleanly left is adopted by the spill directory at the next start and replayed exactly once (records the store
 * already had count as duplicates); a journal that cannot be written costs the crash guarantee, not the records.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { createLedgerMetrics, type LedgerMetrics } from '../metrics/ledger-metrics.js';
import { usageRecord } from '../../test/helpers/ledger-contract.js';
import { MemoryLedger } from '../../test/helpers/memory-ledger.js';
import { Journal } from './journal.js';
import { parseRecordLine } from './record-line.js';
import type { UsageRecord } from './record.js';
import { SpillDir } from './spill.js';
import { LedgerWriter } from './writer.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tm-journal-'));
  dirs.push(d);
  return d;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const files = (dir: string): string[] => readdirSync(dir).sort();
const lines = (file: string): (UsageRecord | undefined)[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map(parseRecordLine);
const value = async (m: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> => (await m.get()).values.reduce((s, v) => s + v.value, 0);
const until = async (pred: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
};

/** A data directory's journal, spill and writer, as src/cli/ledger.ts puts them together (adopting leftovers). */
function open(dataDir: string, store: MemoryLedger, o: { flushIntervalMs?: number; maxQueue?: number } = {}): { writer: LedgerWriter; journal: Journal; spill: SpillDir; metrics: LedgerMetrics; adopted: number } {
  const metrics = createLedgerMetrics([new Registry()]);
  const spill = new SpillDir({ dir: join(dataDir, 'spill'), maxBytes: 64 * 1024 * 1024, segmentRecords: 500 });
  const journal = new Journal(join(dataDir, 'journal'));
  let adopted = 0;
  for (const f of journal.leftovers) adopted += spill.adopt(f);
  const writer = new LedgerWriter({
    store, spill, journal, journalIntervalMs: 20, metrics, logger: createLogger('silent'),
    maxQueue: o.maxQueue ?? 10_000, batchSize: 100, flushIntervalMs: o.flushIntervalMs ?? 10, retryMaxMs: 20,
  });
  return { writer, journal, spill, metrics, adopted };
}

describe('Journal', () => {
  it('appends JSON lines to one segment until rotated; a segment is deleted once ended and all its records released', () => {
    const dir = tempDir();
    const j = new Journal(dir);
    const a = [usageRecord(), usageRecord()];
    const b = [usageRecord()];
    j.append(a);
    j.append(b);
    expect(files(dir)).toEqual(['journal-000001.jsonl']);
    expect(lines(join(dir, 'journal-000001.jsonl')).map((r) => r?.id)).toEqual([...a, ...b].map((r) => r.id));
    j.release(a);
    j.release(b);
    expect(files(dir)).toEqual(['journal-000001.jsonl']); // still the segment appends go to
    j.rotate();
    expect(files(dir)).toEqual([]);
    const c = [usageRecord(), usageRecord()];
    j.append(c);
    j.rotate();
    j.release([c[0] as UsageRecord, usageRecord()]); // a record never journaled is ignored
    expect(files(dir)).toEqual(['journal-000002.jsonl']);
    j.release(c);
    expect(files(dir)).toEqual([]);
    expect(j.segments).toBe(0);
  });

  it('finds the segments a previous process left, and numbers its own after them', () => {
    const dir = tempDir();
    const first = new Journal(dir);
    first.append([usageRecord()]);
    first.rotate();
    first.append([usageRecord()]);
    const second = new Journal(dir);
    expect(second.leftovers.map((f) => f.slice(dir.length + 1))).toEqual(['journal-000001.jsonl', 'journal-000002.jsonl']);
    second.append([usageRecord()]);
    expect(files(dir)).toContain('journal-000003.jsonl');
  });
});

describe('LedgerWriter with a journal', () => {
  it('journals each record within the journal interval while its batch is still gathering, and empties the journal once written', async () => {
    const dataDir = tempDir();
    const store = new MemoryLedger();
    const { writer } = open(dataDir, store, { flushIntervalMs: 60_000 });
    const recs = Array.from({ length: 50 }, () => usageRecord());
    recs.forEach((r) => writer.add(r));
    const jdir = join(dataDir, 'journal');
    await until(() => files(jdir).length === 1 && lines(join(jdir, files(jdir)[0] as string)).length === 50, 1000);
    expect(store.rows.size).toBe(0);
    expect(await writer.flush()).toBe(true);
    expect(store.rows.size).toBe(50);
    expect(files(jdir)).toEqual([]);
    // Steady traffic: records keep coming while batches are written; every segment goes once its records are in.
    for (let i = 0; i < 20; i++) {
      for (let k = 0; k < 25; k++) writer.add(usageRecord());
      await sleep(7);
    }
    await writer.close(5000);
    expect(store.rows.size).toBe(550);
    expect(files(jdir)).toEqual([]);
  });

  it('a process that dies before writing: the next start adopts its journal into the spill and writes every record once', async () => {
    const dataDir = tempDir();
    const store = new MemoryLedger();
    const first = open(dataDir, store, { flushIntervalMs: 60_000 });
    const early = Array.from({ length: 30 }, () => usageRecord());
    early.forEach((r) => first.writer.add(r));
    expect(await first.writer.flush()).toBe(true); // these are in the store; their segment is gone
    const late = Array.from({ length: 70 }, () => usageRecord());
    late.forEach((r) => first.writer.add(r));
    await sleep(100); // journaled (20 ms interval), never written: then the process "dies" (no close)
    expect(store.rows.size).toBe(30);
    const second = open(dataDir, store);
    expect(second.adopted).toBe(70);
    expect(files(join(dataDir, 'journal'))).toEqual([]);
    await until(() => store.rows.size === 100);
    expect(await second.writer.flush()).toBe(true);
    expect([...store.rows.keys()].sort()).toEqual([...early, ...late].map((r) => r.id).sort());
    expect(await value(second.metrics.duplicates)).toBe(0);
    expect(await value(second.metrics.dropped)).toBe(0);
    expect(readdirSync(join(dataDir, 'spill')).filter((f) => f.endsWith('.jsonl'))).toEqual([]);
  });

  it('a process that dies after its write committed but before the segment went: the replay counts duplicates, not charges', async () => {
    const dataDir = tempDir();
    const store = new MemoryLedger();
    const recs = Array.from({ length: 40 }, () => usageRecord());
    const first = open(dataDir, store, { flushIntervalMs: 60_000 });
    recs.forEach((r) => first.writer.add(r));
    await sleep(100);
    // The store took them, but the process died before its writer heard back (the segment is still on disk).
    await store.write(recs);
    const second = open(dataDir, store);
    expect(second.adopted).toBe(40);
    await until(() => second.spill.records === 0);
    expect(store.rows.size).toBe(40);
    expect(await value(second.metrics.duplicates)).toBe(40);
    expect(await value(second.metrics.written)).toBe(0);
  });

  it('store down: records spilled from the queue leave the journal; everything arrives once; journal and spill end empty', async () => {
    const dataDir = tempDir();
    const store = new MemoryLedger();
    store.up = false;
    const { writer, metrics } = open(dataDir, store, { maxQueue: 100 });
    for (let i = 0; i < 450; i++) writer.add(usageRecord());
    await sleep(60);
    expect(await value(metrics.spilled)).toBeGreaterThanOrEqual(350);
    store.up = true;
    await until(() => store.rows.size === 450);
    await writer.close(5000);
    expect(files(join(dataDir, 'journal'))).toEqual([]);
    expect(await value(metrics.dropped)).toBe(0);
    expect(await value(metrics.duplicates)).toBe(0);
  });

  it('a journal that cannot be written is counted and logged; the records still reach the store', async () => {
    const dataDir = tempDir();
    const store = new MemoryLedger();
    const { writer, metrics } = open(dataDir, store, { flushIntervalMs: 60_000 });
    const jdir = join(dataDir, 'journal');
    writer.add(usageRecord());
    await sleep(60); // the first segment is open
    rmSync(jdir, { recursive: true, force: true });
    writeFileSync(jdir, 'not a directory'); // the next segment cannot be created
    await writer.flush(); // ends the open segment
    for (let i = 0; i < 10; i++) writer.add(usageRecord());
    await sleep(60);
    expect(await value(metrics.journalErrors)).toBeGreaterThan(0);
    expect(await writer.flush()).toBe(true);
    expect(store.rows.size).toBe(11);
    expect(await value(metrics.dropped)).toBe(0);
  });
});

describe('SpillDir.adopt', () => {
  it('takes a file as a segment of its own; a torn last line is counted as dropped on replay, the rest written', async () => {
    const dataDir = tempDir();
    const good = [usageRecord(), usageRecord()];
    const leftover = join(tempDir(), 'journal-000007.jsonl');
    writeFileSync(leftover, `${good.map((r) => JSON.stringify(r)).join('\n')}\n{"id":"torn`);
    const spill = new SpillDir({ dir: join(dataDir, 'spill'), maxBytes: 64 * 1024, segmentRecords: 500 });
    expect(spill.adopt(leftover)).toBe(3);
    expect(existsSync(leftover)).toBe(false);
    const later = usageRecord();
    spill.append([later]); // never into the adopted file
    const empty = join(tempDir(), 'journal-000008.jsonl');
    writeFileSync(empty, '');
    expect(spill.adopt(empty)).toBe(0);
    expect(existsSync(empty)).toBe(false);
    const store = new MemoryLedger();
    const metrics = createLedgerMetrics([new Registry()]);
    const writer = new LedgerWriter({ store, spill, metrics, logger: createLogger('silent'), maxQueue: 100, batchSize: 100, flushIntervalMs: 10 });
    expect(await writer.flush()).toBe(true);
    expect([...store.rows.keys()].sort()).toEqual([...good, later].map((r) => r.id).sort());
    expect(await value(metrics.dropped)).toBe(1);
    await writer.close(1000);
  });
});
