/**
 * The limits that apply to one request under one policy: spec.limits, changed by the request's plan tier, then by
 * its subject's override. Resolved right after the subject (src/limits/limiter.ts), so the limiter receives plain
 * limits. Per request this is two map lookups (tier by name, override by subject key) and, for a subject with an
 * override, one merge memoised per tier: never a scan of the overrides.
 *
 * Tier: the value of the selector header or JWT claim, compared case-insensitively with the declared tier names.
 * None → the default tier. A value naming no tier → the default tier (onUnknown: Default, reported as tierUnknown)
 * or a 400 (Reject). Override: looked up by the subject key (the value as the data plane keys it), or for APIKey
 * subjects by the subject's log id — the 16 hex digits the usage log shows — so a policy never holds a key. Shared
 * subjects (no value) have no override.
 */
import { overrideKey, overrideLabel } from './plan-spec.js';
import { subjectValue, type SubjectInput } from './subject.js';
import type { Limit, Override, Subject, TokenPolicy } from './types.js';

/** A request's subject as src/policy/subject.ts resolved it. */
export interface SubjectRef {
  key: string;
  logId: string;
  shared: boolean;
}

export interface LimitSet {
  limits: readonly Limit[];
  /** Policies with tiers: the tier that applied. */
  tier?: string;
  /** The request named a tier the policy does not declare, and the default tier applied. */
  tierUnknown?: boolean;
  /** The override that applied: its name, else the subject's log id (never the value). */
  override?: string;
  /** The override exempts the subject: its limits are counted, never enforced. */
  exempt: boolean;
}

export type Resolution = { ok: true; set: LimitSet } | { ok: false; status: 400; message: string };

interface OverrideEntry {
  override: Override;
  /** The merged limits per tier name ('' without tiers), built on first use. */
  merged: Map<string, readonly Limit[]>;
}

interface Index {
  /** Tier name → spec.limits changed by the tier. Empty without tiers. */
  tiers: ReadonlyMap<string, readonly Limit[]>;
  overrides: ReadonlyMap<string, OverrideEntry>;
  selector?: Subject;
}

const indexes = new WeakMap<TokenPolicy, Index>();

/** `set` with every limit named in `changes` replaced, and the others of `changes` appended, in their order. */
function merge(set: readonly Limit[], changes: readonly Limit[]): readonly Limit[] {
  if (changes.length === 0) return set;
  const byName = new Map(changes.map((l) => [l.name, l]));
  const out = set.map((l) => byName.get(l.name) ?? l);
  const present = new Set(set.map((l) => l.name));
  for (const l of changes) if (!present.has(l.name)) out.push(l);
  return out;
}

/** The override index key of a request's subject: see the module comment. */
function lookupKey(subject: Subject | undefined, ref: SubjectRef): string {
  return subject?.from === 'APIKey' ? ref.logId : ref.key;
}

function compile(policy: TokenPolicy): Index {
  const tiers = new Map((policy.tiers?.plans ?? []).map((t) => [t.name, merge(policy.limits, t.limits)]));
  const overrides = new Map<string, OverrideEntry>();
  for (const o of policy.overrides ?? []) {
    const key = policy.subject ? overrideKey(policy.subject, o.subject).key : undefined;
    if (key !== undefined) overrides.set(key, { override: o, merged: new Map() });
  }
  const t = policy.tiers;
  const selector: Subject | undefined = t === undefined ? undefined
    : t.selector.from === 'Header' ? { from: 'Header', header: t.selector.header, onMissing: 'Reject' } : { from: 'JWTClaim', claim: t.selector.claim, onMissing: 'Reject' };
  return { tiers, overrides, ...(selector ? { selector } : {}) };
}

function indexOf(policy: TokenPolicy): Index {
  let ix = indexes.get(policy);
  if (!ix) indexes.set(policy, (ix = compile(policy)));
  return ix;
}

/** The tier names a policy declares (for bounded metric labels), in declaration order. */
export function tierNames(policy: TokenPolicy): string[] {
  return (policy.tiers?.plans ?? []).map((t) => t.name);
}

/** The limits of `subject` under tier `tier` (a declared name, or undefined for the default), without a request. */
export function limitsFor(policy: TokenPolicy, subject: SubjectRef, tier: string | undefined): LimitSet {
  const ix = indexOf(policy);
  const tierName = policy.tiers ? (tier !== undefined && ix.tiers.has(tier) ? tier : policy.tiers.default) : undefined;
  const tierLimits = tierName === undefined ? policy.limits : (ix.tiers.get(tierName) ?? policy.limits);
  const entry = subject.shared ? undefined : ix.overrides.get(lookupKey(policy.subject, subject));
  const set: LimitSet = { limits: tierLimits, exempt: false };
  if (tierName !== undefined) set.tier = tierName;
  if (!entry) return set;
  set.override = overrideLabel(entry.override, subject.logId);
  set.exempt = entry.override.exempt;
  const memo = tierName ?? '';
  let merged = entry.merged.get(memo);
  if (!merged) entry.merged.set(memo, (merged = merge(tierLimits, entry.override.limits)));
  set.limits = merged;
  return set;
}

/** The limits that apply to a request from `subject` under `policy` (see the module comment). */
export function resolveLimits(policy: TokenPolicy, subject: SubjectRef, input: SubjectInput): Resolution {
  const tiers = policy.tiers;
  if (!tiers) return { ok: true, set: limitsFor(policy, subject, undefined) };
  const ix = indexOf(policy);
  const v = ix.selector ? subjectValue(ix.selector, input) : undefined;
  if (!v || v.missing) return { ok: true, set: limitsFor(policy, subject, undefined) };
  const name = v.key.toLowerCase();
  if (ix.tiers.has(name)) return { ok: true, set: limitsFor(policy, subject, name) };
  if (tiers.onUnknown === 'Reject') {
    const where = tiers.selector.from === 'Header' ? `header ${tiers.selector.header}` : `claim ${tiers.selector.claim}`;
    return { ok: false, status: 400, message: `unknown plan tier ${JSON.stringify(v.key)} in ${where}: expected one of ${[...ix.tiers.keys()].join(', ')}` };
  }
  return { ok: true, set: { ...limitsFor(policy, subject, undefined), tierUnknown: true } };
}
