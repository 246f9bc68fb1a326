/**
 * A policy's budgets in words, for the people who own them (the console's policy page, GET /v1/limits): "50 k tokens
 * (input + output) a day, per tenant (x-tenant-id header)", and for plan tiers and per-subject overrides a line that
 * says what changes against the policy's own limits ("acme (acme-premium): daily 5 M tokens a day, overrides default
 * 1 M").
 *
 * Tiers and overrides are read from the policy when it has them (src/policy/plan-spec.ts) and simply absent
 * otherwise: a policy without them is described by its limits alone. Pure: no I/O.
 */
import type { Limit, Subject, TokenPolicy } from './types.js';

/** A policy with its plan tiers and per-subject overrides (both optional in the policy model). */
export type PolicyWithPlans = TokenPolicy;

export interface LimitWords {
  name: string;
  /** Window as written: 1m, 1h, Day, Week, Month… */
  window: string;
  unit: 'tokens' | 'usd';
  /** Tokens, or USD. */
  budget: number;
  per_model: boolean;
  /** "50 k tokens (input + output) a day". */
  words: string;
}

export interface ChangeWords {
  /** The tier's or the override's subject. */
  who: string;
  /** The override's name, when it has one. */
  name?: string;
  exempt: boolean;
  /** Each changed or added limit. */
  limits: (LimitWords & { default_budget: number | null })[];
  /** One line: "acme (acme-premium): daily 5 M tokens a day, overrides default 1 M". */
  words: string;
}

export interface PolicyWords {
  policy: string;
  mode: 'Enforce' | 'DryRun';
  failure_mode: 'Open' | 'Closed';
  /** "per tenant (the x-tenant-id header)", "shared by every matching request". */
  subject: string;
  /** What traffic it applies to. */
  applies_to: string;
  limits: LimitWords[];
  /** Null when the policy has no tiers. */
  tiers: { selector: string; default: string; plans: (ChangeWords & { default: boolean })[] } | null;
  /** Null when the policy has no overrides. */
  overrides: ChangeWords[] | null;
}

/** 1 234 567 → "1.23 M", 50 000 → "50 k", 950 → "950". */
export function shortNumber(n: number): string {
  const abs = Math.abs(n);
  const trim = (x: number): string => String(Number(x.toPrecision(3)));
  if (abs >= 1e9) return `${trim(n / 1e9)} G`;
  if (abs >= 1e6) return `${trim(n / 1e6)} M`;
  if (abs >= 1e4) return `${trim(n / 1e3)} k`;
  return Number.isInteger(n) ? n.toLocaleString('en-US') : trim(n);
}

/** $500, $2,000, $0.50, $0.0123. */
export function dollars(n: number): string {
  if (n >= 100) return `$${Math.round(n).toLocaleString('en-US')}`;
  if (n >= 1) return `$${n.toFixed(2).replace(/\.00$/, '')}`;
  return `$${n.toPrecision(2)}`;
}

const CALENDAR: Record<string, string> = { Day: 'a day (UTC)', Week: 'a week (from Monday, UTC)', Month: 'a calendar month (UTC)' };
const FIXED: Record<string, string> = { '1s': 'a second', '1m': 'a minute', '1h': 'an hour', '1d': 'a day' };

/** "a minute", "per 10 minutes", "a calendar month (UTC)". */
export function windowWords(window: string): string {
  if (CALENDAR[window]) return CALENDAR[window];
  if (FIXED[window]) return FIXED[window];
  const m = /^(\d+)([smhd])$/.exec(window);
  if (!m) return `per ${window}`;
  const unit = { s: 'second', m: 'minute', h: 'hour', d: 'day' }[m[2] as 's' | 'm' | 'h' | 'd'];
  return `per ${m[1]} ${unit}s`;
}

function countWords(limit: Limit): string {
  if (limit.kind === 'cost') return '';
  switch (limit.count) {
    case 'Input': return 'input tokens';
    case 'Output': return 'output tokens';
    case 'Total': return 'tokens (input + output)';
    case 'Weighted': {
      const w = limit.weights;
      return `weighted tokens (input ×${w.input}, cached input ×${w.cachedInput}, output ×${w.output}${w.reasoning !== w.output ? `, reasoning ×${w.reasoning}` : ''})`;
    }
  }
}

export function limitBudget(limit: Limit): number {
  return limit.kind === 'cost' ? limit.costUSD : limit.tokens;
}

function amount(limit: Limit, n: number): string {
  return limit.kind === 'cost' ? dollars(n) : shortNumber(n);
}

