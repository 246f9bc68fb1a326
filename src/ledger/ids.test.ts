import { describe, expect, it } from 'vitest';
import { uuidv7 } from './ids.js';

const FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The 48-bit millisecond timestamp an id carries. */
const msOf = (id: string): number => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 UUID carrying the time it was given', () => {
    for (const ms of [0, 1, 1_700_000_000_123, Date.UTC(2026, 11, 5), 2 ** 48 - 1]) {
      const id = uuidv7(ms);
      expect(id).toMatch(FORMAT);
      expect(msOf(id)).toBe(ms);
    }
    expect(uuidv7(1_700_000_000_123).slice(0, 13)).toBe('018bcfe5-687b');
  });

  it('cuts the time to 48 bits, fractions and negatives as the record ids always were', () => {
    expect(msOf(uuidv7(2 ** 48 + 5))).toBe(5);
    expect(msOf(uuidv7(-3))).toBe(0);
    expect(msOf(uuidv7(1234.9))).toBe(1234);
  });

  it('sorts by time across milliseconds, and never repeats within one', () => {
    const ids = Array.from({ length: 200_000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 1000)));
    expect(new Set(ids).size).toBe(ids.length);
    const firsts = ids.filter((_, i) => i % 1000 === 0);
    expect([...firsts].sort()).toEqual(firsts);
    // The random part is random: every hex digit appears in every random position of a few thousand ids.
    for (const pos of [15, 16, 17, 20, 25, 30, 35]) expect(new Set(ids.slice(0, 5000).map((id) => id[pos])).size).toBe(16);
  });

  it('variant bits: the first digit of the fourth group is 8, 9, a or b, each about as often', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 8000; i++) {
      const d = uuidv7(0)[19] ?? '';
      counts.set(d, (counts.get(d) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['8', '9', 'a', 'b']);
    for (const n of counts.values()) expect(n).toBeGreaterThan(1500);
  });
});
