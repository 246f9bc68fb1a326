import { describe, expect, it } from 'vitest';
import { Coalesced } from './coalesce.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('Coalesced', () => {
  it('runs at most once at a time, queues one run behind it for every caller that came meanwhile', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    let runs = 0;
    let state = 0;
    const c = new Coalesced(async () => {
      runs++;
      const seen = state;
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      return seen;
    });
    state = 1;
    const first = c.request();
    state = 2; // these callers changed state after the first run started: they must get a later run
    const second = [c.request(), c.request(), c.request()];
    expect(runs).toBe(1);
    gates[0]?.resolve();
    expect(await first).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(runs).toBe(2);
    gates[1]?.resolve();
    expect(await Promise.all(second)).toEqual([2, 2, 2]);
    expect(runs).toBe(2);
    state = 3;
    const third = c.request();
    gates[2]?.resolve();
    expect(await third).toBe(3);
    expect(runs).toBe(3);
  });

  it('passes a failure to the callers of that run only; the queued run still happens', async () => {
    let runs = 0;
    const gate = deferred();
    const c = new Coalesced(async () => {
      runs++;
      if (runs === 1) { await gate.promise; throw new Error('apply failed'); }
      return runs;
    });
    const first = c.request();
    const second = c.request();
    gate.resolve();
    await expect(first).rejects.toThrow('apply failed');
    await expect(second).resolves.toBe(2);
  });

  it('with minIntervalMs, starts a run no sooner than that after the previous start; callers meanwhile share it', async () => {
    let clock = 0;
    const starts: number[] = [];
    const c = new Coalesced(() => {
      starts.push(clock);
      return Promise.resolve(starts.length);
    }, { minIntervalMs: 40, now: () => clock });
    expect(await c.request()).toBe(1); // the first run is not delayed
    clock = 10;
    const a = c.request();
    const b = c.request(); // arrives while the delayed run waits: shares it
    expect(c.busy()).toBe(true);
    expect(starts).toEqual([0]);
    clock = 40;
    expect(await Promise.all([a, b])).toEqual([2, 2]);
    expect(starts).toEqual([0, 40]);
    clock = 1000; // quiet for longer than the interval: not delayed
    expect(await c.request()).toBe(3);
    expect(starts).toEqual([0, 40, 1000]);
  });
});
