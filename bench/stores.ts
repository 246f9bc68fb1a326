/**
 * Counter store benchmark: reserve+settle pairs per second and reserve latency (p50/p99) for the memory store and,
 * given a URL, the Redis store. Prints nothing and asserts nothing: returns rows for bench/run.ts to print.
 */
import { createMemoryStore } from '../src/limits/memory-store.js';
import { createRedisStore } from '../src/limits/redis-store.js';
import type { CounterSpec, CounterStore } from '../src/limits/store.js';

export interface StoreBenchRow {
  store: 'memory' | 'redis';
  /** Counters per request. */
  counters: number;
  /** Requests in flight at once. */
  concurrency: number;
  pairsPerSec: number;
  reserveP50Ms: number;
  reserveP99Ms: number;
  settleP99Ms: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function run(store: CounterStore, counters: number, concurrency: number, pairs: number): Promise<StoreBenchRow> {
  const windowEndMs = Date.now() + 3_600_000;
  const reserveMs = new Float64Array(pairs);
  const settleMs = new Float64Array(pairs);
  // Many subjects, so the counters are spread like real traffic; a huge limit, so every reserve succeeds.
  const specs = (i: number): CounterSpec[] => Array.from({ length: counters }, (_, c) => ({
    key: `bench:${c}:${i % 1000}`, amount: 1000, limit: 1e15, windowEndMs, hashTag: `s${i % 1000}`,
  }));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < pairs; i = next++) {
      const id = `b${i}`;
      const t0 = performance.now();
      await store.reserve({ id, counters: specs(i), nowMs: Date.now(), reservationTtlMs: 60_000 });
      const t1 = performance.now();
      await store.settle(id, new Array<number>(counters).fill(900), Date.now());
      reserveMs[i] = t1 - t0;
      settleMs[i] = performance.now() - t1;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  reserveMs.sort();
  settleMs.sort();
  return {
    store: store.kind, counters, concurrency, pairsPerSec: pairs / seconds,
    reserveP50Ms: percentile(reserveMs, 50), reserveP99Ms: percentile(reserveMs, 99), settleP99Ms: percentile(settleMs, 99),
  };
}

/** Memory store rows always; Redis rows when `redisUrl` is given (loopback recommended). `quick` = fewer pairs. */
export async function benchStores(redisUrl?: string, quick = false): Promise<StoreBenchRow[]> {
  const rows: StoreBenchRow[] = [];
  const memory = createMemoryStore();
  for (const counters of [1, 2]) {
    await run(memory, counters, 1, 20_000); // warm-up
    rows.push(await run(memory, counters, 1, quick ? 50_000 : 300_000));
  }
  await memory.close();
  if (redisUrl === undefined) return rows;
  const redis = createRedisStore({ url: redisUrl, commandTimeoutMs: 2000 });
  try {
    if (!(await redis.waitReady(5000))) throw new Error(`Redis at ${redisUrl} not ready`);
    for (const [counters, concurrency] of [[1, 1], [2, 1], [2, 32]] as const) {
      await run(redis, counters, concurrency, 500); // warm-up
      rows.push(await run(redis, counters, concurrency, quick ? 2000 : 10_000));
    }
  } finally {
    await redis.close();
  }
  return rows;
}
