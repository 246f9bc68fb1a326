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
import { subjectValue, valueKey, type SubjectInput } from './subject.js';
import type { Limit, Override, Subject, TokenPolicy } from './types.js';

/** A request's subject as src/policy/subject.ts resolved it. */
export interface SubjectRef {
  key: string;
  logId: string;
  shared: boolean;
}

/** Shared by every request that resolves to it: read only. */
export interface LimitSet {
  readonly limits: readonly Limit[];
  /** Policies with tiers: the tier that applied. */
  readonly tier?: string;
  /** The request named a tier the policy does not declare, and the default tier applied. */
  readonly tierUnknown?: boolean;
  /** The override that applied: its name, else the subject's log id (never the value). */
  readonly override?: string;
  /** The override exempts the subject: its limits are counted, never enforced. */
  readonly exempt: boolean;
}

export type Resolution = { ok: true; set: LimitSet } | { ok: false; status: 400; message: string };

interface OverrideEntry {
  override: Override;
  /** The resolved set per tier name ('' without tiers), built on first use and shared by every request. */
  sets: Map<string, LimitSet>;
}

interface Index {
  /** Tier name → its resolved set (spec.limits changed by the tier), shared by every request without an override. */
  tiers: ReadonlyMap<string, LimitSet>;
  /** The set of a policy without tiers and a subject without an override. */
  plain: LimitSet;
  overrides: ReadonlyMap<string, OverrideEntry>;
  /** The default tier's name (policies with tiers). */
  defaultTier?: string;
  /** Overrides are keyed by the subject's log id (APIKey subjects), not its key. */
  byLogId: boolean;
  /** Tier selector: the lower-case header name, or the claim (read like a JWTClaim subject). */
  header?: string;
  claim?: Subject;
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

/** A set shared by every request that resolves to it (never mutated; not frozen: V8 reads frozen objects slower). */
function sharedSet(limits: readonly Limit[], tier: string | undefined, override?: { label: string; exempt: boolean }): LimitSet {
  return {
    limits, exempt: override?.exempt ?? false, ...(tier === undefined ? {} : { tier }), ...(override ? { override: override.label } : {}),
  };
}

function compile(policy: TokenPolicy): Index {
  const tiers = new Map((policy.tiers?.plans ?? []).map((t) => [t.name, sharedSet(merge(policy.limits, t.limits), t.name)]));
  const overrides = new Map<string, OverrideEntry>();
  for (const o of policy.overrides ?? []) {
    const key = policy.subject ? overrideKey(policy.subject, o.subject).key : undefined;
    if (key !== undefined) overrides.set(key, { override: o, sets: new Map() });
  }
  const ix: Index = { tiers, overrides, plain: sharedSet(policy.limits, undefined), byLogId: policy.subject?.from === 'APIKey' };
  if (policy.tiers) ix.defaultTier = policy.tiers.default;
  const selector = policy.tiers?.selector;
  if (selector?.from === 'Header') ix.header = selector.header;
  if (selector?.from === 'JWTClaim') ix.claim = { from: 'JWTClaim', claim: selector.claim, onMissing: 'Reject' };
  return ix;
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
  return setFor(indexOf(policy), subject, tier);
}

function setFor(ix: Index, subject: SubjectRef, tier: string | undefined): LimitSet {
  const tiered = tier === undefined ? undefined : ix.tiers.get(tier);
  const base = tiered ?? (ix.defaultTier === undefined ? ix.plain : (ix.tiers.get(ix.defaultTier) ?? ix.plain));
  const entry = subject.shared || ix.overrides.size === 0 ? undefined : ix.overrides.get(ix.byLogId ? subject.logId : subject.key);
  if (!entry) return base;
  const tierName = base.tier;
  // One override is one subject, so its label (the name, else that subject's log id) is the same for every request.
  const memo = tierName ?? '';
  let set = entry.sets.get(memo);
  if (!set) {
    set = sharedSet(merge(base.limits, entry.override.limits), tierName, { label: overrideLabel(entry.override, subject.logId), exempt: entry.override.exempt });
    entry.sets.set(memo, set);
  }
  return set;
}

/** The tier value a request carries (trimmed, lower case), or undefined. */
function tierValue(ix: Index, input: SubjectInput): string | undefined {
  if (ix.header !== undefined) {
    const raw = input.headers[ix.header];
    if (raw === undefined || ix.tiers.has(raw)) return raw; // the usual case: a declared name as it is
    const v = raw.trim();
    return v === '' ? undefined : v.toLowerCase();
  }
  const v = ix.claim ? subjectValue(ix.claim, input) : undefined;
  return v && !v.missing ? v.key.toLowerCase() : undefined;
}

/** The limits that apply to a request from `subject` under `policy` (see the module comment). Sets are shared: never mutate one. */
export function resolveLimits(policy: TokenPolicy, subject: SubjectRef, input: SubjectInput): Resolution {
  const tiers = policy.tiers;
  const ix = indexOf(policy);
  if (!tiers) return { ok: true, set: setFor(ix, subject, undefined) };
  const name = tierValue(ix, input);
  if (name === undefined || ix.tiers.has(name)) return { ok: true, set: setFor(ix, subject, name) };
  if (tiers.onUnknown === 'Reject') {
    const where = tiers.selector.from === 'Header' ? `header ${tiers.selector.header}` : `claim ${tiers.selector.claim}`;
    // The value is the client's own, bounded like a subject value (long or unusual ones hashed).
    return { ok: false, status: 400, message: `unknown plan tier ${JSON.stringify(valueKey(name))} in ${where}: expected one of ${[...ix.tiers.keys()].join(', ')}` };
  }
  return { ok: true, set: { ...setFor(ix, subject, undefined), tierUnknown: true } };
}
