/**
 * Budget decisions inside Envoy's message timeout. Envoy starts the timer when it sends the message that completes the
 * request (ProcessorState::onStartProcessorCall) and, when it fires, either forwards the request as the client sent it
 * and drops the processor for the rest of the stream (failure_mode_allow: no rejection, no include_usage, no response
 * metering, no metadata) or answers 504 itself (never the 503 a `failureMode: Closed` policy promises). So the session
 * keeps its own, earlier deadline, measured from the moment that message arrived:
 *
 *   decideBy = arrival + messageTimeout / 2,   countBy = arrival + min(messageTimeout / 5, 200 ms)
 *
 * The other half covers what happens outside the session: the message's transfer to tokenmeter and the reply's transfer
 * back (an 8 MiB prompt, and its include_usage replacement, each way), event-loop delays. With the 2 s the operator
 * renders, an 8 MiB prompt fits on a busy two-core machine (measured: README, "Budget decisions inside Envoy's
 * message timeout"); with Envoy's default 200 ms it does not, whatever the processor does. An input count not done by `countBy` (a multi-MiB prompt on a busy core) is replaced, for the
 * reservation only, by the bytes/4 estimate unparsable bodies already use; settling at the end charges the real usage.
 * A counter store that has not answered by `decideBy` is treated as unavailable: the policy's failureMode applies,
 * decided by tokenmeter itself (Closed → 503, Open → the request goes on with the stream kept), and a reservation
 * that lands later is settled or released with the request (src/limits/deadline.ts).
 */

/** The share of the timeout the session may use: the rest is for the message's transfer in and the reply's out. */
const DECIDE_SHARE = 1 / 2;
/**
 * How long an unfinished count is waited for before the estimate replaces it: a fifth of the timeout, at most 200 ms.
 * Counting a multi-MiB prompt exactly takes 250–800 ms on a busy core (7.9 MiB measured), and waiting for it only
 * delays the request: its reservation is settled to the real usage anyway.
 */
const COUNT_SHARE = 1 / 5;
const COUNT_WAIT_MAX_MS = 200;

export interface DecisionTimes {
  /** Use the estimate instead of the exact count from here (same clock as `arrivedAtMs`). */
  countBy: number;
  /** Answer by here, with or without the store. */
  decideBy: number;
}

export function decisionTimes(arrivedAtMs: number, messageTimeoutMs: number): DecisionTimes {
  return { countBy: arrivedAtMs + Math.min(messageTimeoutMs * COUNT_SHARE, COUNT_WAIT_MAX_MS), decideBy: arrivedAtMs + messageTimeoutMs * DECIDE_SHARE };
}

/**
 * `p`'s value if it settles within `ms`, else `fallback`. A promise that already settled wins even when `ms` <= 0
 * (it is given until the next macrotask).
 */
export function valueWithin<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise<T | F>((resolve) => {
    const timer = setTimeout(() => resolve(fallback), Math.max(0, ms));
    p.then((v) => {
      clearTimeout(timer);
      resolve(v);
    }, () => {
      clearTimeout(timer);
      resolve(fallback);
    });
  });
}

/** A signal that aborts `ms` from now (at once for ms <= 0); cancel() drops the timer once the decision is made. */
export function deadlineSignal(ms: number): { signal: AbortSignal; cancel(): void } {
  const ac = new AbortController();
  if (ms <= 0) {
    ac.abort();
    return { signal: ac.signal, cancel: () => undefined };
  }
  const timer = setTimeout(() => ac.abort(), Math.ceil(ms));
  timer.unref();
  return { signal: ac.signal, cancel: () => clearTimeout(timer) };
}
