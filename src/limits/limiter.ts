/**
 * Reserve, then settle. Before a request goes upstream: find the policies that apply, resolve each one's subject, and
 * reserve input (exact pre-count) + the output reservation on every applicable limit, all or nothing. When the
 * response ends: replace the reservation with the real charge. DryRun policies reserve too (so their counters are
 * real) but never reject; a store that cannot answer is handled by each policy's failureMode.
 * No gRPC here: the ext_proc session calls admit() and the returned Admission's settle().
 */
import { isTokenmeterError } from '../errors/catalogue.js';
import type { Endpoint, Provider } from '../llm/types.js';
import { chargeFor, counterBudget, counterUnits, reservationFor, type TokenUsage } from '../policy/charge.js';
import type { PolicyMatcher } from '../policy/match.js';
import { subjectFor } from '../policy/subject.js';
import { modelMaxOutput } from '../policy/output-limits.js';
import { counterKey } from './keys.js';
import { policyKey, type Limit, type PriceOverride, type TokenPolicy } from '../policy/types.js';
import { windowAt } from '../policy/windows.js';
import type { ObservedOutput } from './observed.js';
import { missingSubjectRejection, rateLimitHeaders, storeUnavailableRejection, tokenLimitRejection, type RateLimitState, type Rejection } from './rejection.js';
import type { CounterSpec, CounterStore, ReserveResult } from './store.js';

export type DecisionOutcome = 'allowed' | 'limited' | 'dry-run-limited' | 'store-error' | 'subject-missing';

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
}

/** One counter a request touches, with what was reserved on it (store units: tokens, or micro-USD). */
interface Applied {
  policy: TokenPolicy;
  limit: Limit;
  spec: CounterSpec;
  resetAt: number;
  dryRun: boolean;
  /** The subject as recorded (ledger, per-subject metric). */
  subject: string;
}

export interface LimiterEvents {
  decision(policy: string, limit: string, outcome: DecisionOutcome): void;
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

export interface AdmissionLog {
  subject?: string;
  policies: string[];
  limits: string[];
  decision: DecisionOutcome | 'none';
  reserved?: Record<string, number>;
  dry_run_limited?: string[];
}

export interface Admission {
  /** Set when the request must not go upstream. */
  rejection?: Rejection;
  /** x-ratelimit-* headers for the allowed response (the tightest enforced limit). */
  headers?: Record<string, string>;
  log: AdmissionLog;
  /** Absent when no policy matched. */
  attribution?: Attribution;
  /** Replace the reservation with the real usage; never rejects. Returns what each limit was charged (store units). */
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

const NONE: Admission = { log: { policies: [], limits: [], decision: 'none' }, settle: () => Promise.resolve({}) };

/** The attribution of an admitted request; names the DryRun limit it would have exceeded. */
function withAttribution(attribution: Attribution | undefined, log: AdmissionLog, dry: Applied[]): { attribution?: Attribution } {
  if (!attribution) return {};
  const over = log.dry_run_limited?.[0];
  const limit = over === undefined ? undefined : dry.find((a) => limitLabel(a) === over);
  return { attribution: limit ? { policy: policyKey(limit.policy), subject: limit.subject, limit: limit.limit.name, pricing: limit.policy.pricing } : attribution };
}

function limitLabel(a: Applied): string {
  return `${policyKey(a.policy)}/${a.limit.name}`;
}

function displayAmount(limit: Limit, units: number): number {
  return limit.kind === 'cost' ? units / 1e6 : units;
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
    const applied: Applied[] = [];
    const log: AdmissionLog = { policies: policies.map(policyKey), limits: [], decision: 'allowed' };
    let attribution: Attribution | undefined;
    for (const policy of policies) {
      const dryRun = policy.enforcement.mode === 'DryRun';
      const subject = subjectFor(policy.subject, { headers: input.headers, path: input.path, sourceAddress: input.sourceAddress });
      if (subject.kind === 'reject') {
        this.emitDecision(policy, undefined, dryRun ? 'dry-run-limited' : 'subject-missing');
        if (dryRun) continue;
        return {
          ...NONE, log: { ...log, decision: 'subject-missing' }, attribution: { policy: policyKey(policy), subject: null, pricing: policy.pricing },
          rejection: missingSubjectRejection(input.provider, policyKey(policy), subject.status, subject.message),
        };
      }
      log.subject ??= subject.logId;
      attribution ??= { policy: policyKey(policy), subject: subject.recorded, pricing: policy.pricing };
      for (const limit of policy.limits) applied.push(this.counterFor({ policy, limit, subjectKey: subject.key, subject: subject.recorded, dryRun }, input, now));
    }
    log.limits = applied.map(limitLabel);
    log.reserved = Object.fromEntries(applied.map((a) => [limitLabel(a), displayAmount(a.limit, a.spec.amount)]));
    const id = `${input.requestId || 'req'}:${now}:${++this.seq}`;
    const enforced = applied.filter((a) => !a.dryRun);
    const dry = applied.filter((a) => a.dryRun);
    const reservations: { id: string; counters: Applied[] }[] = [];
    if (enforced.length > 0) {
      let res: ReserveResult;
      try {
        res = await this.reserve(id, enforced, now, false);
      } catch (err) {
        return this.storeFailure(err, enforced, input, log);
      }
      this.emitUsage(enforced, res.used);
      if (!res.ok) return this.limited(res, enforced, input, log, now);
      reservations.push({ id, counters: enforced });
      log.decision = 'allowed';
      for (const a of enforced) this.emitDecision(a.policy, a.limit, 'allowed');
      const headers = rateLimitHeaders(this.tightest(enforced, res.used, now));
      const admission = await this.dryRunPart(`${id}:dry`, dry, now, log, reservations);
      return { ...admission, headers, ...withAttribution(attribution, admission.log, dry) };
    }
    const admission = await this.dryRunPart(`${id}:dry`, dry, now, log, reservations);
    return { ...admission, ...withAttribution(attribution, admission.log, dry) };
  }

