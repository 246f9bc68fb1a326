/**
 * Redis store specifics against a real redis-server: one round trip per reserve and per settle (seen with MONITOR),
 * a TTL on every key, hash-tagged key names, multi-tag reservations (one script per tag, compensation), two stores
 * sharing one budget.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors/catalogue.js';
import { createRedisStore, type RedisCounterStore } from '../../src/limits/redis-store.js';
import type { CounterSpec } from '../../src/limits/store.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const HOUR = 3_600_000;
const SLACK = 60_000;

describe.skipIf(skipWithoutRedis())('redis store', () => {
  let server: RedisServer;
  let store: RedisCounterStore;
  let admin: Redis;
  /** Sends the ECHO markers (connected before MONITOR starts, so its handshake is not seen). */
  let pinger: Redis;
  let seq = 0;
  const t0 = Date.now();
  const end = t0 + HOUR;
  const spec = (key: string, amount: number, limit: number, hashTag?: string): CounterSpec => ({ key, amount, limit, windowEndMs: end, hashTag });
  const rid = (): string => `r${++seq}`;

  beforeAll(async () => {
    server = await startRedisServer();
    // Commands get 5 s (production default 250 ms): these tests check what the scripts compute, and a shared CI machine
    // under load has been seen to hold 500 pipelined commands longer than 250 ms. Timeouts are tested in redis-failure.
    store = createRedisStore({ url: server.url, keySlackMs: SLACK, commandTimeoutMs: 5000 });
    admin = new Redis(server.url);
    pinger = new Redis(server.url);
    await pinger.ping();
    expect(await store.waitReady(5000)).toBe(true);
  });
  afterAll(async () => {
    await store.close();
    admin.disconnect();
    pinger.disconnect();
    await server.close();
  });

  /** Commands (name + first arg) clients sent while `fn` ran, excluding the commands scripts ran and the markers. */
  async function commandsOf(fn: () => Promise<unknown>): Promise<string[]> {
    const mon = await admin.monitor();
    const seen: string[] = [];
    let marker = '';
    const markerSeen = new Promise<void>((resolve) => {
      mon.on('monitor', (_time: string, args: string[], source: string) => {
        const [name = '', arg = ''] = args;
        if (name.toLowerCase() === 'echo') {
          if (arg === marker) resolve();
          return;
        }
        if (source !== 'lua') seen.push(`${name.toLowerCase()}`);
      });
    });
    await pinger.echo('warm');
    await fn();
    marker = `marker-${++seq}`;
    await pinger.echo(marker);
    await markerSeen;
    mon.disconnect();
    return seen;
  }

  it('makes one round trip per reserve and per settle', async () => {
    const k = `rt${++seq}`;
    const first = rid();
    // The first call of each script on a connection is one EVAL (it loads the script), then EVALSHA.
    expect(await commandsOf(() => store.reserve({ id: first, counters: [spec(k, 1, 100)], nowMs: t0, reservationTtlMs: 60_000 }))).toEqual(['eval']);
    expect(await commandsOf(() => store.settle(first, [1], t0))).toEqual(['eval']);
    const id = rid();
    const two = [spec(k, 5, 100), spec(`${k}b`, 5, 100)];
    expect(await commandsOf(() => store.reserve({ id, counters: two, nowMs: t0, reservationTtlMs: 60_000 }))).toEqual(['evalsha']);
    expect(await commandsOf(() => store.settle(id, [3, 4], t0 + 1))).toEqual(['evalsha']);
    expect(await commandsOf(() => store.reserve({ id: rid(), counters: [spec(k, 500, 100)], nowMs: t0, reservationTtlMs: 60_000 }))).toEqual(['evalsha']);
    expect(await store.peek([{ key: k, windowEndMs: end }, { key: `${k}b`, windowEndMs: end }], t0 + 2)).toEqual([4, 4]);
  });

  it('falls back to EVAL after the script cache was flushed', async () => {
    await admin.script('FLUSH');
    const cmds = await commandsOf(() => store.reserve({ id: rid(), counters: [spec(`fl${++seq}`, 1, 10)], nowMs: t0, reservationTtlMs: 60_000 }));
    expect(cmds).toEqual(['evalsha', 'eval']);
  });

  it('puts a TTL (window end + slack) on every key it writes', async () => {
    const tag = `ttl${++seq}`;
    const ids = [rid(), rid(), rid()];
    await store.reserve({ id: ids[0] as string, counters: [spec('a', 5, 10, tag), spec('b', 5, 10, tag)], nowMs: t0, reservationTtlMs: 1000 });
    await store.reserve({ id: ids[1] as string, counters: [spec('a', 2, 10, tag)], nowMs: t0, reservationTtlMs: 60_000 });
    await store.settle(ids[1] as string, [1], t0 + 10);
    await store.peek([{ key: 'a', windowEndMs: end, hashTag: tag }], t0 + 5000); // releases ids[0]
    await store.settle(ids[0] as string, [4, 4], t0 + 6000); // settle after expiry
    await store.reserve({ id: ids[2] as string, counters: [spec('a', 1, 10, tag), spec('c', 1, 10, `${tag}x`)], nowMs: t0, reservationTtlMs: 1000 });
    const keys = await admin.keys('*');
    expect(keys.length).toBeGreaterThan(5);
    const maxTtl = end + SLACK - Date.now();
    for (const key of keys) {
      const ttl = await admin.pttl(key);
      expect({ key, ok: ttl > 0 && ttl <= maxTtl + 1000 }).toEqual({ key, ok: true });
    }
  });

  it('names keys with the hash tag and keeps the reservation id out of counter hashes once settled', async () => {
    const id = rid();
    await store.reserve({ id, counters: [spec('k', 3, 10, 'tenant-a')], nowMs: t0, reservationTtlMs: 60_000 });
    const { hash, expiry } = store.counterKeys({ key: 'k', windowEndMs: end, hashTag: 'tenant-a' });
    expect(hash).toBe(`tm:{tenant-a}:c:${end}:k`);
    expect(expiry).toBe(`tm:{tenant-a}:e:${end}:k`);
    expect(await admin.get(`tm:{tenant-a}:x:${id}`)).toBe('R');
    expect(await admin.hgetall(hash)).toEqual({ r: '3', [`a:${id}`]: '3' });
    await store.settle(id, [2], t0 + 1);
    expect(await admin.hgetall(hash)).toEqual({ r: '0', u: '2' });
    expect(await admin.exists(expiry)).toBe(0);
    expect(await admin.get(`tm:{tenant-a}:x:${id}`)).toBe('S');
  });

  it('reserves across hash tags with one script per tag and cancels the others when one is blocked', async () => {
    const [a, b] = [`mt${++seq}`, `mt${++seq}`];
    const counters = [spec('x', 5, 10, a), spec('y', 5, 10, b), spec('z', 5, 10, a)];
    expect(await commandsOf(() => store.reserve({ id: rid(), counters, nowMs: t0, reservationTtlMs: 60_000 }))).toEqual(['evalsha', 'evalsha']);
    const blocked = await store.reserve({ id: rid(), counters: [spec('x', 1, 10, a), spec('y', 6, 10, b), spec('z', 1, 10, a)], nowMs: t0, reservationTtlMs: 60_000 });
    // What the first reserve holds is live, not settled: it frees once that request settles.
    expect(blocked).toEqual({ ok: false, blocked: 1, used: [5, 5, 5], settled: [0, 0, 0] });
    const refs = counters.map((c) => ({ key: c.key, windowEndMs: end, hashTag: c.hashTag }));
    expect(await store.peek(refs, t0)).toEqual([5, 5, 5]);
  });

  it('cancels the reserved tags and throws STORE_UNAVAILABLE when another tag fails', async () => {
    const [a, b] = [`mf${++seq}`, `mf${++seq}`];
    await admin.set(store.counterKeys({ key: 'y', windowEndMs: end, hashTag: b }).hash, 'not a hash', 'EX', 60);
    const req = { id: rid(), counters: [spec('x', 5, 10, a), spec('y', 5, 10, b)], nowMs: t0, reservationTtlMs: 60_000 };
    await expect(store.reserve(req)).rejects.toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
    expect(await store.peek([{ key: 'x', windowEndMs: end, hashTag: a }], t0)).toEqual([0]);
    expect(await admin.exists(`tm:{${a}}:x:${req.id}`)).toBe(0);
  });

  it('two stores (two replicas) share one budget under 500 concurrent reserves', async () => {
    const other = createRedisStore({ url: server.url, commandTimeoutMs: 5000 });
    try {
      expect(await other.waitReady(5000)).toBe(true);
      const k = `shared${++seq}`;
      const results = await Promise.all(Array.from({ length: 500 }, (_, i) =>
        (i % 2 ? store : other).reserve({ id: rid(), counters: [spec(k, 7, 1000)], nowMs: t0, reservationTtlMs: 60_000 })));
      expect(results.filter((r) => r.ok)).toHaveLength(142);
      expect(await store.peek([{ key: k, windowEndMs: end }], t0)).toEqual([994]);
    } finally {
      await other.close();
    }
  });
});
