/**
 * Sustained write rate of one ledger writer (queue and journal → batches of the default --ledger-batch → store), against a
 * baseline in the same run: the same records through the same writer, thread or pool, into a plain table of the same
 * columns with no key, no index and no roll-ups (what the store's guarantees and reports cost on top of writing the
 * rows at all). Each is run several times, alternating, into a fresh database; the table gives the median and the
 * range, CPU per record (bench process — main and worker threads — plus, for PostgreSQL, the server's processes),
 * and the load average.
 *
 * The records are what a busy replica hands the writer: in settle order at 20,000 a second, each stamped with its
 * request's start (a duration of 0.2–60 s earlier, log-uniform: most short, a tail of long streams), subjects drawn
 * at random from 10,000 and models from 3 (30,000 roll-up groups a day: a batch of 1,000 touches ~1,000 of them, one of
 * 5,000 ~4,600: the worst case for the roll-ups). Seeded, so every run and both stores get the same records.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { createLogger } from '../src/log/logger.js';
import { RECORD_COLUMNS, recordRow } from '../src/ledger/columns.js';
import { uuidv7 } from '../src/ledger/ids.js';
import type { UsageRecord } from '../src/ledger/record.js';
import { Journal } from '../src/ledger/journal.js';
import { SqliteThread } from '../src/ledger/sqlite-worker.js';
import { LedgerWriter, type LedgerStore, type WriteResult } from '../src/ledger/writer.js';
import { createLedgerMetrics } from '../src/metrics/ledger-metrics.js';
import { LEDGER_OPTIONS } from '../src/config/ledger.js';

const logger = createLogger('silent');
const MODELS = ['gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash'];

/** mulberry32: a small seeded PRNG (the same records in every run). */
function prng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function benchRecord(i: number, ts: number, subject: number, model: string): UsageRecord {
  return {
    id: uuidv7(ts), requestId: `b-${i}`, ts, policy: 'llm/team', limit: null, tier: null, override: null, subject: `tenant-${subject}`,
    provider: 'openai', endpoint: 'openai.chat', requestModel: model, responseModel: model,
    inputTokens: 500 + (i % 700), cachedInputTokens: i % 200, cacheWriteTokens: 0, outputTokens: 50 + (i % 300), reasoningTokens: 0,
    usageSource: 'provider', costUsd: 0.0004 + (i % 100) / 1e6, priceVersion: 'builtin-2025-11-15', decision: 'allowed', rejected: false,
    status: 200, stream: true, durationMs: 800,
  };
}

/** `total` records as a replica at `perSecond` settles them (see the file comment). */
export function settledRecords(total: number, subjects = 10_000, perSecond = 20_000, start = Date.now()): UsageRecord[] {
  const rnd = prng(14);
  return Array.from({ length: total }, (_, i) => {
    const durationMs = 200 * Math.exp(rnd() * Math.log(300));
    const subject = Math.floor(rnd() * subjects);
    const model = MODELS[Math.floor(rnd() * MODELS.length)] ?? 'gpt-4o-mini';
    return benchRecord(i, Math.round(start + (i * 1000) / perSecond - durationMs), subject, model);
  });
}

export interface WriteRun { perSecond: number; cpuUsPerRecord: number }

/** Records per batch: `tokenmeter extproc`'s default --ledger-batch. */
export const BENCH_BATCH = Number(LEDGER_OPTIONS.find((o) => o.key === 'ledgerBatch')?.fallback);

/** `tokenmeter extproc`'s default --ledger-journal-interval and --ledger-flush-interval (ms). */
const defaultMs = (key: string): number => Number(LEDGER_OPTIONS.find((o) => o.key === key)?.fallback) * 1000;

/**
 * Writes `records` through a LedgerWriter (batches of `batchSize`, default --ledger-batch's) into `store`, then closes
 * it. The writer runs as `tokenmeter extproc` runs it, with its journal (in a temporary directory) at the default
 * interval; the records are added 1,000 at a time with a turn of the event loop between, so journal appends and batch
 * writes interleave with them as they do under traffic (`journal` false: without it, to show its share).
 */
export async function timedWrite(store: LedgerStore, records: readonly UsageRecord[], concurrency: number, serverCpuUs: () => number = () => 0, o: { batchSize?: number; journal?: boolean } = {}): Promise<WriteRun> {
  const { batchSize = BENCH_BATCH, journal = true } = o;
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-journal-'));
  const writer = new LedgerWriter({
    store, metrics: createLedgerMetrics([new Registry()]), logger, maxQueue: records.length + 1, batchSize, flushIntervalMs: defaultMs('ledgerFlushMs'), concurrency,
    ...(journal ? { journal: new Journal(dir), journalIntervalMs: defaultMs('ledgerJournalMs') } : {}),
  });
  const c0 = process.cpuUsage();
  const s0 = serverCpuUs();
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += 1000) {
    for (const r of records.slice(i, i + 1000)) writer.add(r);
    await new Promise((r) => setImmediate(r));
  }
  if (!(await writer.flush())) throw new Error(`${store.kind}: a bench write failed`);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuUs = cpu.user + cpu.system + serverCpuUs() - s0;
  await writer.close(1000);
  rmSync(dir, { recursive: true, force: true });
  return { perSecond: records.length / seconds, cpuUsPerRecord: cpuUs / records.length };
}

