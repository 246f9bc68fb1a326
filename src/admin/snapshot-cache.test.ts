import { describe, expect, it } from 'vitest';
import { SnapshotCache } from './snapshot-cache.js';

describe('shared snapshots', () => {
  it('one build per key until the version moves or the age runs out; concurrent readers share it; failures are not kept', async () => {
    let now = 0;
    let version = 0;
    let builds = 0;
    const cache = new SnapshotCache<number>({ maxAgeMs: 1000, version: () => version, now: () => now });
    const build = (): Promise<number> => Promise.resolve(++builds);
    expect(await Promise.all([cache.get('a', build), cache.get('a', build)])).toEqual([1, 1]);
    now = 999;
    expect(await cache.get('a', build)).toBe(1);
    expect(await cache.get('b', build)).toBe(2);
    version = 1;
    expect(await cache.get('a', build)).toBe(3);
    now = 2000;
    expect(await cache.get('a', build)).toBe(4);
    await expect(cache.get('c', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await new Promise((r) => setTimeout(r, 0));
    expect(await cache.get('c', build)).toBe(5);
  });

  it('keeps at most maxEntries keys', async () => {
    let builds = 0;
    const cache = new SnapshotCache<number>({ maxAgeMs: 1e9, maxEntries: 2 });
    const build = (): Promise<number> => Promise.resolve(++builds);
    await cache.get('a', build);
    await cache.get('b', build);
    await cache.get('c', build);
    expect(await cache.get('b', build)).toBe(2);
    expect(await cache.get('a', build)).toBe(4);
  });
});
