/**
 * A counter-store call bounded by the request's decision deadline (src/extproc/decision-deadline.ts). Past it the
 * store counts as unavailable for this request (STORE_UNAVAILABLE: the policy's failureMode applies), but the call
 * itself goes on: a reservation that lands afterwards must not be held until its TTL, so the caller keeps the late
 * result and settles (or, for a request that was refused, releases) it when the request ends.
 */
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

export function deadlineExceeded(): TokenmeterError {
  return new TokenmeterError(ErrorCodes.STORE_UNAVAILABLE, 'the counter store did not answer before the decision deadline (inside Envoy\'s message timeout)');
}

/**
 * `p`, or a STORE_UNAVAILABLE rejection once `signal` aborts. A `p` that already settled wins over a signal that
 * already aborted (it is given until the next macrotask), so an in-memory store is never cut short.
 */
export function beforeDeadline<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Immediate | undefined;
    const onAbort = (): void => reject(deadlineExceeded());
    const done = (): void => {
      signal.removeEventListener('abort', onAbort);
      if (timer) clearImmediate(timer);
    };
    p.then((v) => {
      done();
      resolve(v);
    }, (err: unknown) => {
      done();
      reject(err instanceof Error ? err : new Error(String(err)));
    });
    if (signal.aborted) timer = setImmediate(onAbort);
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Whether a call that missed its deadline did reserve after all (never rejects). */
export function landed(p: Promise<{ ok: boolean }>): Promise<boolean> {
  return p.then((r) => r.ok, () => false);
}
