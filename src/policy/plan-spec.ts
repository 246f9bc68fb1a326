/**
 * Plan tiers and per-subject overrides of a TokenPolicy spec → the model (`Tiers`, `Override[]`), with the rules that
 * span them and spec.limits. One rule carries the rest: every limit named N in a policy is one counter, so it has one
 * definition (window, count, weights, perModel) wherever it appears, and only its budget may differ. An entry without
 * a window therefore changes the budget of the spec.limits limit of its name; an entry with a window adds a limit under
 * a new name, defined identically wherever it is added. That is what lets a subject change tier mid-window without its
 * counters resetting or doubling: the counter key has no tier in it.
 */
import type { Infer } from './schema-dialect.js';
import type { LIMIT_CHANGE_SCHEMA, SPEC_SCHEMA } from './schema.js';
import { budgetRules, duplicates, limitModel, selectorNameRules } from './limit-spec.js';
import { normaliseIp, valueKey } from './subject.js';
import type { Limit, Override, Subject, Tier, Tiers } from './types.js';
import type { FieldError } from './validate.js';

type RawSpec = Infer<typeof SPEC_SCHEMA>;
type RawChange = Infer<typeof LIMIT_CHANGE_SCHEMA>;
type RawTiers = NonNullable<RawSpec['tiers']>;
type RawOverride = RawSpec['overrides'][number];

/** An APIKey override names the key by the id the usage log prints for it: 16 lower-case hex digits. */
export const LOG_ID = /^[0-9a-f]{16}$/;

export const MESSAGES = {
  changeOnly: 'count, weights and perModel are only for a limit this entry adds (with a window): without one it changes only a budget',
  overridesNeedSubject: 'only with spec.subject: an override gives one subject value other limits',
  apiKeySubject: 'expected the 16 hex digits the usage log shows as subject for the key (GET /v1/usage prints them), never the key itself',
  exemptWithLimits: 'not allowed with exempt: true (an exempt subject has no limits)',
  limitsOrExempt: 'set limits, or exempt: true',
  defaultTier: 'must name one of spec.tiers.plans',
} as const;

/** Where the one definition of an added limit name was first seen. */
interface Added { limit: Limit; path: string }

interface Definitions {
  base: ReadonlyMap<string, Limit>;
  added: Map<string, Added>;
}

function sameDefinition(a: Limit, b: Limit): boolean {
  if (a.kind !== b.kind || a.window.text !== b.window.text || a.perModel !== b.perModel) return false;
  if (a.kind === 'cost' || b.kind === 'cost') return true;
  const [wa, wb] = [a.weights, b.weights];
  return a.count === b.count && wa.input === wb.input && wa.cachedInput === wb.cachedInput && wa.cacheWrite === wb.cacheWrite &&
    wa.output === wb.output && wa.reasoning === wb.reasoning;
}

/** A change of a spec.limits budget: the base limit with the new budget, so the counter stays the same. */
function changedBudget(c: RawChange, path: string, base: Limit | undefined, errors: FieldError[]): Limit | undefined {
  if (c.count !== undefined || c.weights !== undefined || c.perModel !== undefined) errors.push({ path, message: MESSAGES.changeOnly });
  if (!base) {
    errors.push({ path: `${path}.name`, message: `no limit ${JSON.stringify(c.name)} in spec.limits to change: give a window to add it` });
    return undefined;
  }
  if (base.kind === 'tokens' && c.tokens === undefined) {
    errors.push({ path: `${path}.costUSD`, message: `limit ${JSON.stringify(c.name)} of spec.limits counts tokens: give tokens` });
    return undefined;
  }
  if (base.kind === 'cost' && c.costUSD === undefined) {
    errors.push({ path: `${path}.tokens`, message: `limit ${JSON.stringify(c.name)} of spec.limits is in USD: give costUSD` });
    return undefined;
  }
  return base.kind === 'tokens' ? { ...base, tokens: c.tokens ?? base.tokens } : { ...base, costUSD: c.costUSD ?? base.costUSD };
}

/** A limit an entry adds: defined as in spec.limits, and the same wherever else that name is added. */
function addedLimit(c: RawChange & { window: string }, path: string, defs: Definitions, errors: FieldError[]): Limit | undefined {
  if (defs.base.has(c.name)) {
    errors.push({ path: `${path}.window`, message: `limit ${JSON.stringify(c.name)} is in spec.limits: give only its new budget (no window) to change it` });
    return undefined;
  }
  const limit = limitModel({ ...c, perModel: c.perModel ?? false }, path, errors);
  if (!limit) return undefined;
  const first = defs.added.get(c.name);
  if (!first) defs.added.set(c.name, { limit, path });
  else if (!sameDefinition(first.limit, limit)) {
    errors.push({
      path, message: `limit ${JSON.stringify(c.name)} is also added by ${first.path} with another window, count, weights or perModel: ` +
        'one name is one counter, defined once (only budgets differ)',
    });
  }
  return limit;
}

