/**
 * Memory store specifics (the shared contract is in store-contract.test.ts): bounded memory, exact expiry with
 * mixed TTLs, and a throughput print (reserve+settle pairs per second on one core).
 */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from './memory-store.js';

const t0 = 1_700_000_000_000;

describe('memory store', () => {
  it('drops settled reservations at once, and ended counters and stale reservations at the next sweep', async () => {
    const store = createMemoryStore({ sweepIntervalMs: 1000 });
    const windowEndMs = t0 + 10_000;
    for (let i = 0; i < 1000; i++) {
      const counters = [{ key: `a${i % 50}`, amount: 1, limit: 1e9, windowEndMs }, { key: 'all', amount: 1, limit: 1e9, windowEndMs }];
      await store.reserve({ id: `r${i}`, counters, nowMs: t0 + i, reservationTtlMs: 5000 });
      if (i % 10 !== 0) await store.settle(`r${i}`, [1, 1], t0 + i);
    }
    expect(store.size).toEqual({ counters: 51, reservations: 100 });
    // Unsettled ones are released at their TTL but kept (a late settle must charge once) until the window ends.
    expect(await store.peek([{ key: 'all', windowEndMs }], t0 + 7000)).toEqual([900]);
    expect(store.size.reservations).toBe(100);
    await store.peek([], windowEndMs + 1);
    expect(store.size).toEqual({ counters: 0, reservations: 0 });
  });

  it('forgets an expired, unsettled reservation lateSettleMs after its expiry (a leaking caller stays bounded)', async () => {
    const store = createMemoryStore({ lateSettleMs: 10_000 });
    const c = { key: 'k', amount: 10, limit: 100, windowEndMs: t0 + 3_600_000 };
    await store.reserve({ id: 'a', counters: [c], nowMs: t0, reservationTtlMs: 1000 });
    await store.reserve({ id: 'b', counters: [c], nowMs: t0, reservationTtlMs: 1000 });
    await store.settle('a', [5], t0 + 10_999);
    await store.settle('b', [7], t0 + 11_000); // too late: forgotten, not charged
    expect(await store.peek([c], t0 + 11_001)).toEqual([5]);
    expect(store.size.reservations).toBe(0);
  });

  it('releases each reservation at its own TTL when TTLs differ', async () => {
    const store = createMemoryStore();
    const c = { key: 'k', amount: 10, limit: 100, windowEndMs: t0 + 60_000 };
    await store.reserve({ id: 'long', counters: [c], nowMs: t0, reservationTtlMs: 5000 });
    await store.reserve({ id: 'short', counters: [{ ...c, amount: 20 }], nowMs: t0, reservationTtlMs: 1000 });
    expect(await store.peek([c], t0 + 1000)).toEqual([10]);
    expect(await store.peek([c], t0 + 5000)).toEqual([0]);
  });

  it('keeps no float drift: usage returns to exactly the settled sum once no reservation is live', async () => {
    const store = createMemoryStore();
    const c = { key: 'usd', amount: 0, limit: 1, windowEndMs: t0 + 60_000 };
    for (let i = 0; i < 100; i++) await store.reserve({ id: `r${i}`, counters: [{ ...c, amount: 0.01 * (i % 7) + 0.001 }], nowMs: t0, reservationTtlMs: 1000 });
    for (let i = 0; i < 100; i++) await store.settle(`r${i}`, [0], t0 + 1);
    expect(await store.peek([c], t0 + 2)).toEqual([0]);
  });

  it('prints reserve+settle pairs per second (1 and 2 counters)', async () => {
    for (const n of [1, 2]) {
      const store = createMemoryStore();
      const windowEndMs = Date.now() + 3_600_000;
      const pairs = 200_000;
      const run = async (count: number): Promise<number> => {
        const start = performance.now();
        for (let i = 0; i < count; i++) {
          const counters = Array.from({ length: n }, (_, c) => ({ key: `k${c}:${i % 1000}`, amount: 100, limit: 1e12, windowEndMs }));
          await store.reserve({ id: `r${i}`, counters, nowMs: Date.now(), reservationTtlMs: 60_000 });
          await store.settle(`r${i}`, counters.map(() => 90), Date.now());
        }
        return count / ((performance.now() - start) / 1000);
      };
      await run(20_000);
      const rate = await run(pairs);
      console.log(`memory store, ${n} counter(s): ${Math.round(rate).toLocaleString('en')} reserve+settle pairs/s`);
      expect(rate).toBeGreaterThan(10_000); // a floor for gross regressions only; the target (100k/s) is in the bench
    }
  });
});
