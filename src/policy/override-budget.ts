/**
 * A subject's own budget in the budget listings (the console's policy page): which override, if any, names a subject
 * as src/admin/budget-list.ts lists it. Kept apart from describe.ts, which the browser bundle imports: this one hashes.
 */
import { limitBudget } from './describe.js';
import { hashKey, logIdOf, normaliseIp, valueKey } from './subject.js';
import type { Override, TokenPolicy } from './types.js';

const overrideIndexes = new WeakMap<TokenPolicy, Map<string, Override>>();

/**
 * Each override under every form its subject takes in the budget listings (src/admin/budget-list.ts: the subject of a
 * counter key, or as the ledger recorded it): the value, its key, its hash (hashInLedger, addresses). APIKey
 * overrides are keyed by the log id they are written with; a listed key is looked up by its log id.
 */
function overrideIndex(policy: TokenPolicy): Map<string, Override> {
  let ix = overrideIndexes.get(policy);
  if (ix) return ix;
  ix = new Map();
  for (const o of policy.overrides ?? []) {
    const v = o.subject.trim();
    switch (policy.subject?.from) {
      case undefined: break;
      case 'APIKey': ix.set(v, o); break;
      case 'ClientIP': {
        const ip = normaliseIp(v);
        if (ip !== undefined) ix.set(hashKey(ip), o);
        break;
      }
      default: for (const form of [v, valueKey(v), hashKey(v), hashKey(valueKey(v))]) ix.set(form, o);
    }
  }
  overrideIndexes.set(policy, ix);
  return ix;
}

/** The override that names `subject` (as a budget listing names it), if any. */
export function overrideOf(policy: TokenPolicy, subject: string): Override | undefined {
  const ix = overrideIndex(policy);
  if (ix.size === 0) return undefined;
  return ix.get(policy.subject?.from === 'APIKey' ? logIdOf(subject) : subject);
}

/**
 * The budget of `limit` for `subject` (as a budget listing names it) when an override changes it; undefined when none
 * does.
 */
export function overrideBudget(policy: TokenPolicy, limit: string, subject: string): number | undefined {
  const l = overrideOf(policy, subject)?.limits.find((x) => x.name === limit);
  return l ? limitBudget(l) : undefined;
}
