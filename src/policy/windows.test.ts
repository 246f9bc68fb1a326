import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WindowSpec } from './types.js';
import { durationText, msUntilReset, parseWindow, windowAt } from './windows.js';

const t = (iso: string): number => Date.parse(iso);
const spec = (text: string): WindowSpec => {
  const s = parseWindow(text);
  if (!s) throw new Error(`bad window ${text}`);
  return s;
};

describe('parseWindow', () => {
  it.each([
    ['30s', { kind: 'fixed', ms: 30_000, text: '30s' }],
    ['60s', { kind: 'fixed', ms: 60_000, text: '1m' }],
    ['90m', { kind: 'fixed', ms: 5_400_000, text: '90m' }],
    ['24h', { kind: 'fixed', ms: 86_400_000, text: '1d' }],
    ['366d', { kind: 'fixed', ms: 366 * 86_400_000, text: '366d' }],
    ['Day', { kind: 'calendar', unit: 'Day', text: 'Day' }],
    ['Week', { kind: 'calendar', unit: 'Week', text: 'Week' }],
    ['Month', { kind: 'calendar', unit: 'Month', text: 'Month' }],
  ])('%s', (text, want) => {
    expect(parseWindow(text)).toEqual(want);
  });

  it.each(['', '0s', '1x', '1.5m', 'day', 'month', '367d', '-1m', '1m ', '1000000s'])('rejects %j', (text) => {
    expect(parseWindow(text)).toBeUndefined();
  });

  it('names durations by their largest exact unit', () => {
    expect([1000, 120_000, 7_200_000, 90_000, 172_800_000, 1500].map(durationText)).toEqual(['1s', '2m', '2h', '90s', '2d', '1500ms']);
  });
});

describe('windowAt', () => {
  it.each([
    // fixed windows align to multiples since the epoch (UTC)
    ['1m', '2025-03-10T12:34:56.789Z', '2025-03-10T12:34:00Z', '2025-03-10T12:35:00Z', '1m@20250310T123400Z'],
    ['5m', '2025-03-10T12:34:56Z', '2025-03-10T12:30:00Z', '2025-03-10T12:35:00Z', '5m@20250310T123000Z'],
    ['1h', '2025-12-31T23:59:59.999Z', '2025-12-31T23:00:00Z', '2026-01-01T00:00:00Z', '1h@20251231T230000Z'],
    ['1d', '2024-02-29T13:00:00Z', '2024-02-29T00:00:00Z', '2024-03-01T00:00:00Z', '1d@20240229T000000Z'],
    ['30s', '2025-01-01T00:00:30Z', '2025-01-01T00:00:30Z', '2025-01-01T00:01:00Z', '30s@20250101T000030Z'],
    // 7d windows start on Thursdays (1970-01-01 was a Thursday)
    ['7d', '2025-01-06T10:00:00Z', '2025-01-02T00:00:00Z', '2025-01-09T00:00:00Z', '7d@20250102T000000Z'],
    ['Day', '2025-06-15T23:59:59.999Z', '2025-06-15T00:00:00Z', '2025-06-16T00:00:00Z', 'Day@2025-06-15'],
    ['Day', '2025-06-16T00:00:00Z', '2025-06-16T00:00:00Z', '2025-06-17T00:00:00Z', 'Day@2025-06-16'],
    // ISO weeks: Monday 00:00 UTC; week-year differs from the calendar year around new year
    ['Week', '2025-01-01T12:00:00Z', '2024-12-30T00:00:00Z', '2025-01-06T00:00:00Z', 'Week@2025-W01'],
    ['Week', '2025-01-05T23:59:59Z', '2024-12-30T00:00:00Z', '2025-01-06T00:00:00Z', 'Week@2025-W01'],
    ['Week', '2025-01-06T00:00:00Z', '2025-01-06T00:00:00Z', '2025-01-13T00:00:00Z', 'Week@2025-W02'],
    ['Week', '2021-01-03T08:00:00Z', '2020-12-28T00:00:00Z', '2021-01-04T00:00:00Z', 'Week@2020-W53'],
    ['Week', '2026-12-31T08:00:00Z', '2026-12-28T00:00:00Z', '2027-01-04T00:00:00Z', 'Week@2026-W53'],
    ['Week', '2024-12-29T23:00:00Z', '2024-12-23T00:00:00Z', '2024-12-30T00:00:00Z', 'Week@2024-W52'],
    // calendar months of every length, leap years included
    ['Month', '2025-01-31T23:59:59.999Z', '2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z', 'Month@2025-01'],
    ['Month', '2025-02-15T00:00:00Z', '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z', 'Month@2025-02'],
    ['Month', '2024-02-29T23:59:59Z', '2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z', 'Month@2024-02'],
    ['Month', '2000-02-29T00:00:00Z', '2000-02-01T00:00:00Z', '2000-03-01T00:00:00Z', 'Month@2000-02'],
    ['Month', '2100-02-28T00:00:00Z', '2100-02-01T00:00:00Z', '2100-03-01T00:00:00Z', 'Month@2100-02'],
    ['Month', '2025-04-30T12:00:00Z', '2025-04-01T00:00:00Z', '2025-05-01T00:00:00Z', 'Month@2025-04'],
    ['Month', '2025-12-31T23:59:59Z', '2025-12-01T00:00:00Z', '2026-01-01T00:00:00Z', 'Month@2025-12'],
    ['Month', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', 'Month@2026-01'],
  ])('%s at %s', (text, at, start, end, id) => {
    expect(windowAt(spec(text), t(at))).toEqual({ start: t(start), end: t(end), id });
  });

  it('gives the exact time until reset', () => {
    expect(msUntilReset(spec('Month'), t('2024-02-29T23:59:59Z'))).toBe(1000);
    expect(msUntilReset(spec('1m'), t('2025-01-01T00:00:00Z'))).toBe(60_000);
  });

  const specs = fc.oneof(
    fc.constantFrom('Day', 'Week', 'Month'),
    fc.tuple(fc.integer({ min: 1, max: 500 }), fc.constantFrom('s', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`),
  ).filter((s) => parseWindow(s) !== undefined);
  const times = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2200, 0, 1) });

  it('contains t, and the next window starts at end (property)', () => {
    fc.assert(fc.property(specs, times, (text, at) => {
      const s = spec(text);
      const w = windowAt(s, at);
      expect(w.start).toBeLessThanOrEqual(at);
      expect(at).toBeLessThan(w.end);
      const next = windowAt(s, w.end);
      expect(next.start).toBe(w.end);
      expect(next.id).not.toBe(w.id);
      expect(windowAt(s, w.end - 1)).toEqual(w);
      expect(windowAt(s, w.start)).toEqual(w);
    }), { numRuns: 2000 });
  });

  it('aligns calendar windows to UTC midnight, Weeks to Mondays, Months to the 1st (property)', () => {
    fc.assert(fc.property(times, (at) => {
      const week = windowAt(spec('Week'), at);
      expect(new Date(week.start).getUTCDay()).toBe(1);
      expect(week.start % 86_400_000 === 0).toBe(true);
      const month = windowAt(spec('Month'), at);
      expect(new Date(month.start).getUTCDate()).toBe(1);
      expect(new Date(month.end).getUTCDate()).toBe(1);
      expect((month.end - month.start) / 86_400_000).toBeGreaterThanOrEqual(28);
      expect((month.end - month.start) / 86_400_000).toBeLessThanOrEqual(31);
    }), { numRuns: 2000 });
  });
});
