/**
 * The counter store interface shared by the memory store (one replica) and the Redis store (several replicas), and
 * the argument checks and limit comparison both use so they behave identically.
 *
 * Usage of a counter = settled amounts + live reservations. A reservation not settled within its TTL is released
 * (lazily and atomically, inside the next store operation). A counter exists only during its window: once
 * `nowMs >= windowEndMs` it reads as 0, is never written again and its storage is dropped.
 * Amounts are plain numbers (tokens, or USD as floats); the comparison allows a relative 1e-9 tolerance so that float
 * sums such as 0.1 + 0.2 + 0.7 fit a limit of 1.
 */
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

export interface CounterSpec {
  /** Counter identity (policy, limit, subject, model…). The window end is part of the identity. */
  key: string;
  /** What this request adds (reserve) — finite, >= 0. */
  amount: number;
  /** The budget of the window — finite, >= 0. */
  limit: number;
  /** Window end, ms since epoch: the counter reads as 0 from then on and its storage expires (plus slack). */
  windowEndMs: number;
  /**
   * Redis Cluster slot group: counters with the same tag are reserved by one atomic script (one round trip). Use the
   * same tag (e.g. the subject) for all counters of a request. Absent = the store's default tag. Memory store: ignored.
   */
  hashTag?: string;
}

export interface ReserveRequest {
  /** Unique reservation id (per request). Reserving an id again is a no-op that answers ok with current usage. */
  id: string;
  /** Distinct counters (key + windowEndMs); all or nothing across them. */
  counters: CounterSpec[];
  nowMs: number;
  /** A reservation never settled is released after this (> 0). */
  reservationTtlMs: number;
  /** Reserve even when a limit would be exceeded (DryRun, or the caller decided); the result's `exceeded` then names
   * the first counter that did not fit. */
  force?: boolean;
}

export type ReserveResult =
  /** Reserved; `used` per counter after reserving. `exceeded` (force only): first counter that did not fit. */
  | { ok: true; used: number[]; exceeded?: number }
  /**
   * Nothing changed; `blocked` = index of the first counter that would exceed; `used` = current usage; `settled` =
   * the settled part of it (without live reservations: what is left once the requests in flight settle).
   */
  | { ok: false; blocked: number; used: number[]; settled: number[] };

export interface CounterRef {
  key: string;
  windowEndMs: number;
  hashTag?: string;
}

export interface CounterStore {
  readonly kind: 'memory' | 'redis';
  /**
   * Atomically: if every counter has used + amount <= limit, add every amount and remember the reservation; else
   * change nothing. With force, add regardless (reporting the first counter that did not fit).
   * Throws TokenmeterError STORE_UNAVAILABLE when the store cannot answer (caller applies failureMode).
   */
  reserve(req: ReserveRequest): Promise<ReserveResult>;
  /**
   * Replace a reservation's amounts with the actual amounts (same counters, same order). Idempotent; unknown ids are
   * a no-op. A reservation already released by expiry is charged the actual amounts once. Must be called by the
   * process that reserved (the store remembers the reservation's counters until their windows end).
   */
  settle(id: string, actual: number[], nowMs: number): Promise<void>;
  /** Current usage (settled + live reservations, after releasing expired ones) of each counter. */
  peek(counters: CounterRef[], nowMs: number): Promise<number[]>;
  /**
   * Every live counter whose key starts with `prefix` in the window ending at `windowEndMs`, with its usage. Only
   * stores that can enumerate cheaply implement it (memory); the others leave listings to the ledger.
   */
  list?(prefix: string, windowEndMs: number, nowMs: number): Promise<{ key: string; used: number }[]>;
  close(): Promise<void>;
}

/** Relative tolerance of the limit check (float sums of USD amounts). */
export const LIMIT_TOLERANCE = 1e-9;

/** Whether `used + amount` fits `limit` (exactly at the limit fits). Same rule in both stores (and in the Lua). */
export function fitsLimit(used: number, amount: number, limit: number): boolean {
  return used + amount <= limit + LIMIT_TOLERANCE * Math.max(1, Math.abs(limit));
}

function invalid(message: string): TokenmeterError {
  return new TokenmeterError(ErrorCodes.STORE_REQUEST_INVALID, message);
}

const finiteNonNegative = (n: number): boolean => Number.isFinite(n) && n >= 0;

/** Throws STORE_REQUEST_INVALID unless the request is well formed. */
export function checkReserveRequest(req: ReserveRequest): void {
  if (typeof req.id !== 'string' || req.id === '') throw invalid('reserve: id must be a non-empty string');
  if (!Number.isFinite(req.nowMs)) throw invalid('reserve: nowMs must be a finite number');
  if (!(Number.isFinite(req.reservationTtlMs) && req.reservationTtlMs > 0)) {
    throw invalid('reserve: reservationTtlMs must be a positive finite number');
  }
  const cs = req.counters;
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i] as CounterSpec;
    if (typeof c.key !== 'string' || c.key === '') throw invalid(`reserve: counters[${i}].key must be a non-empty string`);
    if (!finiteNonNegative(c.amount)) throw invalid(`reserve: counters[${i}].amount must be a finite number >= 0`);
    if (!finiteNonNegative(c.limit)) throw invalid(`reserve: counters[${i}].limit must be a finite number >= 0`);
    if (!Number.isFinite(c.windowEndMs)) throw invalid(`reserve: counters[${i}].windowEndMs must be a finite number`);
    for (let j = 0; j < i; j++) {
      const d = cs[j] as CounterSpec;
      if (d.key === c.key && d.windowEndMs === c.windowEndMs) throw invalid(`reserve: counters[${i}] repeats counter "${c.key}"`);
    }
  }
}

/** Throws STORE_REQUEST_INVALID unless `actual` has one finite amount >= 0 per reserved counter. */
export function checkSettleAmounts(actual: number[], counters: number, nowMs: number): void {
  if (!Number.isFinite(nowMs)) throw invalid('settle: nowMs must be a finite number');
  if (actual.length !== counters) {
    throw invalid(`settle: ${actual.length} actual amounts for a reservation of ${counters} counters`);
  }
  actual.forEach((a, i) => {
    if (!finiteNonNegative(a)) throw invalid(`settle: actual[${i}] must be a finite number >= 0`);
  });
}

/** The identity of a counter: its key within its window. */
export function counterId(c: CounterRef): string {
  return `${c.windowEndMs}|${c.key}`;
}
