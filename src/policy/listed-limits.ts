/**
 * Every limit a policy can count, by name, for the budget listings (src/admin/budget-list.ts, the console's policy
 * page): spec.limits, then the limits plan tiers add, then those overrides add. plan-spec.ts makes one name one
 * counter with one definition (window, count, weights, perModel) wherever it appears, so only the budget differs;
 * the listing shows the default tier's budget (the tier a subject gets when its requests name none), or for a limit
 * the default tier lacks, the first tier's that has it, else the first override's (each subject's own override budget
 * replaces it: override-budget.ts).
 */
import type { Limit, TokenPolicy } from './types.js';

export interface ListedLimit {
  /** The definition, with the budget the listing starts from. */
  limit: Limit;
  /** Policies with tiers: the tier that budget is the tier's (absent: spec.limits without tiers, or an override's). */
  tier?: string;
  /** Only overrides add it: it counts for the subjects of those overrides alone. */
  overrideOnly: boolean;
}

const memo = new WeakMap<TokenPolicy, readonly ListedLimit[]>();

/** The policy's limits by name, in that order (memoised per policy object: read only). */
export function listedLimits(policy: TokenPolicy): readonly ListedLimit[] {
  const known = memo.get(policy);
  if (known) return known;
  const byName = new Map<string, ListedLimit>();
  const plans = policy.tiers?.plans ?? [];
  const defaultTier = plans.find((t) => t.name === policy.tiers?.default);
  for (const l of policy.limits) {
    const changed = defaultTier?.limits.find((x) => x.name === l.name);
    byName.set(l.name, { limit: changed ?? l, ...(defaultTier ? { tier: defaultTier.name } : {}), overrideOnly: false });
  }
  for (const t of defaultTier ? [defaultTier, ...plans.filter((p) => p !== defaultTier)] : plans) {
    for (const l of t.limits) if (!byName.has(l.name)) byName.set(l.name, { limit: l, tier: t.name, overrideOnly: false });
  }
  for (const o of policy.overrides ?? []) {
    for (const l of o.limits) if (!byName.has(l.name)) byName.set(l.name, { limit: l, overrideOnly: true });
  }
  const out = [...byName.values()];
  memo.set(policy, out);
  return out;
}
