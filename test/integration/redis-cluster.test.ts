/**
 * The Redis store against a (one-node) Redis Cluster: cluster mode rejects any script whose keys span hash slots
 * (CROSSSLOT) even on one node, so this proves the key layout keeps each script in one slot.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisCounterStore } from '../../src/limits/redis-store.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from '../helpers/redis-server.js';

describe.skipIf(skipWithoutRedis())('redis store on Redis Cluster', () => {
  let node: RedisServer;
  let store: RedisCounterStore;

  beforeAll(async () => {
    node = await startRedisServer({ cluster: true });
    const admin = new Redis(node.url);
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; !(await admin.cluster('INFO')).includes('cluster_state:ok'); i++) {
      if (i > 200) throw new Error('cluster did not become ok');
      await new Promise((r) => setTimeout(r, 20));
    }
    admin.disconnect();
    store = createRedisStore({ url: node.url, cluster: true, commandTimeoutMs: 5000 });
    expect(await store.waitReady(5000)).toBe(true);
  });
  afterAll(async () => {
    await store.close();
    await node.close();
  });

  it('reserves, settles and peeks counters of several tags without CROSSSLOT errors', async () => {
    const now = Date.now();
    const end = now + 60_000;
    const counters = [
      { key: 'minute', amount: 5, limit: 10, windowEndMs: end, hashTag: 'tenant-a' },
      { key: 'hour', amount: 5, limit: 100, windowEndMs: end + 1, hashTag: 'tenant-a' },
      { key: 'global', amount: 5, limit: 1000, windowEndMs: end },
    ];
    expect(await store.reserve({ id: 'a', counters, nowMs: now, reservationTtlMs: 10_000 })).toEqual({ ok: true, used: [5, 5, 5] });
    await store.settle('a', [6, 6, 6], now + 1);
    expect(await store.reserve({ id: 'b', counters, nowMs: now + 2, reservationTtlMs: 10_000 })).toEqual({ ok: false, blocked: 0, used: [6, 6, 6], settled: [6, 6, 6] });
    expect(await store.peek(counters, now + 3)).toEqual([6, 6, 6]);
  });
});
