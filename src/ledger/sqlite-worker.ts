/**
 * A SQLite connection on its own thread: better-sqlite3 is synchronous, so writes (and WAL checkpoints) and report
 * queries run on a worker thread and never stall the ext_proc's event loop. The worker is a small generic SQL
 * executor (exec, all, a transaction of statements); every statement is built by the ledger modules on the main
 * thread. Its source is plain JavaScript evaluated by the worker (`eval: true`), so it runs the same from the
 * compiled package and from the TypeScript sources under test; the driver is resolved here and passed in.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { readonly: workerData.readonly, fileMustExist: workerData.readonly });
db.pragma('busy_timeout = 5000');
if (!workerData.readonly) {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
}
const cache = new Map();
const stmt = (sql) => {
  let s = cache.get(sql);
  if (!s) { s = db.prepare(sql); cache.set(sql, s); }
  return s;
};
// Inserts rows one by one; the rows that were new (changes = 1) are summed per key into the roll-up statement's
// parameters: key columns, then the count, then the sums. Returns the number of new rows.
const batch = (m) => {
  const insert = stmt(m.insert);
  const groups = new Map();
  let written = 0;
  for (const row of m.rows) {
    if (insert.run(...row).changes !== 1) continue;
    written++;
    const key = m.key.map((i) => row[i] ?? '');
    const id = JSON.stringify(key);
    let g = groups.get(id);
    if (!g) { g = [...key, 0, ...m.sum.map(() => 0)]; groups.set(id, g); }
    g[m.key.length] += 1;
    m.sum.forEach((i, k) => { g[m.key.length + 1 + k] += Number(row[i] ?? 0); });
  }
  const upsert = stmt(m.rollup);
  for (const id of [...groups.keys()].sort()) upsert.run(...groups.get(id));
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

type Message =
  | { kind: 'exec'; sql: string }
  | { kind: 'all'; sql: string; params: Param[] }
  | { kind: 'tx'; steps: { sql: string; params: Param[] }[] }
  | { kind: 'batch'; insert: string; rows: Param[][]; key: number[]; sum: number[]; rollup: string }
  | { kind: 'close' };

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  message?: string;
  code?: string;
}

export class SqliteThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private failed: Error | undefined;

  constructor(file: string, readonly = false) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, readonly, driver } });
    this.worker.unref();
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.ok) p?.resolve(r.result);
      else p?.reject(new TokenmeterError(ErrorCodes.LEDGER_UNAVAILABLE, `sqlite: ${r.message ?? 'failed'}${r.code ? ` (${r.code})` : ''}`));
    });
    const fail = (err: Error): void => {
      this.failed = new TokenmeterError(ErrorCodes.LEDGER_UNAVAILABLE, `sqlite worker stopped: ${err.message}`, { cause: err });
      for (const p of this.pending.values()) p.reject(this.failed);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  private call(m: Message): Promise<unknown> {
    if (this.failed) return Promise.reject(this.failed);
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...m, id });
    });
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
   * In one transaction: runs `insert` for each row; sums the rows that were new per `key` (row positions) into
   * `rollup`'s parameters (the key values, the count of new rows, then the sums of the `sum` positions) and runs it
   * once per key. Resolves to the number of new rows.
   */
  async batch(b: { insert: string; rows: Param[][]; key: number[]; sum: number[]; rollup: string }): Promise<number> {
    return (await this.call({ kind: 'batch', ...b })) as number;
  }

  async close(): Promise<void> {
    if (!this.failed) await this.call({ kind: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}
