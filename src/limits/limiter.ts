/**
 * Reserve, then settle. Before a request goes upstream: find the policies that apply, and per policy the subject and
 * the limits its tier and override give it (src/limits/plan.ts); then reserve input (exact pre-count) + the output
 * reservation on every applicable limit, all or nothing. When the response ends: replace the reservation with the
 * real charge. DryRun policies and exempt subjects reserve too (so their counters are real) but never reject; a store
 * that cannot answer is handled by each policy's failureMode.
 *
 * Refusals: a request whose smallest reservation exceeds a limit's whole budget can never fit — a non-retryable 400
 * naming the largest output cap that would (src/limits/fit.ts); one that does not fit what is left now gets a 429 with
 * retry-after. With a Clamp policy (and a body tokenmeter may rewrite) a request that does not fit is retried with
 * the largest output cap every counter still allows, down to the policy's minOutputTokens; the Admission then names
 * the cap to write into the forwarded body.
 * No gRPC here: the ext_proc session calls admit() and the returned Admission's settle().
 */
import { isTokenmeterError } from '../errors/catalogue.js';
import { outputCapField } from '../llm/output-cap.js';
import type { Endpoint, Provider } from '../llm/types.js';
import { chargeFor, counterUnits, type TokenUsage } from '../policy/charge.js';
import type { PolicyMatcher } from '../policy/match.js';
import { modelMaxOutput } from '../policy/output-limits.js';
import { policyKey, type Limit, type PriceOverride, type TokenPolicy } from '../policy/types.js';
import { clampCap, neverFits, unitsAt, type NeverFits, type PlannedCounter } from './fit.js';
import type { ObservedOutput } from './observed.js';
import { planAdmission, type PlanLog } from './plan.js';
import {
  missingSubjectRejection, neverFitsRejection, rateLimitHeaders, storeUnavailableRejection, tokenLimitRejection, unknownTierRejection,
  type RateLimitState, type Rejection, type ReservedAmount,
} from './rejection.js';
import { fitsLimit, type CounterStore, type ReserveResult } from './store.js';

/** A request's decision, as its log line and the ledger record it. */
export type AdmissionDecision = 'allowed' | 'limited' | 'never-fits' | 'dry-run-limited' | 'store-error' | 'subject-missing' | 'tier-unknown' | 'none';

/** One limit's part in a decision (the decision metric's outcome): also clamped (it set the cap) and exempt. */
export type DecisionOutcome = Exclude<AdmissionDecision, 'none'> | 'clamped' | 'exempt';

export interface AdmitInput {
  requestId: string;
  provider: Provider;
  endpoint: Endpoint;
  host: string;
  path: string;
  method: string;
  headers: Readonly<Record<string, string | undefined>>;
  sourceAddress?: string;
  model?: string;
  maxOutputTokens?: number;
  inputTokens: number;
  /** The forwarded body can be rewritten (a Clamp policy may then lower its output cap). */
  clampable?: boolean;
}

export interface LimiterEvents {
  /** `tier`: the tier that applied ('' for policies without tiers). */
  decision(policy: string, limit: string, tier: string, outcome: DecisionOutcome): void;
  storeLatency(op: 'reserve' | 'settle', seconds: number): void;
  settled(policy: string, limit: string, reservedUnits: number, actualUnits: number, seconds: number): void;
  storeError(err: unknown): void;
  /** A counter's usage after a reserve (in store units, with live reservations), for the per-subject budget metric. */
  usage(counter: CounterUsage): void;
}

export interface CounterUsage {
  policy: string;
  limit: string;
  /** The subject as recorded (src/policy/subject.ts recordedSubject). */
  subject: string;
  used: number;
  budget: number;
  windowEndMs: number;
}

/**
 * Whom the spend ledger charges a request to: one policy — the one that rejected it, else the first matched policy
 * that resolved a subject — with its subject as recorded and the pricing its cost limits use.
 */
