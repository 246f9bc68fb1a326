/**
 * A SQLite connection on its own thread: better-sqlite3 is synchronous, so writes (and WAL checkpoints) and report
 * queries run on a worker thread and never stall the ext_proc's event loop. The worker is a small generic SQL
 * executor (exec, all, a transaction of statements, a batch with its roll-ups); every statement is built by the
 * ledger modules on the main thread. Its source is plain JavaScript evaluated by the worker (`eval: true`), so it
 * runs the same from the compiled package and from the TypeScript sources under test; the driver is resolved here
 * and passed in.
 *
 * The thread lives only while there is work: it starts on the first call and is stopped (connection closed, thread
 * ended) after `idleMs` without one, so an idle ext_proc holds no second V8 isolate and no SQLite page cache
 * (README "Memory at rest"). Under traffic the writer's batches keep it alive. A thread that dies (a crash, out of
 * memory) fails the calls it had; the next call starts a new one.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { readonly: workerData.readonly, fileMustExist: workerData.readonly });
db.pragma('busy_timeout = 5000');
for (const p of workerData.pragmas) db.pragma(p);
const cache = new Map();
const stmt = (sql) => {
  let s = cache.get(sql);
  if (!s) { s = db.prepare(sql); cache.set(sql, s); }
  return s;
};
// Inserts rows one by one; the rows that were new (changes = 1) are summed per roll-up key into each roll-up
// statement's parameters: the key (row positions, a position's value cut to 'chars' characters when given, null as
// ''), then the count, then the sums; the groups are upserted in key order. Returns the number of new rows.
const batch = (m) => {
  const insert = stmt(m.insert);
  const groups = m.rollups.map(() => new Map());
  let written = 0;
  for (const row of m.rows) {
    if (insert.run(...row).changes !== 1) continue;
    written++;
    for (let r = 0; r < m.rollups.length; r++) {
      const spec = m.rollups[r].key;
      const key = new Array(spec.length);
      // The group's id: the values, each followed by a NUL; a value holding a NUL itself falls back to JSON (which
      // escapes it, so the two forms never meet).
      let id = '';
      for (let k = 0; k < spec.length; k++) {
        const v = String(row[spec[k][0]] ?? '');
        key[k] = spec[k][1] ? v.slice(0, spec[k][1]) : v;
        id += key[k] + '\\u0000';
      }
      if (id.split('\\u0000').length !== spec.length + 1) id = JSON.stringify(key);
      let g = groups[r].get(id);
      if (!g) { g = [...key, 0, ...m.sum.map(() => 0)]; groups[r].set(id, g); }
      g[key.length] += 1;
      for (let k = 0; k < m.sum.length; k++) g[key.length + 1 + k] += Number(row[m.sum[k]] ?? 0);
    }
  }
  for (let r = 0; r < m.rollups.length; r++) {
    const upsert = stmt(m.rollups[r].sql);
    for (const id of [...groups[r].keys()].sort()) upsert.run(...groups[r].get(id));
  }
  return written;
};
parentPort.on('message', (m) => {
  try {
    let result = null;
    if (m.kind === 'exec') db.exec(m.sql);
    else if (m.kind === 'all') result = stmt(m.sql).all(...m.params);
    else if (m.kind === 'tx') result = db.transaction(() => m.steps.map((s) => stmt(s.sql).run(...s.params).changes))();
    else if (m.kind === 'batch') result = db.transaction(() => batch(m))();
    else if (m.kind === 'close') { db.close(); }
    parentPort.postMessage({ id: m.id, ok: true, result });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, message: String(e && e.message), code: e && e.code });
  }
});
`;

type Param = string | number | null;
export type Row = Record<string, unknown>;

/** A roll-up a batch maintains: its upsert statement and its key as [row position, characters kept (0: all)]. */
export interface BatchRollup {
  sql: string;
  key: [number, number][];
}

export interface Batch {
  insert: string;
  rows: Param[][];
  rollups: BatchRollup[];
  /** Row positions summed into every roll-up (after the count). */
  sum: number[];
}

