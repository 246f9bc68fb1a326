/**
 * Time as the controller machinery sees it: injectable so the work queue and leader election are pure logic that
 * tests drive with a manual clock.
 */

/** Opaque: whatever setTimeout returned. */
export type TimerHandle = object | number;

export interface Timers {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realTimers: Timers = {
  now: (): number => Date.now(),
  setTimeout: (fn: () => void, ms: number): TimerHandle => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle: TimerHandle): void => clearTimeout(handle as NodeJS.Timeout),
};

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits (the API server parses that layout). */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Exponential backoff: base·2^(attempt-1), capped at max, for attempt ≥ 1. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
