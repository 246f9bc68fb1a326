/**
 * In-memory counter store: exact for one replica (a single event loop makes every operation atomic).
 *
 * Cost per operation is O(counters of the request) plus the reservations released by it. Memory is bounded:
 * settled reservations are dropped at once; live ones are kept in one queue per TTL (deadline order, so expiry is
 * found at the queue head); released-but-unsettled ones are swept when their window ends or `lateSettleMs` after
 * their expiry, whichever is first; counters when their window ends. With a clock that goes backwards a reservation
 * may be released late (never early).
 */
import {
  checkReserveRequest, checkSettleAmounts, counterId, fitsLimit,
  type CounterRef, type CounterStore, type ReserveRequest, type ReserveResult,
} from './store.js';

interface Counter {
  settled: number;
  reserved: number;
  /** Live reservations on this counter; `reserved` is reset to exactly 0 when none remain (no float drift). */
  live: number;
  windowEndMs: number;
}

interface Reservation {
  /** undefined where the counter's window had already ended at reserve time. */
  counters: (Counter | undefined)[];
  amounts: number[];
  expiresAtMs: number;
  /** Latest window end of its counters: after it the reservation cannot matter any more. */
  windowEndMs: number;
  live: boolean;
  ttlMs: number;
}

export interface MemoryStoreOptions {
  /** How often (in store time, ms) ended counters and stale reservations are swept. Default 1000. */
  sweepIntervalMs?: number;
  /** A reservation released by expiry can still be settled (charged once) for this long. Default 1 h. */
  lateSettleMs?: number;
}