  private emitUsage(counters: Applied[], used: number[]): void {
    const usage = this.deps.events?.usage;
    if (!usage) return;
    counters.forEach((a, i) => usage({
      policy: policyKey(a.policy), limit: a.limit.name, subject: a.subject, used: used[i] ?? 0, budget: a.spec.limit, windowEndMs: a.spec.windowEndMs,
    }));
  }

  private counterFor(target: { policy: TokenPolicy; limit: Limit; subjectKey: string; subject: string; dryRun: boolean }, input: AdmitInput, now: number): Applied {
    const { policy, limit, subjectKey, subject, dryRun } = target;
    const w = windowAt(limit.window, now);
    const observedP95 = policy.reservation.output === 'Observed' && input.model ? this.deps.observed.p95(input.model) : undefined;
    const maxOut = input.endpoint === 'openai.embeddings' ? 0 : input.maxOutputTokens;
    const req = { inputTokens: input.inputTokens, maxOutputTokens: maxOut, observedP95, modelMaxOutput: modelMaxOutput(input.model) };
    const charge = reservationFor(limit, policy.reservation, req, { model: input.model, pricing: policy.pricing });
    return {
      policy, limit, dryRun, subject, resetAt: w.end,
      spec: { key: counterKey(policy, limit, subjectKey, input.model, w.id), amount: counterUnits(limit, charge.amount), limit: counterBudget(limit), windowEndMs: w.end, hashTag: subjectKey },
    };
  }

  private async reserve(id: string, counters: Applied[], now: number, force: boolean): Promise<ReserveResult> {
    const t0 = performance.now();
    try {
      return await this.deps.store.reserve({ id, counters: counters.map((a) => a.spec), nowMs: now, reservationTtlMs: this.deps.reservationTtlMs, force });
    } finally {
      this.deps.events?.storeLatency?.('reserve', (performance.now() - t0) / 1000);
    }
  }