type Message =
  | { kind: 'exec'; sql: string }
  | { kind: 'all'; sql: string; params: Param[] }
  | { kind: 'tx'; steps: { sql: string; params: Param[] }[] }
  | ({ kind: 'batch' } & Batch)
  | { kind: 'close' };

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  message?: string;
  code?: string;
}

export interface SqliteThreadOptions {
  readonly?: boolean;
  /** PRAGMAs the connection runs after opening (e.g. `synchronous = FULL`). */
  pragmas?: readonly string[];
  /** The thread is stopped after this long without a call (ms). Default 10 s. */
  idleMs?: number;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** One worker thread and the calls it has not answered yet. */
interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class SqliteThread {
  private thread: Thread | undefined;
  private seq = 0;
  private idle: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly idleMs: number;
  private readonly data: { file: string; readonly: boolean; driver: string; pragmas: readonly string[] };
  /** Threads started so far (for tests and the bench). */
  starts = 0;

  constructor(file: string, opts: SqliteThreadOptions = {}) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.data = { file, readonly: opts.readonly ?? false, driver, pragmas: opts.pragmas ?? [] };
    this.idleMs = opts.idleMs ?? 10_000;
  }

  /** Whether a thread is running now. */
  get running(): boolean {
    return this.thread !== undefined;
  }

  private start(): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.data });
    worker.unref();
    const t: Thread = { worker, pending: new Map() };
    this.starts++;
    worker.on('message', (r: Reply) => {
      const p = t.pending.get(r.id);
      t.pending.delete(r.id);
      if (r.ok) p?.resolve(r.result);
      else p?.reject(new TokenmeterError(ErrorCodes.LEDGER_UNAVAILABLE, `sqlite: ${r.message ?? 'failed'}${r.code ? ` (${r.code})` : ''}`));
      if (t.pending.size === 0 && this.thread === t) this.armIdle();
    });
    const fail = (err: Error): void => {
      const failed = new TokenmeterError(ErrorCodes.LEDGER_UNAVAILABLE, `sqlite worker stopped: ${err.message}`, { cause: err });
      for (const p of t.pending.values()) p.reject(failed);
      t.pending.clear();
      if (this.thread === t) this.thread = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    return t;
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => void this.retire(), this.idleMs);
    this.idle.unref();
  }

  /** Closes the connection and ends the thread; a call made meanwhile starts a new one. */
  private async retire(): Promise<void> {
    const t = this.thread;
    if (!t || t.pending.size > 0) return;
    this.thread = undefined;
    await this.send(t, { kind: 'close' }).catch(() => undefined);
    await t.worker.terminate();
  }

  private send(t: Thread, m: Message): Promise<unknown> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.postMessage({ ...m, id });
    });
  }

  private call(m: Message): Promise<unknown> {
    if (this.closed) return Promise.reject(new TokenmeterError(ErrorCodes.LEDGER_UNAVAILABLE, 'sqlite: the ledger is closed'));
    clearTimeout(this.idle);
    this.thread ??= this.start();
    return this.send(this.thread, m);
  }

  async exec(sql: string): Promise<void> {
    await this.call({ kind: 'exec', sql });
  }

  async all(sql: string, params: Param[] = []): Promise<Row[]> {
    return (await this.call({ kind: 'all', sql, params })) as Row[];
  }

  /** Runs the statements in one transaction; resolves to each statement's changed-row count. */
  async tx(steps: { sql: string; params: Param[] }[]): Promise<number[]> {
    return (await this.call({ kind: 'tx', steps })) as number[];
  }

  /**
   * In one transaction: runs `insert` for each row; for each roll-up, sums the rows that were new per key into its
   * statement's parameters (the key values, the count of new rows, then the sums of the `sum` positions) and runs
   * it once per key. Resolves to the number of new rows.
   */
  async batch(b: Batch): Promise<number> {
    return (await this.call({ kind: 'batch', ...b })) as number;
  }

  /** Closes the connection and ends the thread; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idle);
    const t = this.thread;
    this.thread = undefined;
    if (!t) return;
    // Messages are handled in order: the calls already sent finish before the connection closes.
    await this.send(t, { kind: 'close' }).catch(() => undefined);
    await t.worker.terminate();
  }
}