export interface Attribution {
  policy: string;
  /** null when the request carried no subject for that policy (rejected as subject-missing). */
  subject: string | null;
  /** The limit that rejected the request, or would have (DryRun). */
  limit?: string;
  pricing: readonly PriceOverride[];
}

/** What the usage log line carries about budgets (and the ledger reads): plan facts, then the decision. */
export interface AdmissionLog extends PlanLog {
  limits: string[];
  decision: AdmissionDecision;
  reserved?: Record<string, number>;
  dry_run_limited?: string[];
  /** The output cap written into the forwarded body (Clamp). */
  output_clamped?: number;
  /** The attributed policy's tier and override (the spend ledger's record: one policy per request). */
  tier?: string;
  override?: string;
}

export interface Admission {
  /** Set when the request must not go upstream. */
  rejection?: Rejection;
  /** Response headers for the allowed request: x-ratelimit-* (the tightest enforced limit), x-tokenmeter-output-clamped. */
  headers?: Record<string, string>;
  /** The output cap to write into the forwarded request body (in the provider's own field). */
  outputCap?: number;
  log: AdmissionLog;
  /** Absent when no policy matched. */
  attribution?: Attribution;
  /** Replace the reservation with the real usage; never rejects. Returns what each limit was charged (its unit). */
  settle(usage: TokenUsage, model: string | undefined): Promise<Record<string, number>>;
}

export interface LimiterDeps {
  store: CounterStore;
  matcher: () => PolicyMatcher;
  observed: ObservedOutput;
  now?: () => number;
  /** A reservation never settled is released after this. */
  reservationTtlMs: number;
  events?: Partial<LimiterEvents>;
}

interface Reservation {
  id: string;
  counters: PlannedCounter[];
  amounts: number[];
}

/** Clamp: how often a reserve is retried with a smaller cap when concurrent requests took what was left. */
const CLAMP_ATTEMPTS = 3;
export const CLAMP_HEADER = 'x-tokenmeter-output-clamped';

const NONE: Admission = { log: { policies: [], limits: [], decision: 'none' }, settle: () => Promise.resolve({}) };

function label(c: PlannedCounter): string {
  return `${policyKey(c.policy)}/${c.limit.name}`;
}

function attributionOf(c: PlannedCounter, withLimit: boolean): Attribution {
  return { policy: policyKey(c.policy), subject: c.subject, ...(withLimit ? { limit: c.limit.name } : {}), pricing: c.policy.pricing };
}

/** The attributed policy's tier and override, for the ledger (log.tiers and log.overrides hold them for every policy). */
function withAttribution(log: AdmissionLog, attribution: Attribution | undefined): { log: AdmissionLog; attribution?: Attribution } {
  if (!attribution) return { log };
  const tier = log.tiers?.[attribution.policy];
  const override = log.overrides?.[attribution.policy];
  return { attribution, log: { ...log, ...(tier === undefined ? {} : { tier }), ...(override === undefined ? {} : { override }) } };
}

function display(limit: Limit, units: number): number {
  return limit.kind === 'cost' ? units / 1e6 : units;
}

/** Why a counter reserves the output it does, for messages. */
function outputReason(c: PlannedCounter, input: AdmitInput, floor: number | undefined): string {
  const field = outputCapField(input.endpoint) ?? 'an output cap';
  if (c.output === 0) return 'no output is reserved';
  if (floor !== undefined && c.output > floor) return `reservation.minOutputTokens, the smallest cap the Clamp policy writes`;
  if (input.maxOutputTokens !== undefined) return `the request's ${field}`;
  if (c.policy.reservation.output === 'Observed') return 'what this model\'s answers used recently, or reservation.defaultMaxTokens before that';
  if (modelMaxOutput(input.model) !== undefined) return `the model's output limit, as the request sets no ${field}`;
  return `reservation.defaultMaxTokens, as the request sets no ${field} and the model's output limit is unknown`;
}

export class Limiter {
  private readonly now: () => number;
  private seq = 0;

  constructor(private readonly deps: LimiterDeps) {
    this.now = deps.now ?? Date.now;
  }

  active(): boolean {
    return this.deps.matcher().policies.length > 0;
  }

