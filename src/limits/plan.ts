/**
 * The counters one request touches, before anything is reserved: for every policy that applies, its subject
 * (src/policy/subject.ts), the limits its tier and override give that subject (src/policy/resolve.ts), and per limit
 * the counter key, window and reservation parts. A policy whose subject is missing or whose tier value is unknown
 * (onUnknown: Reject) refuses the request here, unless it is DryRun. Pure apart from reading the observed outputs.
 */
import type { Endpoint } from '../llm/types.js';
import { counterBudget, reservationParts, reservedOutputTokens } from '../policy/charge.js';
import { modelMaxOutput } from '../policy/output-limits.js';
import { resolveLimits, type LimitSet } from '../policy/resolve.js';
import { subjectFor } from '../policy/subject.js';
import { policyKey, type Limit, type TokenPolicy } from '../policy/types.js';
import { windowAt } from '../policy/windows.js';
import type { CounterRole, PlannedCounter } from './fit.js';
import { counterKey } from './keys.js';
import type { ObservedOutput } from './observed.js';

export interface RequestView {
  endpoint: Endpoint;
  path: string;
  headers: Readonly<Record<string, string | undefined>>;
  sourceAddress?: string;
  model?: string;
  maxOutputTokens?: number;
  inputTokens: number;
}

/** What the log line and the ledger learn about a request's budgets before the decision. */
export interface PlanLog {
  /** The first policy's subject, as a log id (never the value). */
  subject?: string;
  policies: string[];
  /** Per policy with tiers: the tier that applied. */
  tiers?: Record<string, string>;
  /** Policies whose tier value named no declared tier (the default tier applied). */
  tier_unknown?: string[];
  /** Per policy: the override that applied (its name, else the subject's log id). */
  overrides?: Record<string, string>;
  /** Policies whose override exempts the subject. */
  exempt?: string[];
}

export interface Refusal {
  policy: TokenPolicy;
  status: 400 | 401;
  message: string;
  outcome: 'subject-missing' | 'tier-unknown';
  /** The subject as recorded; null when it is what was missing. */
  subject: string | null;
}

export interface Plan {
  counters: PlannedCounter[];
  log: PlanLog;
  refusal?: Refusal;
  /** Subject keys whose observed outputs this request's settle should record (Observed policies). */
  observedSubjects: string[];
}

export interface PlanContext {
  now: number;
  observed: ObservedOutput;
  /** An early decision (a DryRun policy that would have refused). */
  decision(policy: TokenPolicy, tier: string, outcome: 'dry-run-limited'): void;
}

/** Adds a policy's tier and override to the log. */
function record(log: PlanLog, key: string, set: LimitSet): void {
  if (set.tier !== undefined) (log.tiers ??= {})[key] = set.tier;
  if (set.tierUnknown) (log.tier_unknown ??= []).push(key);
  if (set.override !== undefined) (log.overrides ??= {})[key] = set.override;
  if (set.exempt) (log.exempt ??= []).push(key);
}

interface Target { policy: TokenPolicy; limit: Limit; role: CounterRole; tier: string; subjectKey: string; subject: string }

function counter(t: Target, req: RequestView, observedP95: number | undefined, now: number): PlannedCounter {
  const { policy, limit, role, tier, subjectKey, subject } = t;
  const w = windowAt(limit.window, now);
  const maxOut = req.endpoint === 'openai.embeddings' ? 0 : req.maxOutputTokens;
  const output = reservedOutputTokens(policy.reservation, { inputTokens: req.inputTokens, maxOutputTokens: maxOut, observedP95, modelMaxOutput: modelMaxOutput(req.model) });
  return {
    policy, limit, role, tier, subject, key: counterKey(policy, limit, subjectKey, req.model, w.id), windowEndMs: w.end, hashTag: subjectKey,
    budget: counterBudget(limit), parts: reservationParts(limit, req.inputTokens, { model: req.model, pricing: policy.pricing }),
    output: req.endpoint === 'openai.embeddings' ? 0 : output,
  };
}

/** Plans the counters of `req` under `policies` (those that apply, in order). */
export function planAdmission(policies: readonly TokenPolicy[], req: RequestView, ctx: PlanContext): Plan {
  const keys = policies.map(policyKey);
  const plan: Plan = { counters: [], log: { policies: keys }, observedSubjects: [] };
  const input = { headers: req.headers, path: req.path, ...(req.sourceAddress === undefined ? {} : { sourceAddress: req.sourceAddress }) };
  for (const [i, policy] of policies.entries()) {
    const dryRun = policy.enforcement.mode === 'DryRun';
    const subject = subjectFor(policy.subject, input);
    if (subject.kind === 'reject') {
      if (dryRun) {
        ctx.decision(policy, '', 'dry-run-limited');
        continue;
      }
      return { ...plan, refusal: { policy, status: subject.status, message: subject.message, outcome: 'subject-missing', subject: null } };
    }
    const resolved = resolveLimits(policy, subject, input);
    if (!resolved.ok) {
      if (dryRun) {
        ctx.decision(policy, '', 'dry-run-limited');
        continue;
      }
      return { ...plan, refusal: { policy, status: resolved.status, message: resolved.message, outcome: 'tier-unknown', subject: subject.recorded } };
    }
    const set = resolved.set;
    plan.log.subject ??= subject.logId;
    record(plan.log, keys[i] ?? '', set);
    const role: CounterRole = dryRun ? 'dry-run' : set.exempt ? 'exempt' : 'enforce';
    const observed = policy.reservation.output === 'Observed' && req.model !== undefined;
    const p95 = observed ? ctx.observed.p95For(subject.key, req.model ?? '') : undefined;
    if (observed && !plan.observedSubjects.includes(subject.key)) plan.observedSubjects.push(subject.key);
    const tier = set.tier ?? '';
    for (const limit of set.limits) plan.counters.push(counter({ policy, limit, role, tier, subjectKey: subject.key, subject: subject.recorded }, req, p95, ctx.now));
  }
  return plan;
}
