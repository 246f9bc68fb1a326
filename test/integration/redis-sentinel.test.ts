/**
 * The Redis store through Sentinel (redis+sentinel://host:port/mastername): a real master and a real Sentinel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisCounterStore } from '../../src/limits/redis-store.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from '../helpers/redis-server.js';

describe.skipIf(skipWithoutRedis())('redis store via Sentinel', () => {
  let master: RedisServer;
  let sentinel: RedisServer;
  let store: RedisCounterStore;

  beforeAll(async () => {
    master = await startRedisServer();
    sentinel = await startRedisServer({ sentinelFor: master.port });
    store = createRedisStore({ url: `redis+sentinel://127.0.0.1:${sentinel.port}/mymaster`, commandTimeoutMs: 5000 });
    expect(await store.waitReady(5000)).toBe(true);
  });
  afterAll(async () => {
    await store.close();
    await sentinel.close();
    await master.close();
  });

  it('finds the master through Sentinel and reserves there', async () => {
    const now = Date.now();
    const counters = [{ key: 'k', amount: 5, limit: 10, windowEndMs: now + 60_000 }];
    expect(await store.reserve({ id: 'a', counters, nowMs: now, reservationTtlMs: 10_000 })).toEqual({ ok: true, used: [5] });
    await store.settle('a', [7], now + 1);
    expect(await store.reserve({ id: 'b', counters, nowMs: now + 2, reservationTtlMs: 10_000 })).toEqual({ ok: false, blocked: 0, used: [7], settled: [7] });
  });
});