  private async dryRunPart(id: string, dry: Applied[], now: number, log: AdmissionLog, reservations: { id: string; counters: Applied[] }[]): Promise<Admission> {
    if (dry.length > 0) {
      try {
        const res = await this.reserve(id, dry, now, true);
        reservations.push({ id, counters: dry });
        this.emitUsage(dry, res.used);
        const over = res.ok && res.exceeded !== undefined ? dry[res.exceeded] : undefined;
        if (over) {
          log.dry_run_limited = [limitLabel(over)];
          if (log.decision === 'allowed') log.decision = 'dry-run-limited';
        }
        for (const a of dry) this.emitDecision(a.policy, a.limit, a === over ? 'dry-run-limited' : 'allowed');
      } catch (err) {
        this.deps.events?.storeError?.(err);
        for (const a of dry) this.emitDecision(a.policy, a.limit, 'store-error');
      }
    }
    return { log, settle: (usage, model) => this.settle(reservations, usage, model) };
  }

  private limited(res: Extract<ReserveResult, { ok: false }>, counters: Applied[], input: AdmitInput, log: AdmissionLog, now: number): Admission {
    const blocked = counters[res.blocked] as Applied;
    this.emitDecision(blocked.policy, blocked.limit, 'limited');
    const used = res.used[res.blocked] ?? 0;
    const state: RateLimitState = {
      limit: displayAmount(blocked.limit, blocked.spec.limit), remaining: displayAmount(blocked.limit, blocked.spec.limit - used), resetMs: blocked.resetAt - now,
    };
    const rejection = tokenLimitRejection(input.provider, policyKey(blocked.policy), blocked.limit.name, state, blocked.limit.kind === 'cost' ? 'USD' : 'tokens');
    const attribution: Attribution = { policy: policyKey(blocked.policy), subject: blocked.subject, limit: blocked.limit.name, pricing: blocked.policy.pricing };
    return { ...NONE, rejection, attribution, log: { ...log, decision: 'limited', limits: [limitLabel(blocked)] } };
  }

  private storeFailure(err: unknown, counters: Applied[], input: AdmitInput, log: AdmissionLog): Admission {
    if (!isTokenmeterError(err)) throw err;
    this.deps.events?.storeError?.(err);
    for (const a of counters) this.emitDecision(a.policy, a.limit, 'store-error');
    const closed = counters.find((a) => a.policy.enforcement.failureMode === 'Closed');
    const next: AdmissionLog = { ...log, decision: 'store-error' };
    const first = counters[0] as Applied;
    const attribution: Attribution = { policy: policyKey((closed ?? first).policy), subject: (closed ?? first).subject, pricing: (closed ?? first).policy.pricing };
    if (closed) return { ...NONE, log: next, attribution, rejection: storeUnavailableRejection(input.provider, policyKey(closed.policy)) };
    return { ...NONE, log: next, attribution };
  }

  /** The enforced limit with the smallest remaining share: what a client pacing itself needs to know. */
  private tightest(counters: Applied[], used: number[], now: number): RateLimitState {
    let best: RateLimitState | undefined;
    let bestShare = Infinity;
    counters.forEach((a, i) => {
      const remaining = a.spec.limit - (used[i] ?? 0);
      const share = a.spec.limit > 0 ? remaining / a.spec.limit : 0;
      if (share < bestShare) {
        bestShare = share;
        best = { limit: displayAmount(a.limit, a.spec.limit), remaining: displayAmount(a.limit, remaining), resetMs: a.resetAt - now };
      }
    });
    return best as RateLimitState;
  }

  private async settle(reservations: { id: string; counters: Applied[] }[], usage: TokenUsage, model: string | undefined): Promise<Record<string, number>> {
    if (model) this.deps.observed.record(model, usage.output);
    const charged: Record<string, number> = {};
    const now = this.now();
    await Promise.all(reservations.map(async ({ id, counters }) => {
      const actual = counters.map((a) => counterUnits(a.limit, chargeFor(a.limit, usage, { model, pricing: a.policy.pricing }).amount));
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
      counters.forEach((a, i) => {
        charged[limitLabel(a)] = displayAmount(a.limit, actual[i] ?? 0);
        this.deps.events?.settled?.(policyKey(a.policy), a.limit.name, a.spec.amount, actual[i] ?? 0, seconds);
      });
    }));
    return charged;
  }

  private emitDecision(policy: TokenPolicy, limit: Limit | undefined, outcome: DecisionOutcome): void {
    this.deps.events?.decision?.(policyKey(policy), limit?.name ?? '', outcome);
  }
}