export interface WriteRow {
  store: string;
  records: number;
  ledger: WriteRun[];
  baseline: WriteRun[];
  /** 1-minute load average before and after. */
  load: [number, number];
}

export interface WriteComparison {
  name: string;
  records: readonly UsageRecord[];
  runs: number;
  /** Batches in flight. */
  concurrency: number;
  /** A fresh ledger store, and a fresh baseline store, for run `run`. */
  ledger: (run: number) => Promise<LedgerStore>;
  baseline: (run: number) => Promise<LedgerStore>;
  serverCpuUs?: () => number;
}

/** Runs ledger and baseline `runs` times each, alternating, each into a fresh store from the factories. */
export async function compareWrites(c: WriteComparison): Promise<WriteRow> {
  const row: WriteRow = { store: c.name, records: c.records.length, ledger: [], baseline: [], load: [loadavg()[0] ?? 0, 0] };
  for (let run = 0; run < c.runs; run++) {
    row.baseline.push(await timedWrite(await c.baseline(run), c.records, c.concurrency, c.serverCpuUs));
    row.ledger.push(await timedWrite(await c.ledger(run), c.records, c.concurrency, c.serverCpuUs));
  }
  row.load[1] = loadavg()[0] ?? 0;
  return row;
}

const TYPES_SQLITE = { id: 'TEXT', text: 'TEXT', int: 'INTEGER', real: 'REAL', flag: 'INTEGER' } as const;
const NAMES = RECORD_COLUMNS.map(([c]) => c).join(', ');

/** The SQLite baseline: the same worker thread and settings, a plain table (no key, no index, no roll-ups). */
export async function rawSqlite(file: string, pragmas: readonly string[]): Promise<LedgerStore> {
  const thread = new SqliteThread(file, { pragmas });
  await thread.exec(`CREATE TABLE raw_records (${RECORD_COLUMNS.map(([c, t]) => `${c} ${TYPES_SQLITE[t]}`).join(', ')})`);
  const insert = `INSERT INTO raw_records (${NAMES}) VALUES (${RECORD_COLUMNS.map(() => '?').join(', ')})`;
  return {
    kind: 'sqlite-raw',
    write: async (batch): Promise<WriteResult> => ({ written: await thread.batch({ insert, rows: batch.map(recordRow), rollups: [], sum: [] }), duplicates: 0 }),
    close: () => thread.close(),
  };
}

const TYPES_PG = { id: 'uuid', text: 'text', int: 'bigint', real: 'double precision', flag: 'smallint' } as const;

/** The PostgreSQL baseline: the same pool size and batches in flight, one unnest INSERT into a plain table. */
export async function rawPostgres(url: string, poolSize: number): Promise<LedgerStore> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  await pool.query(`CREATE TABLE raw_records (${RECORD_COLUMNS.map(([c, t]) => `${c} ${TYPES_PG[t]}`).join(', ')})`);
  const text = `INSERT INTO raw_records (${NAMES}) SELECT * FROM unnest(${RECORD_COLUMNS.map(([, t], i) => `$${i + 1}::${TYPES_PG[t]}[]`).join(', ')})`;
  return {
    kind: 'postgres-raw',
    write: async (batch): Promise<WriteResult> => {
      const rows = batch.map(recordRow);
      await pool.query({ name: 'raw', text, values: RECORD_COLUMNS.map((_, i) => rows.map((r) => r[i] ?? null)) });
      return { written: batch.length, duplicates: 0 };
    },
    close: () => pool.end(),
  };
}

/** CPU time (µs) of the PostgreSQL server listening on `port`: the postmaster and its children (backends, WAL writer, …). */
export function postgresCpuUs(port: number): () => number {
  const stat = (pid: string): string[] | undefined => {
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return s.slice(s.lastIndexOf(')') + 2).split(' ');
    } catch {
      return undefined;
    }
  };
  const postmaster = readdirSync('/proc').find((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return /postgres$/.test(argv[0] ?? '') && argv[argv.indexOf('-p') + 1] === String(port);
    } catch {
      return false;
    }
  });
  const hz = 100; // USER_HZ on Linux
  return () => {
    if (!postmaster) return 0;
    let ticks = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const f = stat(pid);
      if (f && (pid === postmaster || f[1] === postmaster)) ticks += Number(f[11]) + Number(f[12]);
      // Children that have exited: the postmaster has reaped them, their time is in its cutime/cstime.
      if (f && pid === postmaster) ticks += Number(f[13]) + Number(f[14]);
    }
    return (ticks / hz) * 1e6;
  };
}