/** One limit: "50 k tokens (input + output) a day (UTC), per model". */
export function describeLimit(limit: Limit): LimitWords {
  const budget = limitBudget(limit);
  const what = limit.kind === 'cost' ? `${dollars(budget)} spend` : `${shortNumber(budget)} ${countWords(limit)}`;
  return {
    name: limit.name, window: limit.window.text, unit: limit.kind === 'cost' ? 'usd' : 'tokens', budget, per_model: limit.perModel,
    words: `${what} ${windowWords(limit.window.text)}${limit.perModel ? ', per model' : ''}`,
  };
}

/** Whose budget it is. */
export function subjectWords(subject: Subject | undefined): string {
  if (!subject) return 'one budget shared by every matching request';
  const shared = subject.onMissing === 'Shared' ? '; requests without one share one budget' : '; requests without one are refused';
  switch (subject.from) {
    case 'Header': return `per ${subject.header === 'x-tenant-id' ? 'tenant' : 'subject'} (the ${subject.header} header${shared})`;
    case 'ClientIP': return `per client address${subject.trustedProxyHops > 0 ? ` (x-forwarded-for, ${subject.trustedProxyHops} trusted proxies)` : ''}`;
    case 'APIKey': return `per API key (hashed; never stored${shared})`;
    case 'JWTClaim': return `per ${subject.claim} claim of the bearer JWT${shared}`;
  }
}

function appliesTo(policy: TokenPolicy): string {
  const parts: string[] = [];
  if (policy.targets.refs.length > 0) parts.push(`routes of ${policy.targets.refs.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
  if (policy.targets.hosts.length > 0) parts.push(`hosts ${policy.targets.hosts.join(', ')}`);
  if (policy.match.paths.length > 0) parts.push(`paths ${policy.match.paths.join(', ')}`);
  if (policy.match.models.length > 0) parts.push(`models ${policy.match.models.join(', ')}`);
  return parts.length === 0 ? 'every metered request' : parts.join('; ');
}

/**
 * What a set of changed or added limits means against the policy's own: "daily 5 M tokens a day, overrides default
 * 1 M" for a changed budget, "adds burst: 5 k output tokens per 10 seconds" for a new limit.
 */
function describeChanges(who: string, base: readonly Limit[], changes: readonly Limit[], exempt: boolean): Pick<ChangeWords, 'limits' | 'words'> {
  const byName = new Map(base.map((l) => [l.name, l]));
  const limits = changes.map((l) => {
    const original = byName.get(l.name);
    return { ...describeLimit(l), default_budget: original ? limitBudget(original) : null };
  });
  const parts = changes.map((l, i) => {
    const original = byName.get(l.name);
    const words = limits[i]?.words ?? '';
    return original ? `${l.name} ${words}, overrides default ${amount(original, limitBudget(original))}` : `adds ${l.name}: ${words}`;
  });
  if (exempt) parts.unshift('exempt (usage counted, never refused)');
  if (parts.length === 0) parts.push("the policy's own limits");
  return { limits, words: `${who}: ${parts.join('; ')}` };
}

function tierSelectorWords(t: NonNullable<PolicyWithPlans['tiers']>): string {
  return t.selector.from === 'Header' ? `the ${t.selector.header} header` : `the ${t.selector.claim} claim of the bearer JWT`;
}

/** The whole policy in words. Tolerates policies without tiers or overrides (and unknown extra fields). */
export function describePolicy(policy: PolicyWithPlans, key: string): PolicyWords {
  const tiers = policy.tiers && policy.tiers.plans.length > 0 ? policy.tiers : undefined;
  const overrides = policy.overrides && policy.overrides.length > 0 ? policy.overrides : undefined;
  return {
    policy: key, mode: policy.enforcement.mode, failure_mode: policy.enforcement.failureMode, subject: subjectWords(policy.subject),
    applies_to: appliesTo(policy), limits: policy.limits.map(describeLimit),
    tiers: tiers ? {
      selector: tierSelectorWords(tiers), default: tiers.default,
      plans: tiers.plans.map((t) => ({
        who: t.name, exempt: false, default: t.name === tiers.default,
        ...describeChanges(t.name === tiers.default ? `${t.name} (default)` : t.name, policy.limits, t.limits, false),
      })),
    } : null,
    overrides: overrides ? overrides.map((o) => ({
      who: o.subject, ...(o.name ? { name: o.name } : {}), exempt: o.exempt,
      ...describeChanges(o.name ? `${o.subject} (${o.name})` : o.subject, policy.limits, o.limits, o.exempt),
    })) : null,
  };
}
