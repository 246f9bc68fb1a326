/**
 * Redis store failure behaviour against a real redis-server that is killed (-9), paused (SIGSTOP) and restarted:
 * calls fail fast with STORE_UNAVAILABLE within the per-call timeout, nothing queues while Redis is down, health
 * changes are reported, and the same store works again once Redis is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isTokenmeterError } from '../../src/errors/catalogue.js';
import { createRedisStore, type RedisCounterStore } from '../../src/limits/redis-store.js';
import type { ReserveRequest } from '../../src/limits/store.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const TIMEOUT = 150;
/**
 * What a loaded shared CI machine may add to a deadline. A queued or hanging call would wait until Redis is back
 * (seconds, or forever while it is stopped), so this margin still tells failing fast from waiting.
 */
const SCHEDULING_SLACK_MS = 1000;

describe.skipIf(skipWithoutRedis())('redis store failures', () => {
  let server: RedisServer;
  let store: RedisCounterStore;
  const health: boolean[] = [];
  let seq = 0;
  const req = (key = 'k', amount = 1): ReserveRequest => ({
    id: `r${++seq}`, counters: [{ key, amount, limit: 1e9, windowEndMs: Date.now() + 3_600_000 }], nowMs: Date.now(), reservationTtlMs: 60_000,
  });

  /** Runs fn, returns its error (or undefined) and how long it took. */
  async function timed(fn: () => Promise<unknown>): Promise<{ ms: number; err: unknown }> {
    const start = performance.now();
    try {
      await fn();
      return { ms: performance.now() - start, err: undefined };
    } catch (err) {
      return { ms: performance.now() - start, err };
    }
  }

  async function until(cond: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  beforeAll(async () => {
    server = await startRedisServer();
    store = createRedisStore({
      url: server.url, commandTimeoutMs: TIMEOUT, backoffBaseMs: 20, backoffMaxMs: 200, onHealthChange: (h) => health.push(h),
    });
    expect(await store.waitReady(5000)).toBe(true);
  });
  afterAll(async () => {
    await store.close();
    await server.close();
  });

  it('fails fast with STORE_UNAVAILABLE while Redis is killed, without queueing, and recovers on restart', async () => {
    const k = `kill${++seq}`;
    // Mid-run: a stream of reserves is flowing when Redis is killed.
    const inflight = Array.from({ length: 200 }, () => timed(() => store.reserve(req(k))));
    await server.kill();
    const during = await Promise.all(inflight);
    for (const r of during) {
      expect(r.ms).toBeLessThan(TIMEOUT + SCHEDULING_SLACK_MS);
      if (r.err !== undefined) expect(r.err).toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
    }
    await until(() => !store.healthy, 5000);
    expect(health.at(-1)).toBe(false);

    // While down: every call fails at once (no offline queue), keeps its cause, and nothing piles up.
    const start = performance.now();
    const down = await Promise.all(Array.from({ length: 5000 }, () => timed(() => store.reserve(req(k)))));
    expect(performance.now() - start).toBeLessThan(3 * SCHEDULING_SLACK_MS);
    expect(down.every((r) => isTokenmeterError(r.err) && r.err.code === ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
    expect((down[0]?.err as Error).cause).toBeInstanceOf(Error);
    const settle = await timed(() => store.peek([{ key: k, windowEndMs: Date.now() + 1000 }], Date.now()));
    expect(settle.err).toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });

    // Back on the same port: the same store object reconnects (backoff capped at 200 ms) and works again.
    await server.restart();
    await until(() => store.healthy, 3000);
    expect(health.at(-1)).toBe(true);
    const r = req(k, 5);
    expect(await store.reserve(r)).toEqual({ ok: true, used: [5] }); // empty server: nothing was persisted
    await store.settle(r.id, [2], Date.now());
    expect(await store.peek([{ key: k, windowEndMs: r.counters[0]?.windowEndMs ?? 0 }], Date.now())).toEqual([2]);
  });

  it('times out within the per-call timeout when Redis hangs (SIGSTOP), then recovers', async () => {
    await store.reserve(req());
    server.pause();
    try {
      const results = await Promise.all(Array.from({ length: 50 }, () => timed(() => store.reserve(req()))));
      for (const r of results) {
        expect(r.err).toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
        expect(r.ms).toBeLessThan(TIMEOUT + SCHEDULING_SLACK_MS);
      }
    } finally {
      server.resume();
    }
    const k = `hang${++seq}`;
    await until(() => store.healthy, 3000);
    expect(await store.reserve(req(k, 3))).toEqual({ ok: true, used: [3] });
  });

  it('a settle that fails can be retried once Redis is back, and counts once', async () => {
    const k = `retry${++seq}`;
    const r = req(k, 10);
    await store.reserve(r);
    server.pause();
    const failed = await timed(() => store.settle(r.id, [4], Date.now()));
    expect(failed.err).toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
    server.resume();
    await until(() => store.healthy, 3000);
    // The timed-out settle may or may not have run once Redis resumed: the retry must not double count.
    await new Promise((res) => setTimeout(res, 50));
    await store.settle(r.id, [4], Date.now());
    await store.settle(r.id, [4], Date.now());
    expect(await store.peek([{ key: k, windowEndMs: r.counters[0]?.windowEndMs ?? 0 }], Date.now())).toEqual([4]);
  });
});
