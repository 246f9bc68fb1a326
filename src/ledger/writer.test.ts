/**
 * The ledger writer against an in-memory store that can be taken down: batching, never blocking add(), retry,
 * queue bound → spill directory → replay, exactly once across a failed-then-retried batch, close() flushing or
 * spilling, and drops counted only when the spill cannot be written.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { createLedgerMetrics, type LedgerMetrics } from '../metrics/ledger-metrics.js';
import { usageRecord } from '../../test/helpers/ledger-contract.js';
import { MemoryLedger } from '../../test/helpers/memory-ledger.js';
import { SpillDir } from './spill.js';
import { LedgerWriter, type LedgerStore } from './writer.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tm-spill-'));
  dirs.push(d);
  return d;
};

function setup(opts: { maxQueue?: number; batchSize?: number; spill?: SpillDir | null; flushIntervalMs?: number } = {}): { store: MemoryLedger; writer: LedgerWriter; metrics: LedgerMetrics; registry: Registry } {
  const registry = new Registry();
  const metrics = createLedgerMetrics([registry]);
  const store = new MemoryLedger();
  const spill = opts.spill === null ? undefined : opts.spill ?? new SpillDir({ dir: tempDir(), maxBytes: 64 * 1024 * 1024, segmentRecords: 500 });
  const writer = new LedgerWriter({
    store, maxQueue: opts.maxQueue ?? 1000, batchSize: opts.batchSize ?? 100, flushIntervalMs: opts.flushIntervalMs ?? 10,
    metrics, logger: createLogger('silent'), retryMaxMs: 20, ...(spill ? { spill } : {}),
  });
  return { store, writer, metrics, registry };
}

const value = async (m: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> => (await m.get()).values.reduce((s, v) => s + v.value, 0);
const until = async (pred: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('LedgerWriter', () => {
  it('add() returns at once; records are written in batches of at most batchSize', async () => {
    const { store, writer, metrics } = setup({ batchSize: 100 });
    const t0 = performance.now();
    for (let i = 0; i < 1050; i++) writer.add(usageRecord());
    expect(performance.now() - t0).toBeLessThan(200);
    expect(store.rows.size).toBe(0);
    await until(() => store.rows.size === 1050);
    expect(Math.max(...store.batches)).toBeLessThanOrEqual(100);
    expect(await value(metrics.written)).toBe(1050);
    await writer.close(1000);
  });

  it('a batch whose reply was lost is retried and counted once', async () => {
    const { store, writer, metrics } = setup();
    store.loseNextReply = true;
    for (let i = 0; i < 50; i++) writer.add(usageRecord());
    await until(() => writer.queued === 0);
    expect(store.rows.size).toBe(50);
    expect(await value(metrics.writeErrors)).toBe(1);
    expect(await value(metrics.duplicates)).toBe(50);
    await writer.close(1000);
  });

  it('store down: queues to the bound, spills the rest, replays every record exactly once when it is back; nothing dropped', async () => {
    const spill = new SpillDir({ dir: tempDir(), maxBytes: 64 * 1024 * 1024, segmentRecords: 300 });
    const { store, writer, metrics } = setup({ maxQueue: 500, batchSize: 100, spill });
    store.up = false;
    const recs = Array.from({ length: 2000 }, () => usageRecord());
    for (const r of recs) writer.add(r);
    expect(writer.queued).toBeLessThanOrEqual(500);
    expect(spill.records).toBeGreaterThanOrEqual(1500);
    expect(await value(metrics.spilled)).toBe(spill.records);
    await new Promise((r) => setTimeout(r, 100));
    expect(await value(metrics.writeErrors)).toBeGreaterThan(0);
    store.up = true;
    await until(() => store.rows.size === 2000 && spill.records === 0 && writer.queued === 0, 10_000);
    expect([...store.rows.keys()].sort()).toEqual(recs.map((r) => r.id).sort());
    expect(await value(metrics.dropped)).toBe(0);
    expect(await value(metrics.written)).toBe(2000);
    await writer.close(1000);
  });

  it('close(): writes the queue; with the store down, spills it, and a new writer replays it', async () => {
    const dir = tempDir();
    const a = setup({ spill: new SpillDir({ dir, maxBytes: 1 << 26, segmentRecords: 1000 }), flushIntervalMs: 60_000 });
    for (let i = 0; i < 30; i++) a.writer.add(usageRecord());
    await a.writer.close(1000);
    expect(a.store.rows.size).toBe(30);

    const b = setup({ spill: new SpillDir({ dir, maxBytes: 1 << 26, segmentRecords: 1000 }), flushIntervalMs: 60_000 });
    b.store.up = false;
    const recs = Array.from({ length: 40 }, () => usageRecord());
    for (const r of recs) b.writer.add(r);
    await b.writer.close(200);
    expect(readdirSync(dir).filter((f) => f.endsWith('.jsonl'))).toHaveLength(1);
    b.writer.add(usageRecord());
    expect(await value(b.metrics.dropped)).toBe(1); // added after close: counted, never silent

    const c = setup({ spill: new SpillDir({ dir, maxBytes: 1 << 26, segmentRecords: 1000 }) });
    await until(() => c.store.rows.size === 40);
    expect([...c.store.rows.keys()].sort()).toEqual(recs.map((r) => r.id).sort());
    await until(() => readdirSync(dir).filter((f) => f.endsWith('.jsonl')).length === 0);
    await c.writer.close(1000);
  });

  it('counts and logs what it cannot keep: a full spill directory', async () => {
    const { store, writer, metrics } = setup({ maxQueue: 100, batchSize: 50, spill: new SpillDir({ dir: tempDir(), maxBytes: 4096, segmentRecords: 100 }) });
    store.up = false;
    for (let i = 0; i < 400; i++) writer.add(usageRecord());
    expect(await value(metrics.dropped)).toBeGreaterThan(0);
    store.up = true;
    await writer.close(1000);
    expect(store.rows.size + (await value(metrics.dropped))).toBe(400);
  });

  it('reports queue depth, spilled records and lag for the metrics', async () => {
    const { store, writer, registry } = setup({ maxQueue: 10, batchSize: 5, flushIntervalMs: 60_000 });
    store.up = false;
    for (let i = 0; i < 25; i++) writer.add(usageRecord({ ts: Date.now() - 60_000 }));
    const text = await registry.metrics();
    expect(text).toMatch(/tokenmeter_ledger_queue_records \d+/);
    expect(Number(/tokenmeter_ledger_spill_records (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(15);
    expect(Number(/tokenmeter_ledger_lag_seconds ([\d.]+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(59);
    store.up = true;
    await writer.close(1000);
  });
});

describe('LedgerWriter with several batches in flight', () => {
  it('writes disjoint batches at once, each record once, and retries a failed one', async () => {
    const registry = new Registry();
    const store = new MemoryLedger();
    let inFlight = 0;
    let most = 0;
    const slow: LedgerStore = {
      kind: 'slow',
      write: async (b) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return store.write(b);
      },
      close: () => Promise.resolve(),
    };
    const writer = new LedgerWriter({ store: slow, metrics: createLedgerMetrics([registry]), logger: createLogger('silent'), maxQueue: 100_000, batchSize: 100, flushIntervalMs: 10, concurrency: 3 });
    store.loseNextReply = true;
    const recs = Array.from({ length: 5000 }, () => usageRecord());
    for (const r of recs) writer.add(r);
    await until(() => store.rows.size === 5000 && writer.queued === 0, 10_000);
    expect(most).toBe(3);
    expect([...store.rows.keys()].sort()).toEqual(recs.map((r) => r.id).sort());
    await writer.close(1000);
  });
});
