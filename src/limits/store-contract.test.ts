/**
 * The CounterStore contract, run against the memory store and the Redis store (a real redis-server; skipped loudly
 * without one, except in CI where it fails).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors/catalogue.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from '../../test/helpers/redis-server.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';
import type { CounterSpec, CounterStore } from './store.js';

const HOUR = 3_600_000;
let seq = 0;

function contract(name: string, open: () => Promise<CounterStore>, close: () => Promise<void>): void {
  describe(`CounterStore contract: ${name}`, () => {
    let store: CounterStore;
    // Real time: the Redis store's key TTLs are absolute (window end + slack) on the Redis clock.
    const t0 = Date.now();
    const end = t0 + HOUR;
    const fresh = (): string => `c${++seq}`;
    const spec = (key: string, amount: number, limit: number, windowEndMs = end): CounterSpec => ({ key, amount, limit, windowEndMs });
    const ref = (key: string, windowEndMs = end): { key: string; windowEndMs: number } => ({ key, windowEndMs });
    const rid = (): string => `r${++seq}`;
    const reserve = (counters: CounterSpec[], opts: { nowMs?: number; ttl?: number; force?: boolean; id?: string } = {}) =>
      store.reserve({ id: opts.id ?? rid(), counters, nowMs: opts.nowMs ?? t0, reservationTtlMs: opts.ttl ?? 60_000, force: opts.force });

    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
      await close();
    });

    it('reserves all or nothing across counters', async () => {
      const [a, b] = [fresh(), fresh()];
      expect(await reserve([spec(a, 30, 100), spec(b, 60, 50)])).toEqual({ ok: false, blocked: 1, used: [0, 0], settled: [0, 0] });
      expect(await store.peek([ref(a), ref(b)], t0)).toEqual([0, 0]);
      expect(await reserve([spec(a, 30, 100), spec(b, 50, 50)])).toEqual({ ok: true, used: [30, 50] });
      // Both held by a live reservation: nothing settled yet (it frees once that request settles).
      expect(await reserve([spec(a, 1, 100), spec(b, 1, 50)])).toEqual({ ok: false, blocked: 1, used: [30, 50], settled: [0, 0] });
    });

    it('allows exactly reaching the limit, not one more', async () => {
      const k = fresh();
      expect(await reserve([spec(k, 60, 100)])).toEqual({ ok: true, used: [60] });
      expect(await reserve([spec(k, 40, 100)])).toEqual({ ok: true, used: [100] });
      expect(await reserve([spec(k, 1, 100)])).toEqual({ ok: false, blocked: 0, used: [100], settled: [0] });
      expect(await reserve([spec(k, 0, 100)])).toEqual({ ok: true, used: [100] });
    });

    it('settle replaces the reservation by the actual amount, idempotently', async () => {
      const [k, id] = [fresh(), rid()];
      await reserve([spec(k, 50, 100)], { id });
      await store.settle(id, [20], t0 + 1);
      expect(await store.peek([ref(k)], t0 + 2)).toEqual([20]);
      await store.settle(id, [20], t0 + 3);
      await store.settle(id, [99], t0 + 4);
      expect(await store.peek([ref(k)], t0 + 5)).toEqual([20]);
      expect(await reserve([spec(k, 80, 100)], { nowMs: t0 + 6 })).toEqual({ ok: true, used: [100] });
    });

    it('settle may charge more than reserved (the next request sees it)', async () => {
      const [k, id] = [fresh(), rid()];
      await reserve([spec(k, 10, 100)], { id });
      await store.settle(id, [150], t0 + 1);
      expect(await reserve([spec(k, 0, 100)], { nowMs: t0 + 2 })).toEqual({ ok: false, blocked: 0, used: [150], settled: [150] });
    });

    it('reserving the same id twice counts once', async () => {
      const [k, id] = [fresh(), rid()];
      await reserve([spec(k, 40, 100)], { id });
      expect(await reserve([spec(k, 40, 100)], { id })).toEqual({ ok: true, used: [40] });
      expect(await store.peek([ref(k)], t0)).toEqual([40]);
    });

    it('releases a reservation not settled within its TTL', async () => {
      const k = fresh();
      await reserve([spec(k, 70, 100)], { ttl: 1000 });
      expect(await store.peek([ref(k)], t0 + 999)).toEqual([70]);
      expect(await store.peek([ref(k)], t0 + 1000)).toEqual([0]);
      expect(await reserve([spec(k, 100, 100)], { nowMs: t0 + 1000 })).toEqual({ ok: true, used: [100] });
    });

    it('a settle after expiry charges the actual amount once', async () => {
      const [k, id, id2] = [fresh(), rid(), rid()];
      await reserve([spec(k, 50, 100)], { id, ttl: 1000 });
      expect(await reserve([spec(k, 10, 100)], { nowMs: t0 + 2000 })).toEqual({ ok: true, used: [10] });
      await store.settle(id, [30], t0 + 2500);
      await store.settle(id, [30], t0 + 2600);
      expect(await store.peek([ref(k)], t0 + 2700)).toEqual([40]);
      // Expired and settled with no operation in between: the settle releases, then charges.
      await reserve([spec(k, 20, 100)], { id: id2, nowMs: t0 + 3000, ttl: 1000 });
      await store.settle(id2, [5], t0 + 9000);
      expect(await store.peek([ref(k)], t0 + 9001)).toEqual([45]);
    });

    it('a counter ends with its window', async () => {
      const k = fresh();
      const wEnd = t0 + 1000;
      const id = rid();
      expect(await reserve([spec(k, 80, 100, wEnd)], { id })).toEqual({ ok: true, used: [80] });
      expect(await store.peek([ref(k, wEnd)], wEnd - 1)).toEqual([80]);
      expect(await store.peek([ref(k, wEnd)], wEnd)).toEqual([0]);
      // Writes after the end are ignored; the next window starts empty.
      await store.settle(id, [90], wEnd + 1);
      expect(await reserve([spec(k, 80, 100, wEnd)], { nowMs: wEnd + 2 })).toEqual({ ok: true, used: [0] });
      expect(await store.peek([ref(k, wEnd)], wEnd + 3)).toEqual([0]);
      expect(await reserve([spec(k, 100, 100, wEnd + 1000)], { nowMs: wEnd + 4 })).toEqual({ ok: true, used: [100] });
    });

    it('force reserves past the limit and names the counter that did not fit', async () => {
      const [a, b] = [fresh(), fresh()];
      await reserve([spec(b, 8, 10)]);
      expect(await reserve([spec(a, 5, 10), spec(b, 5, 10)], { force: true })).toEqual({ ok: true, used: [5, 13], exceeded: 1 });
      expect(await store.peek([ref(a), ref(b)], t0)).toEqual([5, 13]);
      expect(await reserve([spec(a, 1, 10)], { force: true })).toEqual({ ok: true, used: [6] });
    });

    it('peek reads unknown counters as 0', async () => {
      expect(await store.peek([ref(fresh()), ref(fresh(), t0 - 1)], t0)).toEqual([0, 0]);
      expect(await store.peek([], t0)).toEqual([]);
    });

    it('handles float USD amounts (0.1 + 0.2 + 0.7 fits a limit of 1)', async () => {
      const k = fresh();
      const ids = [rid(), rid(), rid()];
      for (const [i, amount] of [0.1, 0.2, 0.7].entries()) {
        expect((await reserve([spec(k, amount, 1)], { id: ids[i] })).ok).toBe(true);
      }
      expect((await reserve([spec(k, 0.000001, 1)])).ok).toBe(false);
      await store.settle(ids[0] as string, [0.0123456789], t0 + 1);
      const [used] = await store.peek([ref(k)], t0 + 2);
      expect(used).toBeCloseTo(0.9123456789, 12);
    });

    it('500 concurrent reserves never exceed one limit', async () => {
      const k = fresh();
      const results = await Promise.all(Array.from({ length: 500 }, () => reserve([spec(k, 10, 1000)])));
      expect(results.filter((r) => r.ok)).toHaveLength(100);
      expect(Math.max(...results.flatMap((r) => r.used))).toBe(1000);
      expect(await store.peek([ref(k)], t0)).toEqual([1000]);
    });

    it('rejects malformed calls with STORE_REQUEST_INVALID and ignores unknown settles', async () => {
      const k = fresh();
      await expect(reserve([spec(k, -1, 10)])).rejects.toMatchObject({ code: ErrorCodes.STORE_REQUEST_INVALID });
      await expect(reserve([spec(k, 1, Number.NaN)])).rejects.toMatchObject({ code: ErrorCodes.STORE_REQUEST_INVALID });
      await expect(reserve([spec(k, 1, 10), spec(k, 1, 10)])).rejects.toMatchObject({ code: ErrorCodes.STORE_REQUEST_INVALID });
      await expect(reserve([spec(k, 1, 10)], { ttl: 0 })).rejects.toMatchObject({ code: ErrorCodes.STORE_REQUEST_INVALID });
      const id = rid();
      await reserve([spec(k, 1, 10)], { id });
      await expect(store.settle(id, [1, 2], t0)).rejects.toMatchObject({ code: ErrorCodes.STORE_REQUEST_INVALID });
      await expect(store.settle(rid(), [1], t0)).resolves.toBeUndefined();
    });
  });
}

contract('memory', () => Promise.resolve(createMemoryStore()), () => Promise.resolve());

let server: RedisServer | undefined;
describe.skipIf(skipWithoutRedis())('redis', () => {
  contract('redis', async () => {
    server = await startRedisServer();
    const store = createRedisStore({ url: server.url });
    if (!(await store.waitReady(5000))) throw new Error('redis store not ready');
    return store;
  }, async () => {
    await server?.close();
  });
});
