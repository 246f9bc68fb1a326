/**
 * Who is about to run out: for every limit of one policy, the subjects with usage in the current window, with the
 * share of the budget used, sorted by share (highest first). Read from the counter store when it can list its
 * counters (memory: exact, live reservations included), else from the ledger (Redis deployments: the settled usage
 * of requests charged to this policy, summed from the daily roll-ups and raw rows of the window; requests still in
 * flight and records not yet written are missing, and a request that matched several policies counts for the one it
 * was charged to).
 */
import type { LedgerQuery } from '../ledger/query.js';
import { counterBudget, chargeFor } from '../policy/charge.js';
import { listedLimits, type ListedLimit } from '../policy/listed-limits.js';
import { overrideOf } from '../policy/override-budget.js';
import { modelKey, recordedFromKey } from '../policy/subject.js';
import { policyKey, type Limit, type TokenPolicy } from '../policy/types.js';
import { windowAt } from '../policy/windows.js';
import type { CounterStore } from '../limits/store.js';

export interface BudgetRow {
  limit: string;
  window: string;
  unit: 'tokens' | 'usd';
  subject: string;
  /** perModel limits: the model part of the counter. */
  model?: string;
  used: number;
  budget: number;
  remaining: number;
  /** used / budget (may exceed 1 after an overshoot). */
  share: number;
  reset_at: string;
  /** Policies with tiers: the tier whose budget this is (the default tier's, or for a limit it lacks, the tier's that adds it). */
  tier?: string;
}

export interface BudgetList {
  policy: string;
  source: 'counters' | 'ledger';
  as_of: string;
  total: number;
  offset: number;
  next_offset: number | null;
  rows: BudgetRow[];
}

export interface BudgetListSource {
  /** Absent (`tokenmeter console` without Redis): the listing comes from the ledger. */
  store?: CounterStore;
  ledger?: LedgerQuery;
  now(): number;
}

const display = (limit: Limit, units: number): number => (limit.kind === 'cost' ? units / 1e6 : units);

/** `resetAt`: the window's end as ISO 8601 (the same for every row of a limit: formatted once). */
function row(listed: ListedLimit, subject: string, model: string | undefined, usedUnits: number, resetAt: string): BudgetRow {
  const limit = listed.limit;
  const budget = counterBudget(limit);
  const r: BudgetRow = {
    limit: limit.name, window: limit.window.text, unit: limit.kind === 'cost' ? 'usd' : 'tokens', subject,
    used: display(limit, usedUnits), budget: display(limit, budget), remaining: display(limit, Math.max(0, budget - usedUnits)),
    share: budget > 0 ? Math.round((usedUnits / budget) * 1e6) / 1e6 : 1, reset_at: resetAt,
  };
  if (model !== undefined) r.model = model;
  if (listed.tier !== undefined) r.tier = listed.tier;
  return r;
}

async function fromCounters(store: CounterStore, policy: TokenPolicy, listed: ListedLimit, now: number): Promise<BudgetRow[]> {
  const limit = listed.limit;
  const w = windowAt(limit.window, now);
  const prefix = `${policyKey(policy)}|${limit.name}|`;
  const suffix = `|${w.id}`;
  const counters = await (store.list?.(prefix, w.end, now) ?? Promise.resolve([]));
  const resetAt = new Date(w.end).toISOString();
  return counters.filter((c) => c.used > 0 && c.key.endsWith(suffix)).map((c) => {
    const parts = c.key.slice(prefix.length, c.key.length - suffix.length).split('|');
    return row(listed, recordedFromKey(policy.subject, parts[0] ?? ''), limit.perModel ? parts[1] : undefined, c.used, resetAt);
  });
}

async function fromLedger(ledger: LedgerQuery, policy: TokenPolicy, listed: ListedLimit, now: number): Promise<BudgetRow[]> {
  const limit = listed.limit;
  const w = windowAt(limit.window, now);
  const spend = await ledger.spend({ from: w.start, to: now + 1, now, groupBy: limit.perModel ? ['subject', 'model'] : ['subject'], policy: policyKey(policy) });
  const used = new Map<string, { subject: string; model: string | undefined; units: number }>();
  for (const s of spend) {
    // A limit only overrides add counts for their subjects alone.
    if (listed.overrideOnly && !overrideOf(policy, s.subject ?? '')?.limits.some((l) => l.name === limit.name)) continue;
    const units = limit.kind === 'cost'
      ? Math.ceil(s.cost_usd * 1e6)
      : Math.ceil(chargeFor(limit, { input: s.input_tokens, cachedInput: s.cached_input_tokens, cacheWrite: s.cache_write_tokens, output: s.output_tokens, reasoning: s.reasoning_tokens }, { pricing: policy.pricing }).amount);
    if (units <= 0) continue;
    const model = limit.perModel ? modelKey(s.model) : undefined;
    const key = `${s.subject ?? ''}\u0000${model ?? ''}`;
    const prev = used.get(key);
    used.set(key, { subject: s.subject ?? '', model, units: (prev?.units ?? 0) + units });
  }
  const resetAt = new Date(w.end).toISOString();
  return [...used.values()].map((u) => row(listed, u.subject, u.model, u.units, resetAt));
}

/**
 * Every row of the policy's limits (or of one limit), unsorted, and where they came from. The limits are those of
 * spec.limits, tiers and overrides by name (listed-limits.ts). From the ledger, which does not say which tier a
 * subject is on, a limit only some tiers other than the default add is left out (its counters list it).
 */
export async function budgetRows(src: BudgetListSource, policy: TokenPolicy, limitName?: string): Promise<{ rows: BudgetRow[]; source: BudgetList['source']; now: number }> {
  const now = src.now();
  const all = listedLimits(policy).filter((l) => limitName === undefined || l.limit.name === limitName);
  const useCounters = (src.store !== undefined && src.store.list !== undefined) || !src.ledger;
  const rows: BudgetRow[] = [];
  const defaultTier = policy.tiers?.default;
  for (const listed of all) {
    if (useCounters) rows.push(...(src.store ? await fromCounters(src.store, policy, listed, now) : []));
    else if (listed.tier === defaultTier || listed.overrideOnly) rows.push(...await fromLedger(src.ledger as LedgerQuery, policy, listed, now));
  }
  return { rows, source: useCounters ? 'counters' : 'ledger', now };
}

/** The listing (all rows sorted, one page returned). */
export async function listBudgets(src: BudgetListSource, policy: TokenPolicy, opts: { limit?: string; offset: number; pageSize: number }): Promise<BudgetList> {
  const { rows, source, now } = await budgetRows(src, policy, opts.limit);
  rows.sort((a, b) => b.share - a.share || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0) || (a.limit < b.limit ? -1 : a.limit > b.limit ? 1 : 0));
  const page = rows.slice(opts.offset, opts.offset + opts.pageSize);
  const next = opts.offset + opts.pageSize < rows.length ? opts.offset + opts.pageSize : null;
  return { policy: policyKey(policy), source, as_of: new Date(now).toISOString(), total: rows.length, offset: opts.offset, next_offset: next, rows: page };
}