  async admit(input: AdmitInput): Promise<Admission> {
    const policies = this.deps.matcher().match({ host: input.host, path: input.path, method: input.method, model: input.model, endpoint: input.endpoint });
    if (policies.length === 0) return NONE;
    const now = this.now();
    const plan = planAdmission(policies, input, { now, observed: this.deps.observed, decision: (p, tier, o) => this.emit(p, '', tier, o) });
    const log: AdmissionLog = { ...plan.log, limits: [], decision: 'allowed' };
    if (plan.refusal) {
      const { policy, status, message, outcome, subject } = plan.refusal;
      this.emit(policy, '', '', outcome);
      const rejection = outcome === 'tier-unknown' ? unknownTierRejection(input.provider, policyKey(policy), message) : missingSubjectRejection(input.provider, policyKey(policy), status, message);
      const attribution: Attribution = { policy: policyKey(policy), subject, pricing: policy.pricing };
      return { ...NONE, rejection, ...withAttribution({ ...log, decision: outcome }, attribution) };
    }
    const counters = plan.counters;
    log.limits = counters.map(label);
    const enforced = counters.filter((c) => c.role === 'enforce');
    const floor = this.clampFloor(enforced, input);
    const never = neverFits(enforced, floor ?? Infinity);
    if (never) return this.neverFit(never, input, log, floor);
    // With a Clamp policy the cap starts at what its counters reserve (so an unknown model's output is capped too).
    let cap = floor === undefined ? Infinity : Math.min(...enforced.filter((c) => c.policy.reservation.output === 'Clamp').map((c) => c.output));
    let by = -1;
    log.reserved = Object.fromEntries(counters.map((c) => [label(c), display(c.limit, unitsAt(c, cap))]));
    const id = `${input.requestId || 'req'}:${now}:${++this.seq}`;
    const reservations: Reservation[] = [];
    let headers: Record<string, string> | undefined;
    if (enforced.length > 0) {
      let res: ReserveResult;
      try {
        for (let attempt = 1; ; attempt++) {
          res = await this.reserve(id, enforced, cap, now, false);
          if (res.ok || floor === undefined || attempt >= CLAMP_ATTEMPTS) break;
          const next = clampCap(enforced, res.used);
          if (next.cap < floor || next.cap >= cap) break;
          [cap, by] = [next.cap, next.by];
        }
      } catch (err) {
        return this.storeFailure(err, enforced, input, log);
      }
      this.emitUsage(enforced, res.used);
      if (!res.ok) return this.limited(res, enforced, input, log, { now, cap, floor });
      reservations.push({ id, counters: enforced, amounts: enforced.map((c) => unitsAt(c, cap)) });
      enforced.forEach((c, i) => this.emit(c.policy, c.limit.name, c.tier, i === by ? 'clamped' : 'allowed'));
      headers = rateLimitHeaders(this.tightest(enforced, res.used, now));
    }
    const written = floor !== undefined && cap < (input.maxOutputTokens ?? modelMaxOutput(input.model) ?? Infinity) ? cap : undefined;
    if (written !== undefined) {
      log.output_clamped = written;
      headers = { ...headers, [CLAMP_HEADER]: String(written) };
    }
    log.reserved = Object.fromEntries(counters.map((c) => [label(c), display(c.limit, unitsAt(c, cap))]));
    const countOnly = counters.filter((c) => c.role !== 'enforce');
    await this.countOnly(`${id}:dry`, countOnly, { cap, now }, log, reservations);
    // Attributed to the first policy that resolved a subject, or to the DryRun limit it would have exceeded.
    const over = log.dry_run_limited?.[0];
    const dryOver = over === undefined ? undefined : countOnly.find((c) => label(c) === over);
    const first = counters[0];
    const attribution = dryOver ? attributionOf(dryOver, true) : first ? attributionOf(first, false) : undefined;
    return {
      ...withAttribution(log, attribution), ...(headers ? { headers } : {}), ...(written === undefined ? {} : { outputCap: written }),
      settle: (usage, model) => this.settle(reservations, usage, model, plan.observedSubjects),
    };
  }