export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory' as const;
  private readonly counters = new Map<string, Counter>();
  /** Reservations by id: live ones and released-by-expiry ones not yet settled. */
  private readonly reservations = new Map<string, Reservation>();
  /** Live reservations per TTL, in insertion (= deadline, for a monotonic clock) order. */
  private readonly queues = new Map<number, Map<string, Reservation>>();
  private readonly sweepIntervalMs: number;
  private readonly lateSettleMs: number;
  private nextSweepMs = -Infinity;
  /** No live reservation expires before this (skip the queue scan until then). */
  private nextExpiryMs = Infinity;

  constructor(options: MemoryStoreOptions = {}) {
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.lateSettleMs = options.lateSettleMs ?? 3_600_000;
  }

  /** Counters and reservations held (for tests and metrics). */
  get size(): { counters: number; reservations: number } {
    return { counters: this.counters.size, reservations: this.reservations.size };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async: argument errors become rejections
  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    return this.reserveSync(req);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async: argument errors become rejections
  async settle(id: string, actual: number[], nowMs: number): Promise<void> {
    this.settleSync(id, actual, nowMs);
  }

  peek(counters: CounterRef[], nowMs: number): Promise<number[]> {
    this.maintain(nowMs);
    return Promise.resolve(counters.map((c) => usage(this.find(c, nowMs))));
  }

  list(prefix: string, windowEndMs: number, nowMs: number): Promise<{ key: string; used: number }[]> {
    this.maintain(nowMs);
    const out: { key: string; used: number }[] = [];
    if (windowEndMs <= nowMs) return Promise.resolve(out);
    const head = `${windowEndMs}|${prefix}`;
    for (const [id, c] of this.counters) {
      if (c.windowEndMs === windowEndMs && id.startsWith(head)) out.push({ key: id.slice(String(windowEndMs).length + 1), used: usage(c) });
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    this.counters.clear();
    this.reservations.clear();
    this.queues.clear();
    return Promise.resolve();
  }

  /** Synchronous reserve (the async method wraps it). */
  reserveSync(req: ReserveRequest): ReserveResult {
    checkReserveRequest(req);
    const now = req.nowMs;
    this.maintain(now);
    const ids = req.counters.map(counterId);
    const found = req.counters.map((c, i) => (c.windowEndMs > now ? this.counters.get(ids[i] as string) : undefined));
    if (this.reservations.has(req.id)) return { ok: true, used: found.map(usage) };
    let exceeded = -1;
    for (let i = 0; i < req.counters.length && exceeded < 0; i++) {
      const spec = req.counters[i];
      if (spec && spec.windowEndMs > now && !fitsLimit(usage(found[i]), spec.amount, spec.limit)) exceeded = i;
    }
    if (exceeded >= 0 && req.force !== true) return { ok: false, blocked: exceeded, used: found.map(usage), settled: found.map((c) => c?.settled ?? 0) };
    const res: Reservation = {
      counters: [], amounts: [], expiresAtMs: now + req.reservationTtlMs, windowEndMs: -Infinity, live: true,
      ttlMs: req.reservationTtlMs,
    };
    const used: number[] = [];
    req.counters.forEach((spec, i) => {
      const c = spec.windowEndMs > now ? (found[i] ?? this.create(ids[i] as string, spec.windowEndMs)) : undefined;
      if (c) {
        c.reserved += spec.amount;
        c.live++;
      }
      res.counters.push(c);
      res.amounts.push(spec.amount);
      res.windowEndMs = Math.max(res.windowEndMs, spec.windowEndMs);
      used.push(usage(c));
    });
    this.reservations.set(req.id, res);
    let queue = this.queues.get(res.ttlMs);
    if (!queue) this.queues.set(res.ttlMs, (queue = new Map<string, Reservation>()));
    queue.set(req.id, res);
    this.nextExpiryMs = Math.min(this.nextExpiryMs, res.expiresAtMs);
    return exceeded >= 0 ? { ok: true, used, exceeded } : { ok: true, used };
  }

  /** Synchronous settle (the async method wraps it). */
  settleSync(id: string, actual: number[], nowMs: number): void {
    this.maintain(nowMs);
    const res = this.reservations.get(id);
    if (!res) return;
    if (!res.live && nowMs >= res.expiresAtMs + this.lateSettleMs) {
      this.reservations.delete(id); // too late to charge (see lateSettleMs)
      return;
    }
    checkSettleAmounts(actual, res.counters.length, nowMs);
    res.counters.forEach((c, i) => {
      if (!c || c.windowEndMs <= nowMs) return;
      if (res.live) unreserve(c, res.amounts[i] ?? 0);
      c.settled += actual[i] ?? 0;
    });
    if (res.live) this.queues.get(res.ttlMs)?.delete(id);
    this.reservations.delete(id);
  }

  private find(c: CounterRef, now: number): Counter | undefined {
    if (c.windowEndMs <= now) return undefined;
    return this.counters.get(counterId(c));
  }

  private create(id: string, windowEndMs: number): Counter {
    const counter: Counter = { settled: 0, reserved: 0, live: 0, windowEndMs };
    this.counters.set(id, counter);
    return counter;
  }

  /** Release expired reservations (queue heads) and, every sweep interval, drop ended counters and reservations. */
  private maintain(now: number): void {
    if (now >= this.nextExpiryMs) this.release(now);
    if (now < this.nextSweepMs) return;
    this.nextSweepMs = now + this.sweepIntervalMs;
    for (const [id, c] of this.counters) if (c.windowEndMs <= now) this.counters.delete(id);
    for (const [id, res] of this.reservations) {
      if (res.windowEndMs > now && (res.live || res.expiresAtMs + this.lateSettleMs > now)) continue;
      this.reservations.delete(id);
      if (res.live) this.queues.get(res.ttlMs)?.delete(id);
    }
    for (const [ttl, queue] of this.queues) if (queue.size === 0) this.queues.delete(ttl);
  }

  /** Release the expired reservations at the head of each TTL queue. */
  private release(now: number): void {
    let next = Infinity;
    for (const queue of this.queues.values()) {
      for (const [id, res] of queue) {
        if (res.expiresAtMs > now) {
          next = Math.min(next, res.expiresAtMs);
          break;
        }
        res.counters.forEach((c, i) => {
          if (c) unreserve(c, res.amounts[i] ?? 0);
        });
        res.live = false;
        queue.delete(id);
      }
    }
    this.nextExpiryMs = next;
  }
}

function usage(c: Counter | undefined): number {
  return c ? c.settled + c.reserved : 0;
}

function unreserve(c: Counter, amount: number): void {
  c.live--;
  c.reserved = c.live <= 0 ? 0 : c.reserved - amount;
}

/** A new in-memory store (the default: one replica). */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryCounterStore {
  return new MemoryCounterStore(options);
}
