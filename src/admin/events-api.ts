/**
 * `GET /v1/events`: live updates as server-sent events. The console keeps one stream open per page and refetches the
 * JSON of its view when a `change` arrives; the data itself always comes from the JSON endpoints (so a page shows what
 * curl shows).
 *
 * Why SSE and not polling: one feed per process checks a cheap change mark once a second (the ledger's roll-ups of
 * today, which the writer updates in the transaction that adds records; the policy set) for all open pages together,
 * and pages refetch only when something changed — N open pages cost one check a second plus a write each, where
 * polling would cost N full queries every interval whether or not anything changed. EventSource reconnects by itself
 * and carries the console's session cookie. The feed runs only while a stream is open.
 *
 * Events: `hello` (on connect: version, heartbeat), `change` (version, as_of), `ping` (every heartbeatMs without a
 * change, so a page can tell a quiet feed from a dead one), `status` (ok: false while the change mark cannot be read —
 * the ledger is down — and ok: true when it can again).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LedgerQuery } from '../ledger/query.js';
import { policyKey } from '../policy/types.js';
import { budgetRows } from './budget-list.js';
import { bearerAuthorized, sendError, sendUnauthorized } from './http.js';
import type { PolicyBudgets } from './subjects-api.js';

export interface ChangeFeedOptions {
  /** A value that changes when the data the console shows changes; throws when it cannot be read. */
  mark(): Promise<string>;
  /** How often the mark is read while a stream is open (ms). */
  intervalMs?: number;
  /** A `ping` after this long without another event (ms). */
  heartbeatMs?: number;
  /** Streams open at most; more are answered 503. */
  maxStreams?: number;
  now?: () => number;
}

export class ChangeFeed {
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;
  private version = 0;
  private ok = true;
  private checking = false;
  private lastSent = 0;
  readonly intervalMs: number;
  readonly heartbeatMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: ChangeFeedOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  get open(): number {
    return this.streams.size;
  }

  /** Bumped by every change seen (only while a stream is open: without one, nothing polls the mark). */
  get current(): number {
    return this.version;
  }

  /** Starts an event stream on `res`; it ends when the client goes away. */
  subscribe(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= (this.opts.maxStreams ?? 1000)) {
      sendError(res, 503, 'TM_UNAVAILABLE', 'too many open event streams');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 3000\n${event('hello', { version: this.version, as_of: new Date(this.now()).toISOString(), heartbeat_ms: this.heartbeatMs, ok: this.ok })}`);
    this.streams.add(res);
    const drop = (): void => {
      this.streams.delete(res);
      if (this.streams.size === 0) this.stop();
    };
    req.once('close', drop);
    res.once('close', drop);
    if (!this.timer) {
      this.lastSent = this.now();
      this.timer = setInterval(() => void this.check(), this.intervalMs);
      this.timer.unref();
      void this.check();
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private broadcast(text: string): void {
    this.lastSent = this.now();
    for (const res of this.streams) res.write(text);
  }

  /** Reads the mark; a change (or the first read) bumps the version and tells every stream. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const mark = await this.opts.mark();
      if (!this.ok) {
        this.ok = true;
        this.broadcast(event('status', { ok: true }));
      }
      if (mark !== this.last) {
        const first = this.last === undefined;
        this.last = mark;
        if (!first) {
          this.version++;
          this.broadcast(event('change', { version: this.version, as_of: new Date(this.now()).toISOString() }));
        }
      }
    } catch (err) {
      if (this.ok) {
        this.ok = false;
        this.broadcast(event('status', { ok: false, message: `the data source cannot answer: ${err instanceof Error ? err.message : String(err)}` }));
      }
    } finally {
      this.checking = false;
    }
    if (this.streams.size > 0 && this.now() - this.lastSent >= this.heartbeatMs) this.broadcast(event('ping', { as_of: new Date(this.now()).toISOString() }));
  }

  close(): void {
    this.stop();
    for (const res of this.streams) res.end();
    this.streams.clear();
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function handleEvents(req: IncomingMessage, res: ServerResponse, deps: { feed?: ChangeFeed; adminToken: string }): void {
  if (!bearerAuthorized(req, deps.adminToken)) return sendUnauthorized(res);
  if (!deps.feed) return sendError(res, 404, 'TM_NOT_FOUND', 'no live updates here (neither a ledger nor budgets)');
  deps.feed.subscribe(req, res);
}

/**
 * The change mark of what the console shows: the policies in force, and today's roll-ups in the ledger (written in the
 * transaction that adds records), or — without a ledger — the counters' usage (stores that can list them).
 */
export function consoleMark(src: { ledger?: LedgerQuery; budgets?: PolicyBudgets; now?: () => number }): () => Promise<string> {
  const now = src.now ?? Date.now;
  return async () => {
    const policies = src.budgets?.policies() ?? [];
    const names = policies.map(policyKey).join(',');
    if (src.ledger) return `${names}|${await src.ledger.changeMark(now())}`;
    let used = 0;
    const budgets = src.budgets;
    if (budgets?.store?.list) {
      for (const p of policies) for (const r of (await budgetRows({ store: budgets.store, now: () => budgets.now() }, p)).rows) used += r.used;
    }
    return `${names}|${used}`;
  };
}