  private emitUsage(counters: readonly PlannedCounter[], used: number[]): void {
    const usage = this.deps.events?.usage;
    if (!usage) return;
    counters.forEach((c, i) => usage({
      policy: policyKey(c.policy), limit: c.limit.name, subject: c.subject, used: used[i] ?? 0, budget: c.budget, windowEndMs: c.windowEndMs,
    }));
  }

  /** The clamp floor when a Clamp policy is enforced on a request whose body may be rewritten; else undefined. */
  private clampFloor(enforced: readonly PlannedCounter[], input: AdmitInput): number | undefined {
    if (input.clampable !== true || input.endpoint === 'openai.embeddings') return undefined;
    const floors = enforced.filter((c) => c.policy.reservation.output === 'Clamp').map((c) => c.policy.reservation.minOutputTokens);
    return floors.length === 0 ? undefined : Math.max(...floors);
  }

  private async reserve(id: string, counters: readonly PlannedCounter[], cap: number, now: number, force: boolean): Promise<ReserveResult> {
    const t0 = performance.now();
    try {
      return await this.deps.store.reserve({
        id, nowMs: now, reservationTtlMs: this.deps.reservationTtlMs, force,
        counters: counters.map((c) => ({ key: c.key, amount: unitsAt(c, cap), limit: c.budget, windowEndMs: c.windowEndMs, hashTag: c.hashTag })),
      });
    } finally {
      this.deps.events?.storeLatency?.('reserve', (performance.now() - t0) / 1000);
    }
  }

  /** DryRun policies and exempt subjects: counted (force), never refused. */
  private async countOnly(id: string, counters: PlannedCounter[], at: { cap: number; now: number }, log: AdmissionLog, reservations: Reservation[]): Promise<void> {
    if (counters.length === 0) return;
    const { cap, now } = at;
    try {
      const res = await this.reserve(id, counters, cap, now, true);
      reservations.push({ id, counters, amounts: counters.map((c) => unitsAt(c, cap)) });
      this.emitUsage(counters, res.used);
      const over = res.ok && res.exceeded !== undefined ? counters[res.exceeded] : undefined;
      if (over?.role === 'dry-run') {
        log.dry_run_limited = [label(over)];
        if (log.decision === 'allowed') log.decision = 'dry-run-limited';
      }
      for (const c of counters) this.emit(c.policy, c.limit.name, c.tier, c.role === 'exempt' ? 'exempt' : c === over ? 'dry-run-limited' : 'allowed');
    } catch (err) {
      this.deps.events?.storeError?.(err);
      for (const c of counters) this.emit(c.policy, c.limit.name, c.tier, 'store-error');
    }
  }

  private reservedAmount(c: PlannedCounter, input: AdmitInput, cap: number, floor: number | undefined): ReservedAmount {
    return { amount: display(c.limit, unitsAt(c, cap)), inputTokens: Math.max(0, input.inputTokens), outputTokens: Math.min(c.output, cap), outputReason: outputReason(c, input, cap === floor ? floor : undefined) };
  }

  private neverFit(n: NeverFits, input: AdmitInput, log: AdmissionLog, floor: number | undefined): Admission {
    const c = n.counter;
    this.emit(c.policy, c.limit.name, c.tier, 'never-fits');
    const capField = outputCapField(input.endpoint);
    const rejection = neverFitsRejection(input.provider, {
      policy: policyKey(c.policy), limit: c.limit.name, unit: c.limit.kind === 'cost' ? 'USD' : 'tokens',
      budget: display(c.limit, c.budget), window: c.limit.window.text, reserved: this.reservedAmount(c, input, floor ?? Infinity, floor),
      maxOutput: n.maxOutput, ...(capField === undefined ? {} : { capField }),
    });
    return { ...NONE, rejection, ...withAttribution({ ...log, decision: 'never-fits', limits: [label(c)] }, attributionOf(c, true)) };
  }

