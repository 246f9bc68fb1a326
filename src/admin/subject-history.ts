/**
 * One subject under one policy, per limit: its usage in each of the last windows of that limit (from the ledger: the
 * settled usage of the requests charged to this policy), its typical request (the limit's units per admitted request
 * over the last 24 hours, else over the windows shown) and so how many more such requests fit before that limit
 * refuses it. Windows shorter than a day are bucketed from the raw records (bucket = the window: fixed windows start
 * at multiples of their length since the epoch, like the buckets); longer ones are summed from the daily roll-ups.
 */
import type { LedgerQuery, SpendRow } from '../ledger/query.js';
import { chargeFor } from '../policy/charge.js';
import { dollars, shortNumber } from '../policy/describe.js';
import { modelKey } from '../policy/subject.js';
import { policyKey, type Limit, type TokenPolicy } from '../policy/types.js';
import { windowAt } from '../policy/windows.js';

const DAY_MS = 86_400_000;

export interface WindowUsage {
  start: string;
  end: string;
  used: number;
}

type Totals = Pick<SpendRow, 'requests' | 'rejected_requests' | 'input_tokens' | 'cached_input_tokens' | 'cache_write_tokens' | 'output_tokens' | 'reasoning_tokens' | 'cost_usd'> & { model?: string };

/** How many windows of a limit the history shows. */
export function windowCount(limit: Limit): number {
  if (limit.window.kind === 'calendar') return limit.window.unit === 'Day' ? 30 : 12;
  const ms = limit.window.ms;
  if (ms <= 60_000) return 60;
  if (ms < DAY_MS) return Math.max(12, Math.min(48, Math.floor((2 * DAY_MS) / ms)));
  return 30;
}

/** The limit's units (tokens or USD) of a total. */
export function unitsOf(limit: Limit, t: Totals, policy: TokenPolicy): number {
  if (limit.kind === 'cost') return t.cost_usd;
  return chargeFor(limit, { input: t.input_tokens, cachedInput: t.cached_input_tokens, cacheWrite: t.cache_write_tokens, output: t.output_tokens, reasoning: t.reasoning_tokens }, { pricing: policy.pricing }).amount;
}

/** The last `n` windows of a limit up to `now`, oldest first. */
export function lastWindows(limit: Limit, now: number, n: number): { start: number; end: number }[] {
  const out = [windowAt(limit.window, now)];
  while (out.length < n) out.unshift(windowAt(limit.window, (out[0]?.start ?? now) - 1));
  return out.map((w) => ({ start: w.start, end: w.end }));
}

/** Per window, the limit's usage (perModel limits: the model closest to the budget, i.e. the largest). */
export async function windowHistory(ledger: LedgerQuery, policy: TokenPolicy, limit: Limit, subjects: readonly string[], now: number): Promise<WindowUsage[]> {
  const windows = lastWindows(limit, now, windowCount(limit));
  const from = windows[0]?.start ?? now;
  const filter = { policy: policyKey(policy), subjects };
  let rows: (Totals & { at: number })[];
  if (limit.window.kind === 'fixed' && limit.window.ms < DAY_MS) {
    rows = (await ledger.buckets({ from, to: now + 1, bucketMs: limit.window.ms, byModel: limit.perModel, ...filter })).map((r) => ({ ...r, at: r.start }));
  } else {
    const spend = await ledger.spend({ from, to: now + 1, now, groupBy: limit.perModel ? ['day', 'model'] : ['day'], ...filter });
    rows = spend.map((r) => ({ ...r, at: Date.parse(`${r.day ?? ''}T00:00:00Z`) }));
  }
  const used = new Map<number, Map<string, number>>();
  for (const r of rows) {
    const start = windowAt(limit.window, r.at).start;
    const models = used.get(start) ?? new Map<string, number>();
    used.set(start, models);
    const model = limit.perModel ? modelKey(r.model) : '';
    models.set(model, (models.get(model) ?? 0) + unitsOf(limit, r, policy));
  }
  return windows.map((w) => ({
    start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString(),
    used: Math.round(Math.max(0, ...(used.get(w.start)?.values() ?? [])) * 1e6) / 1e6,
  }));
}

/** The limit's units per admitted request over [from, now]; null without admitted requests. */
export async function typicalRequest(ledger: LedgerQuery, policy: TokenPolicy, limit: Limit, subjects: readonly string[], range: { from: number; now: number }): Promise<number | null> {
  const { from, now } = range;
  const [t] = await ledger.spend({ from, to: now + 1, now, groupBy: [], policy: policyKey(policy), subjects });
  const admitted = (t?.requests ?? 0) - (t?.rejected_requests ?? 0);
  if (!t || admitted <= 0) return null;
  return unitsOf(limit, t, policy) / admitted;
}

function amount(unit: 'tokens' | 'usd', n: number): string {
  return unit === 'usd' ? dollars(n) : `${shortNumber(Math.round(n))} tokens`;
}

function until(resetAt: string, now: number): string {
  const s = Math.max(0, Math.round((Date.parse(resetAt) - now) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 2 * 86_400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

export interface NextRefusal {
  limit: string;
  /** Requests like the typical one that still fit (0 = refused now); null when no typical request is known. */
  requests_left: number | null;
  words: string;
}

/**
 * Which limit refuses the subject first and after how much: the one with the fewest typical requests left (or, with
 * no typical request known, the highest share). A request is refused when its reservation (input + the output it
 * reserves) does not fit the remaining budget, so a large request is refused before the remaining budget is zero.
 */
export function nextRefusal(limits: readonly { limit: string; unit: 'tokens' | 'usd'; remaining: number; share: number; reset_at: string; typical: number | null }[], now: number): NextRefusal | null {
  if (limits.length === 0) return null;
  const left = (l: (typeof limits)[number]): number | null => (l.typical && l.typical > 0 ? Math.max(0, Math.floor(l.remaining / l.typical)) : null);
  const first = [...limits].sort((a, b) => {
    const la = a.share >= 1 ? 0 : left(a);
    const lb = b.share >= 1 ? 0 : left(b);
    if (la !== null && lb !== null && la !== lb) return la - lb;
    if (la !== null && lb === null) return -1;
    if (la === null && lb !== null) return 1;
    return b.share - a.share;
  })[0] as (typeof limits)[number];
  const n = first.share >= 1 ? 0 : left(first);
  const reset = `resets in ${until(first.reset_at, now)} (${first.reset_at.replace('.000Z', 'Z')})`;
  if (n === 0) return { limit: first.limit, requests_left: 0, words: `Refused now by ${first.limit}: ${amount(first.unit, first.remaining)} left; ${reset}.` };
  if (n === null) return { limit: first.limit, requests_left: null, words: `${first.limit} is the closest: ${amount(first.unit, first.remaining)} left (${Math.round(first.share * 100)} % used); ${reset}.` };
  return {
    limit: first.limit, requests_left: n,
    words: `About ${n.toLocaleString('en-US')} more request${n === 1 ? '' : 's'} like its typical one (${amount(first.unit, first.typical ?? 0)}) before ${first.limit} refuses it: ${amount(first.unit, first.remaining)} left; ${reset}. A request whose reservation (input + reserved output) exceeds what is left is refused sooner.`,
  };
}
