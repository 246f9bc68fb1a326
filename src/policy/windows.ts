/**
 * Fixed windows aligned to UTC. A duration window starts at a multiple of its length since the Unix epoch (so 1m,
 * 1h and 1d windows start on the minute, hour and UTC midnight; note 7d windows start on Thursdays — use Week for
 * Mondays). Calendar windows: Day (00:00 UTC), Week (ISO 8601: Monday 00:00 UTC), Month (the 1st, 00:00 UTC, of
 * whatever length the month has). `end` is the exact reset time: the next window's `start`.
 */
import type { CalendarUnit, WindowSpec } from './types.js';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;
const DAY_MS = UNIT_MS.d;

/** Longest fixed window accepted. */
export const MAX_FIXED_WINDOW_MS = 366 * DAY_MS;

export interface WindowInstance {
  /** Inclusive start, ms since the epoch. */
  start: number;
  /** Exclusive end = exact reset time = the next window's start. */
  end: number;
  /** Stable, readable id of this window for this spec, e.g. `1m@20250101T000100Z`, `Week@2025-W01`, `Month@2025-02`. */
  id: string;
}

/** Canonical text of a duration: the largest unit that divides it (60s → 1m, 1440m → 1d). */
export function durationText(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Parses a window: `N` followed by s, m, h or d (N ≥ 1, at most 366d), or Day, Week, Month. Returns undefined when
 * the text is not a window.
 */
export function parseWindow(text: string): WindowSpec | undefined {
  if (text === 'Day' || text === 'Week' || text === 'Month') return { kind: 'calendar', unit: text, text };
  const m = /^([1-9][0-9]{0,5})([smhd])$/.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as Unit];
  if (ms > MAX_FIXED_WINDOW_MS) return undefined;
  return { kind: 'fixed', ms, text: durationText(ms) };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function compactIso(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
}

function dayDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** ISO 8601 week-year and week number of the week starting (Monday 00:00 UTC) at `mondayMs`. */
function isoWeek(mondayMs: number): { year: number; week: number } {
  const thursday = new Date(mondayMs + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const jan1 = Date.UTC(year, 0, 1);
  return { year, week: Math.floor((thursday.getTime() - jan1) / DAY_MS / 7) + 1 };
}

function calendarWindow(unit: CalendarUnit, t: number): WindowInstance {
  const dayStart = Math.floor(t / DAY_MS) * DAY_MS;
  if (unit === 'Day') return { start: dayStart, end: dayStart + DAY_MS, id: `Day@${dayDate(dayStart)}` };
  if (unit === 'Week') {
    const weekday = (new Date(dayStart).getUTCDay() + 6) % 7; // Monday = 0
    const start = dayStart - weekday * DAY_MS;
    const { year, week } = isoWeek(start);
    return { start, end: start + 7 * DAY_MS, id: `Week@${year}-W${pad(week)}` };
  }
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const mo = d.getUTCMonth();
  return { start: Date.UTC(y, mo, 1), end: Date.UTC(y, mo + 1, 1), id: `Month@${y}-${pad(mo + 1)}` };
}

/** The window of `spec` containing time `t` (ms since the epoch, UTC). */
export function windowAt(spec: WindowSpec, t: number): WindowInstance {
  if (spec.kind === 'calendar') return calendarWindow(spec.unit, t);
  const start = Math.floor(t / spec.ms) * spec.ms;
  return { start, end: start + spec.ms, id: `${spec.text}@${compactIso(start)}` };
}

/** Milliseconds from `t` until the window containing it resets (always ≥ 1). */
export function msUntilReset(spec: WindowSpec, t: number): number {
  return windowAt(spec, t).end - t;
}
