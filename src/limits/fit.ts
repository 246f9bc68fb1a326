/**
 * Does a request fit a counter, and how much output could it have so that it does? Pure arithmetic on planned
 * counters (src/limits/plan.ts): a counter's reservation is `input + perOutputToken × min(output, cap)` in its limit's
 * unit, where `output` is what the request reserves at its own cap (MaxTokens, Clamp: the cap or the model's output
 * limit; Observed: the estimate; None: 0) and `cap` the output cap tokenmeter may write (Clamp), Infinity otherwise.
 *
 * - Never fits: the smallest reservation the request can have exceeds a limit's whole budget — waiting cannot help,
 *   so the answer is a non-retryable error naming the largest output cap that would fit (`maxFittingOutput` on an
 *   empty counter).
 * - Clamp: after a reserve that did not fit, the largest cap with which every counter fits its current usage.
 */
import { counterUnits, type ReservationParts } from '../policy/charge.js';
import type { Limit, TokenPolicy } from '../policy/types.js';
import { fitsLimit } from './store.js';

/** How a counter takes part in the decision: enforced, counted only (DryRun policy), or counted only (exempt subject). */
export type CounterRole = 'enforce' | 'dry-run' | 'exempt';

export interface PlannedCounter {
  policy: TokenPolicy;
  limit: Limit;
  role: CounterRole;
  /** The tier that applied ('' for policies without tiers). */
  tier: string;
  /** The subject as recorded (ledger, per-subject metric: src/policy/subject.ts recordedSubject). */
  subject: string;
  key: string;
  windowEndMs: number;
  hashTag: string;
  /** The limit's budget in counter units (tokens, or micro-USD). */
  budget: number;
  parts: ReservationParts;
  /** Output tokens reserved at the request's own cap (before any clamp). */
  output: number;
}

/** Counter units reserved with output cap `cap` (Infinity: none written). */
export function unitsAt(c: PlannedCounter, cap: number): number {
  return counterUnits(c.limit, c.parts.input + c.parts.perOutputToken * Math.min(c.output, cap));
}

/**
 * The largest output cap with which `c` fits `used`: Infinity when it fits at its own reservation, -1 when not even
 * its input does.
 */
export function maxFittingOutput(c: PlannedCounter, used: number): number {
  if (fitsLimit(used, unitsAt(c, Infinity), c.budget)) return Infinity;
  if (!fitsLimit(used, unitsAt(c, 0), c.budget)) return -1;
  const scale = c.limit.kind === 'cost' ? 1e6 : 1;
  let out = Math.min(c.output, Math.max(0, Math.floor((c.budget - used - c.parts.input * scale) / (c.parts.perOutputToken * scale))));
  while (out > 0 && !fitsLimit(used, unitsAt(c, out), c.budget)) out--;
  return out;
}

export interface NeverFits {
  counter: PlannedCounter;
  /** What the request reserves on it (counter units) at the smallest cap it can have. */
  reserved: number;
  /** The largest output cap that fits every enforced limit's whole budget; -1 when the input alone does not. */
  maxOutput: number;
}

/**
 * The first enforced counter whose whole budget the request cannot fit even with output cap `minCap` (the clamp
 * floor, or Infinity when nothing is clamped), with the largest cap that would fit all of them.
 */
export function neverFits(counters: readonly PlannedCounter[], minCap: number): NeverFits | undefined {
  const first = counters.find((c) => c.role === 'enforce' && !fitsLimit(0, unitsAt(c, minCap), c.budget));
  if (!first) return undefined;
  const caps = counters.filter((c) => c.role === 'enforce').map((c) => maxFittingOutput(c, 0));
  return { counter: first, reserved: unitsAt(first, minCap), maxOutput: Math.min(...caps) };
}

/**
 * The largest output cap with which every enforced counter fits its usage `used` (same order), and the index of the
 * counter that sets it (-1 when none limits it).
 */
export function clampCap(counters: readonly PlannedCounter[], used: readonly number[]): { cap: number; by: number } {
  let cap = Infinity;
  let by = -1;
  counters.forEach((c, i) => {
    if (c.role !== 'enforce') return;
    const fit = maxFittingOutput(c, used[i] ?? 0);
    if (fit < cap) [cap, by] = [fit, i];
  });
  return { cap, by };
}