function changesModel(changes: readonly RawChange[], path: string, defs: Definitions, errors: FieldError[]): Limit[] {
  duplicates(changes.map((c) => c.name), (i) => `${path}[${i}].name`, 'limit name', errors);
  const out: Limit[] = [];
  changes.forEach((c, i) => {
    const at = `${path}[${i}]`;
    if (!budgetRules(c, at, errors)) return;
    const limit = c.window === undefined ? changedBudget(c, at, defs.base.get(c.name), errors) : addedLimit({ ...c, window: c.window }, at, defs, errors);
    if (limit) out.push(limit);
  });
  return out;
}

function tiersModel(t: RawTiers, defs: Definitions, errors: FieldError[]): Tiers {
  selectorNameRules(t.selector.from, t.selector.name, 'spec.tiers.selector.name', errors);
  const names = t.plans.map((p) => p.name);
  duplicates(names, (i) => `spec.tiers.plans[${i}].name`, 'tier name', errors);
  if (!names.includes(t.default)) errors.push({ path: 'spec.tiers.default', message: `${MESSAGES.defaultTier}, got ${JSON.stringify(t.default)}` });
  const plans: Tier[] = t.plans.map((p, i) => ({ name: p.name, limits: changesModel(p.limits, `spec.tiers.plans[${i}].limits`, defs, errors) }));
  const selector = t.selector.from === 'Header' ? { from: 'Header' as const, header: t.selector.name.toLowerCase() } : { from: 'JWTClaim' as const, claim: t.selector.name };
  return { selector, default: t.default, onUnknown: t.onUnknown, plans };
}

/**
 * The key an override is looked up by, as `src/policy/resolve.ts` derives it from a request: the subject key
 * (valueKey of the value, or the normalised IP), or for APIKey subjects the log id of the key's hash.
 */
export function overrideKey(subject: Subject, value: string): { key?: string; message?: string } {
  const v = value.trim();
  if (v === '') return { message: 'must not be empty' };
  switch (subject.from) {
    case 'APIKey': return LOG_ID.test(v) ? { key: v } : { message: MESSAGES.apiKeySubject };
    case 'ClientIP': {
      const ip = normaliseIp(v);
      return ip === undefined ? { message: `expected an IP address, got ${JSON.stringify(v)}` } : { key: ip };
    }
    default: return { key: valueKey(v) };
  }
}

function overrideModel(o: RawOverride, i: number, subject: Subject, defs: Definitions, errors: FieldError[]): { override: Override; key?: string } {
  const path = `spec.overrides[${i}]`;
  const found = overrideKey(subject, o.subject);
  if (found.message) errors.push({ path: `${path}.subject`, message: found.message });
  const exempt = o.exempt === true;
  const changes = o.limits ?? [];
  if (exempt && changes.length > 0) errors.push({ path: `${path}.limits`, message: MESSAGES.exemptWithLimits });
  if (!exempt && changes.length === 0) errors.push({ path, message: MESSAGES.limitsOrExempt });
  const override: Override = { subject: o.subject, exempt, limits: changesModel(changes, `${path}.limits`, defs, errors) };
  if (o.name !== undefined) override.name = o.name;
  return { override, ...(found.key === undefined ? {} : { key: found.key }) };
}

/** The label an override is known by in logs, the usage API and the ledger: its name, else the subject's log id. */
export function overrideLabel(o: Override, logId: string): string {
  return o.name ?? logId;
}

/** Tiers and overrides of a spec whose limits are `limits` (already valid). */
export function plansModel(spec: RawSpec, subject: Subject | undefined, limits: readonly Limit[], errors: FieldError[]): { tiers?: Tiers; overrides?: Override[] } {
  const defs: Definitions = { base: new Map(limits.map((l) => [l.name, l])), added: new Map() };
  const out: { tiers?: Tiers; overrides?: Override[] } = {};
  if (spec.tiers) out.tiers = tiersModel(spec.tiers, defs, errors);
  if (spec.overrides.length === 0) return out;
  if (!subject) {
    errors.push({ path: 'spec.overrides', message: MESSAGES.overridesNeedSubject });
    return out;
  }
  const built = spec.overrides.map((o, i) => overrideModel(o, i, subject, defs, errors));
  const keyed = built.map((b, i) => ({ key: b.key, i })).filter((k): k is { key: string; i: number } => k.key !== undefined);
  const seen = new Set<string>();
  for (const { key, i } of keyed) {
    if (seen.has(key)) errors.push({ path: `spec.overrides[${i}].subject`, message: `duplicate subject ${JSON.stringify(spec.overrides[i]?.subject.trim())}` });
    seen.add(key);
  }
  out.overrides = built.map((b) => b.override);
  return out;
}
