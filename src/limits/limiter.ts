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
import { policyKey, type Limit, type TokenPolicy } from '../policy/types.js';
import { windowAt } from '../policy/windows.js';
import type { ObservedOutput } from './observed.js';
import { missingSubjectRejection, rateLimitHeaders, storeUnavailableRejection, tokenLimitRejection, type RateLimitState, type Rejection } from './rejection.js';
import type { CounterSpec, CounterStore, ReserveResult } from './store.js';
import { beforeDeadline, landed } from './deadline.js';

/** What settle() replaces; `late`: a reserve that missed the decision deadline, settled only if it landed. */
interface Reservation {
  id: string;
  counters: Applied[];
  late?: Promise<ReserveResult>;
}

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
  /** The decision deadline: a store that has not answered when it aborts counts as unavailable (src/limits/deadline.ts). */
  signal?: AbortSignal;
  /** Kubernetes mode: the policies attached to the request's route (src/policy/routes.ts); see MatchInput. */
  attachedPolicies?: readonly string[];
}

/** One counter a request touches, with what was reserved on it (store units: tokens, or micro-USD). */
interface Applied {
  policy: TokenPolicy;
  limit: Limit;
  spec: CounterSpec;
  resetAt: number;
  dryRun: boolean;
}

export interface LimiterEvents {
  decision(policy: string, limit: string, outcome: DecisionOutcome): void;
  storeLatency(op: 'reserve' | 'settle', seconds: number): void;
  settled(policy: string, limit: string, reservedUnits: number, actualUnits: number, seconds: number): void;
  storeError(err: unknown): void;
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
    const policies = this.deps.matcher().match({
      host: input.host, path: input.path, method: input.method, model: input.model, endpoint: input.endpoint,
      ...(input.attachedPolicies ? { attachedPolicies: input.attachedPolicies } : {}),
    });
    if (policies.length === 0) return NONE;
    const now = this.now();
    const applied: Applied[] = [];
    const log: AdmissionLog = { policies: policies.map(policyKey), limits: [], decision: 'allowed' };
    for (const policy of policies) {
      const dryRun = policy.enforcement.mode === 'DryRun';
      const subject = subjectFor(policy.subject, { headers: input.headers, path: input.path, sourceAddress: input.sourceAddress });
      if (subject.kind === 'reject') {
        this.emitDecision(policy, undefined, dryRun ? 'dry-run-limited' : 'subject-missing');
        if (dryRun) continue;
        return { ...NONE, log: { ...log, decision: 'subject-missing' }, rejection: missingSubjectRejection(input.provider, policyKey(policy), subject.status, subject.message) };
      }
      log.subject ??= subject.logId;
      for (const limit of policy.limits) applied.push(this.counterFor({ policy, limit, subjectKey: subject.key, dryRun }, input, now));
    }
    log.limits = applied.map(limitLabel);
    log.reserved = Object.fromEntries(applied.map((a) => [limitLabel(a), displayAmount(a.limit, a.spec.amount)]));
    const id = `${input.requestId || 'req'}:${now}:${++this.seq}`;
    const enforced = applied.filter((a) => !a.dryRun);
    const dry = applied.filter((a) => a.dryRun);
    const reservations: Reservation[] = [];
    if (enforced.length > 0) {
      let res: ReserveResult;
      const reserving = this.reserve(id, enforced, now, false);
      try {
        res = await beforeDeadline(reserving, input.signal);
      } catch (err) {
        return this.storeFailure(err, enforced, input, log, { id, counters: enforced, late: reserving });
      }
      if (!res.ok) return this.limited(res, enforced, input, log, now);
      reservations.push({ id, counters: enforced });
      log.decision = 'allowed';
      for (const a of enforced) this.emitDecision(a.policy, a.limit, 'allowed');
      const headers = rateLimitHeaders(this.tightest(enforced, res.used, now));
      const admission = await this.dryRunPart(`${id}:dry`, dry, { now, signal: input.signal }, log, reservations);
      return { ...admission, headers };
    }
    return this.dryRunPart(`${id}:dry`, dry, { now, signal: input.signal }, log, reservations);
  }

  private counterFor(target: { policy: TokenPolicy; limit: Limit; subjectKey: string; dryRun: boolean }, input: AdmitInput, now: number): Applied {
    const { policy, limit, subjectKey, dryRun } = target;
    const w = windowAt(limit.window, now);
    const observedP95 = policy.reservation.output === 'Observed' && input.model ? this.deps.observed.p95(input.model) : undefined;
    const maxOut = input.endpoint === 'openai.embeddings' ? 0 : input.maxOutputTokens;
    const req = { inputTokens: input.inputTokens, maxOutputTokens: maxOut, observedP95, modelMaxOutput: modelMaxOutput(input.model) };
    const charge = reservationFor(limit, policy.reservation, req, { model: input.model, pricing: policy.pricing });
    return {
      policy, limit, dryRun, resetAt: w.end,
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

  private async dryRunPart(id: string, dry: Applied[], at: { now: number; signal: AbortSignal | undefined }, log: AdmissionLog, reservations: Reservation[]): Promise<Admission> {
    if (dry.length > 0) {
      const reserving = this.reserve(id, dry, at.now, true);
      try {
        const res = await beforeDeadline(reserving, at.signal);
        reservations.push({ id, counters: dry });
        const over = res.ok && res.exceeded !== undefined ? dry[res.exceeded] : undefined;
        if (over) {
          log.dry_run_limited = [limitLabel(over)];
          if (log.decision === 'allowed') log.decision = 'dry-run-limited';
        }
        for (const a of dry) this.emitDecision(a.policy, a.limit, a === over ? 'dry-run-limited' : 'allowed');
      } catch (err) {
        reservations.push({ id, counters: dry, late: reserving });
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
    return { ...NONE, rejection, log: { ...log, decision: 'limited', limits: [limitLabel(blocked)] } };
  }

  private storeFailure(err: unknown, counters: Applied[], input: AdmitInput, log: AdmissionLog, late: Reservation): Admission {
    if (!isTokenmeterError(err)) throw err;
    this.deps.events?.storeError?.(err);
    for (const a of counters) this.emitDecision(a.policy, a.limit, 'store-error');
    const closed = counters.find((a) => a.policy.enforcement.failureMode === 'Closed');
    const next: AdmissionLog = { ...log, decision: 'store-error' };
    // A reservation landing after the deadline is settled with the request (released for a refused one: it used nothing).
    const settle: Admission['settle'] = async (usage, model) => (late.late && (await landed(late.late)) ? this.settle([late], usage, model) : {});
    if (closed) return { ...NONE, log: next, settle, rejection: storeUnavailableRejection(input.provider, policyKey(closed.policy)) };
    return { ...NONE, log: next, settle };
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

  private async settle(reservations: Reservation[], usage: TokenUsage, model: string | undefined): Promise<Record<string, number>> {
    if (model) this.deps.observed.record(model, usage.output);
    const charged: Record<string, number> = {};
    const now = this.now();
    await Promise.all(reservations.map(async ({ id, counters, late }) => {
      if (late && !(await landed(late))) return;
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
