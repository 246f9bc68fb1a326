import { describe, expect, it } from 'vitest';
import { ManualTimers, settle } from '../../test/helpers/manual-timers.js';
import { WorkQueue, type ProcessResult, type WorkQueueOptions } from './workqueue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function record<T>(into: T[], value: T): Promise<void> {
  into.push(value);
  return Promise.resolve();
}

function queue(
  process: (key: string) => Promise<ProcessResult>,
  options: Partial<WorkQueueOptions> = {},
): { q: WorkQueue; timers: ManualTimers } {
  const timers = new ManualTimers();
  const q = new WorkQueue({ process, timers, backoff: { baseMs: 100, maxMs: 1000 }, ...options });
  return { q, timers };
}

describe('WorkQueue', () => {
  it('merges adds of a waiting key and keeps first-added order; depth counts waiting keys', async () => {
    const seen: string[] = [];
    const { q } = queue((k) => record(seen, k));
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    expect(q.depth()).toBe(2);
    q.start();
    await q.idle();
    expect(seen).toEqual(['a', 'b']);
    expect(q.depth()).toBe(0);
  });

  it('never processes one key concurrently; a key added during its run is processed once more afterwards', async () => {
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    const seen: string[] = [];
    const { q } = queue(
      async (k) => {
        seen.push(k);
        active++;
        maxActive = Math.max(maxActive, active);
        if (seen.length === 1) await gate.promise;
        active--;
      },
      { concurrency: 4 },
    );
    q.start();
    q.add('a');
    await settle();
    expect(q.inFlight()).toBe(1);
    q.add('a');
    q.add('a');
    q.add('b');
    await settle();
    expect(seen).toEqual(['a', 'b']); // b runs beside a; the second a waits
    expect(q.depth()).toBe(0);
    gate.resolve();
    await q.idle();
    expect(seen).toEqual(['a', 'b', 'a']);
    expect(maxActive).toBe(2);
  });

  it('different keys run concurrently up to the concurrency limit', async () => {
    const gate = deferred();
    const { q } = queue(() => gate.promise, { concurrency: 2 });
    q.start();
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await settle();
    expect(q.inFlight()).toBe(2);
    expect(q.depth()).toBe(2);
    gate.resolve();
    await q.idle();
  });

  it('retries a failing key with exponential backoff, then drops and reports it after maxRetries', async () => {
    const attempts: number[] = [];
    const drops: [string, number][] = [];
    const retries: number[] = [];
    const { q, timers } = queue(
      () => {
        attempts.push(timers.now());
        return Promise.reject(new Error('apply failed'));
      },
      { maxRetries: 5, onDrop: (k, _e, n) => drops.push([k, n]), onRetry: (_k, _e, _n, d) => retries.push(d) },
    );
    q.start();
    q.add('a');
    await timers.advance(10_000);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    expect(gaps).toEqual([100, 200, 400, 800, 1000]);
    expect(retries).toEqual([100, 200, 400, 800, 1000]);
    expect(drops).toEqual([['a', 6]]);
    expect(q.failures('a')).toBe(0);
    expect(q.delayedCount()).toBe(0);
    q.add('a'); // a later event starts afresh
    await settle();
    expect(attempts).toHaveLength(7);
  });

  it('a success resets the backoff', async () => {
    let n = 0;
    const { q, timers } = queue(() => (++n <= 2 ? Promise.reject(new Error('transient')) : Promise.resolve()));
    q.start();
    q.add('a');
    await settle();
    expect(q.failures('a')).toBe(1);
    await timers.advance(100);
    expect(q.failures('a')).toBe(2);
    await timers.advance(200);
    expect(n).toBe(3);
    expect(q.failures('a')).toBe(0);
  });

  it('requeue results: { requeue: true } uses the backoff, { requeueAfterMs } the given delay', async () => {
    const results: ProcessResult[] = [{ requeue: true }, { requeue: true }, { requeueAfterMs: 5000 }, undefined];
    const times: number[] = [];
    const { q, timers } = queue(() => {
      times.push(timers.now());
      return Promise.resolve(results.shift());
    });
    const t0 = timers.now();
    q.start();
    q.add('a');
    await timers.advance(20_000);
    expect(times.map((t) => t - t0)).toEqual([0, 100, 300, 5300]);
  });

  it('addAfter keeps the earliest pending time; addRateLimited re-adds with the key backoff', async () => {
    const times: number[] = [];
    const { q, timers } = queue(() => record(times, timers.now()));
    const t0 = timers.now();
    q.start();
    q.addAfter('a', 500);
    q.addAfter('a', 900);
    q.addAfter('a', 200);
    expect(q.delayedCount()).toBe(1);
    await timers.advance(1000);
    expect(times.map((t) => t - t0)).toEqual([200]);
    q.addRateLimited('b');
    q.addRateLimited('b');
    expect(timers.pendingDelays()).toEqual([100]); // the earlier pending add wins
    expect(q.failures('b')).toBe(2);
  });

  it('periodic resync re-adds every key the hook returns', async () => {
    const seen: string[] = [];
    const { q, timers } = queue((k) => record(seen, k), { resync: { periodMs: 1000, keys: () => ['x', 'y'] } });
    q.start();
    await timers.advance(999);
    expect(seen).toEqual([]);
    await timers.advance(1);
    expect(seen).toEqual(['x', 'y']);
    await timers.advance(1000);
    expect(seen).toEqual(['x', 'y', 'x', 'y']);
  });

  it('shutdown without drain: waits for the run in flight, drops waiting and delayed keys, ignores new adds', async () => {
    const gate = deferred();
    const seen: string[] = [];
    const { q, timers } = queue(async (k) => {
      seen.push(k);
      if (k === 'a') await gate.promise;
    });
    q.start();
    q.add('a');
    q.add('b');
    q.addAfter('c', 100);
    await settle();
    let done = false;
    const stopped = q.shutdown().then(() => (done = true));
    q.add('d');
    await settle();
    expect(done).toBe(false);
    gate.resolve();
    await stopped;
    await timers.advance(1000);
    expect(seen).toEqual(['a']);
  });

  it('shutdown with drain processes the keys already waiting, then resolves', async () => {
    const gate = deferred();
    const seen: string[] = [];
    const { q } = queue(async (k) => {
      seen.push(k);
      if (k === 'a') await gate.promise;
    });
    q.start();
    q.add('a');
    q.add('b');
    await settle();
    const stopped = q.shutdown({ drain: true });
    q.add('late');
    gate.resolve();
    await stopped;
    expect(seen).toEqual(['a', 'b']);
  });
});
