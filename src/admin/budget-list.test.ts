import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LedgerQuery, SpendRow } from '../ledger/query.js';
import { counterKey } from '../limits/keys.js';
import type { CounterStore } from '../limits/store.js';
import { listedLimits } from '../policy/listed-limits.js';
import { parsePolicies } from '../policy/parse.js';
import { windowAt } from '../policy/windows.js';
import type { TokenPolicy } from '../policy/types.js';
import { budgetRows } from './budget-list.js';
import { groupBySubject } from './subject-table.js';

const NOW = Date.UTC(2026, 1, 10, 12, 0, 5);
const PLANS = readFileSync(new URL('../../manifests/examples/tokenpolicy-plans.yaml', import.meta.url), 'utf8');
// The example, with the pro tier adding a limit of its own (the default tier, free, lacks it).
const WITH_TIER_LIMIT = PLANS.replace('    - name: pro                             # spec.limits as they are\n',
  '    - name: pro\n      limits:\n      - {name: hourly, tokens: 400000, window: 1h}\n');

function parse(text: string): TokenPolicy {
  const { policies, errors } = parsePolicies(text);
  expect(errors).toEqual([]);
  return policies[0] as TokenPolicy;
}

/** A store that lists the counters it was given, keyed as the limiter keys them (src/limits/keys.ts). */
function listingStore(policy: TokenPolicy, used: [limit: string, subject: string, units: number][]): CounterStore {
  const byName = new Map(listedLimits(policy).map((l) => [l.limit.name, l.limit]));
  const counters = used.map(([name, subject, units]) => {
    const limit = byName.get(name);
    if (!limit) throw new Error(`no limit ${name}`);
    return { key: counterKey(policy, limit, subject, undefined, windowAt(limit.window, NOW).id), used: units };
  });
  const store: Pick<CounterStore, 'list'> = { list: (prefix) => Promise.resolve(counters.filter((c) => c.key.startsWith(prefix))) };
  return store as CounterStore;
}

const spendRow = (subject: string, input: number): SpendRow => ({
  subject, requests: 1, rejected_requests: 0, input_tokens: input, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cost_usd: 0,
});

describe('budget rows of a policy with tiers and overrides (the plans example)', () => {
  it('lists the limits tiers and overrides add, keyed like the limiter, with the default tier\'s budget and its name', async () => {
    const policy = parse(WITH_TIER_LIMIT);
    expect(listedLimits(policy).map((l) => [l.limit.name, l.tier ?? null, l.overrideOnly])).toEqual([
      ['daily', 'free', false], ['per-minute', 'free', false], ['hourly', 'pro', false], ['burst', null, true],
    ]);
    const store = listingStore(policy, [['daily', 'acme', 100_000], ['daily', 'globex', 50_000], ['burst', 'globex', 5_000], ['hourly', 'initech', 100_000]]);
    const { rows, source } = await budgetRows({ store, now: () => NOW }, policy);
    expect(source).toBe('counters');
    const by = (limit: string, subject: string) => rows.find((r) => r.limit === limit && r.subject === subject);
    // The default tier's budget (free: 200,000 a day), not spec.limits' 1,000,000; and which tier it is.
    expect(by('daily', 'globex')).toMatchObject({ used: 50_000, budget: 200_000, share: 0.25, tier: 'free' });
    expect(by('burst', 'globex')).toMatchObject({ window: '10s', used: 5_000, budget: 20_000, share: 0.25 });
    expect(by('burst', 'globex')?.tier).toBeUndefined();
    expect(by('burst', 'globex')?.reset_at).toBe(new Date(Date.UTC(2026, 1, 10, 12, 0, 10)).toISOString());
    expect(by('hourly', 'initech')).toMatchObject({ budget: 400_000, share: 0.25, tier: 'pro' });

    const table = groupBySubject(policy, rows);
    const globex = table.find((r) => r.subject === 'globex');
    expect(Object.keys(globex?.limits ?? {}).sort()).toEqual(['burst', 'daily']);
    expect(globex?.limits.burst).toMatchObject({ budget: 20_000, override: true });
    // acme's override budget (50,000,000 a day) replaces the tier's, and says so.
    expect(table.find((r) => r.subject === 'acme')?.limits.daily).toMatchObject({ budget: 50_000_000, share: 0.002, override: true });
  });

  it('from the ledger: an override-added limit counts only for that override\'s subject; a limit only another tier adds is left to the counters', async () => {
    const policy = parse(WITH_TIER_LIMIT);
    const ledger: Pick<LedgerQuery, 'spend'> = { spend: () => Promise.resolve([spendRow('globex', 4_000), spendRow('acme', 10_000)]) };
    const { rows, source } = await budgetRows({ ledger: ledger as LedgerQuery, now: () => NOW }, policy);
    expect(source).toBe('ledger');
    expect(rows.filter((r) => r.limit === 'burst').map((r) => [r.subject, r.used, r.budget])).toEqual([['globex', 4_000, 20_000]]);
    expect(rows.some((r) => r.limit === 'hourly')).toBe(false);
    expect(rows.find((r) => r.limit === 'daily' && r.subject === 'acme')).toMatchObject({ budget: 200_000, tier: 'free' });
  });
});

describe('budget rows of the console demo policies', () => {
  it('every limit any tier or override of a demo policy adds is listed', () => {
    const text = readFileSync(new URL('../../examples/policies/console-demo.yaml', import.meta.url), 'utf8');
    const { policies, errors } = parsePolicies(text);
    expect(errors).toEqual([]);
    for (const p of policies) {
      const names = new Set(listedLimits(p).map((l) => l.limit.name));
      const defined = [...p.limits, ...(p.tiers?.plans ?? []).flatMap((t) => t.limits), ...(p.overrides ?? []).flatMap((o) => o.limits)].map((l) => l.name);
      expect([...names].sort()).toEqual([...new Set(defined)].sort());
    }
  });
});