  private limited(res: Extract<ReserveResult, { ok: false }>, counters: PlannedCounter[], input: AdmitInput, log: AdmissionLog, at: { now: number; cap: number; floor: number | undefined }): Admission {
    const { now, cap, floor } = at;
    const blocked = counters[res.blocked] as PlannedCounter;
    this.emit(blocked.policy, blocked.limit.name, blocked.tier, 'limited');
    const used = res.used[res.blocked] ?? 0;
    const state: RateLimitState = {
      limit: display(blocked.limit, blocked.budget), remaining: display(blocked.limit, blocked.budget - used), resetMs: blocked.windowEndMs - now,
    };
    const reserved = this.reservedAmount(blocked, input, floor ?? cap, floor);
    // Would it fit once the reservations of requests in flight settle? Then waiting seconds helps, not the window.
    const inFlight = counters.every((c, i) => fitsLimit(res.settled[i] ?? 0, unitsAt(c, floor ?? cap), c.budget));
    const rejection = tokenLimitRejection(input.provider, policyKey(blocked.policy), blocked.limit.name, state, { unit: blocked.limit.kind === 'cost' ? 'USD' : 'tokens', reserved, inFlight });
    return { ...NONE, rejection, ...withAttribution({ ...log, decision: 'limited', limits: [label(blocked)] }, attributionOf(blocked, true)) };
  }

  private storeFailure(err: unknown, counters: PlannedCounter[], input: AdmitInput, log: AdmissionLog): Admission {
    if (!isTokenmeterError(err)) throw err;
    this.deps.events?.storeError?.(err);
    for (const c of counters) this.emit(c.policy, c.limit.name, c.tier, 'store-error');
    const closed = counters.find((c) => c.policy.enforcement.failureMode === 'Closed');
    const attributed = withAttribution({ ...log, decision: 'store-error' }, attributionOf(closed ?? (counters[0] as PlannedCounter), false));
    if (closed) return { ...NONE, ...attributed, rejection: storeUnavailableRejection(input.provider, policyKey(closed.policy)) };
    return { ...NONE, ...attributed };
  }

  /** The enforced limit with the smallest remaining share: what a client pacing itself needs to know. */
  private tightest(counters: PlannedCounter[], used: number[], now: number): RateLimitState {
    let best: RateLimitState | undefined;
    let bestShare = Infinity;
    counters.forEach((c, i) => {
      const remaining = c.budget - (used[i] ?? 0);
      const share = c.budget > 0 ? remaining / c.budget : 0;
      if (share < bestShare) {
        bestShare = share;
        best = { limit: display(c.limit, c.budget), remaining: display(c.limit, remaining), resetMs: c.windowEndMs - now };
      }
    });
    return best as RateLimitState;
  }

  private async settle(reservations: Reservation[], usage: TokenUsage, model: string | undefined, subjects: readonly string[]): Promise<Record<string, number>> {
    if (model) this.deps.observed.record(model, usage.output, subjects);
    const charged: Record<string, number> = {};
    const now = this.now();
    await Promise.all(reservations.map(async ({ id, counters, amounts }) => {
      const actual = counters.map((c) => counterUnits(c.limit, chargeFor(c.limit, usage, { model, pricing: c.policy.pricing }).amount));
      const t0 = performance.now();
      try {
        await this.deps.store.settle(id, actual, now);
      } catch (err) {
        this.deps.events?.storeError?.(err);
        return;
      } finally {
        this.deps.events?.storeLatency?.('settle', (performance.now() - t0) / 1000);
      }
      const seconds = (performance.now() - t0) / 1000;
      counters.forEach((c, i) => {
        charged[label(c)] = display(c.limit, actual[i] ?? 0);
        this.deps.events?.settled?.(policyKey(c.policy), c.limit.name, amounts[i] ?? 0, actual[i] ?? 0, seconds);
      });
    }));
    return charged;
  }

  private emit(policy: TokenPolicy, limit: string, tier: string, outcome: DecisionOutcome): void {
    this.deps.events?.decision?.(policyKey(policy), limit, tier, outcome);
  }
}
