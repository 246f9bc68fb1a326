/**
 * `GET /v1/usage?policy=NAME[&namespace=NS]&subject=VALUE[&model=M][&tier=T]`: current usage, remaining budget and
 * reset time of every limit that applies to one subject under one policy — what the limiter would see for a request
 * from that subject now: spec.limits changed by its tier and override. Requests name their tier, the subject does
 * not: `tier=` asks for one (else the default tier; `tier_source` says which). It says which override applied
 * (`override`, `exempt`); the subject itself only as its log id.
 *
 * `subject` is the value a request would carry for the policy's subject (it may also be sent in the
 * `x-tokenmeter-subject` header, to keep it out of URLs): the header value (Header), the client address (ClientIP),
 * the API key itself (APIKey; a full `Bearer …` value is accepted too; hashed like the data plane does and never
 * stored) or the claim value (JWTClaim). `shared=true` asks for the shared budget of requests without a subject
 * (onMissing: Shared); a policy without a subject has one budget and needs no `subject`. `model` selects the counter
 * of perModel limits (without it, the counter of requests that named no model). `policy` may also be `NS/NAME`.
 * Needs `authorization: Bearer <admin token>` when one is configured.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isTokenmeterError } from '../errors/catalogue.js';
import { counterKey } from '../limits/keys.js';
import type { CounterStore } from '../limits/store.js';
import { counterBudget } from '../policy/charge.js';
import { limitsFor, tierNames } from '../policy/resolve.js';
import { GLOBAL_KEY, SHARED_KEY, hashKey, logIdOf, modelKey, normaliseIp, valueKey } from '../policy/subject.js';
import { policyKey, type Limit, type TokenPolicy } from '../policy/types.js';
import { windowAt } from '../policy/windows.js';
import { bearerAuthorized, sendError, sendJson, sendUnauthorized } from './http.js';

/** What the usage API reads: the policies in force now and the limiter's counter store. */
export interface UsageSource {
  policies(): readonly TokenPolicy[];
  store: CounterStore;
  now(): number;
}

export interface UsageApiDeps {
  /** Absent: budgets are off (no --policies). */
  source?: UsageSource;
  /** Bearer token required; '' = none. */
  adminToken: string;
}

export interface LimitUsage {
  name: string;
  window: string;
  unit: 'tokens' | 'usd';
  limit: number;
  used: number;
  remaining: number;
  reset_at: string;
  reset_in_seconds: number;
  /** perModel limits: the model part of the counter (`(none)` for requests without a model). */
  model?: string;
}

export interface UsageReport {
  policy: string;
  /** The subject's log id (as in the request log lines), never the value. */
  subject: string;
  mode: 'Enforce' | 'DryRun';
  /** Policies with tiers: the tier whose limits are reported, and why that one. */
  tier?: string;
  tier_source?: 'query' | 'default';
  /** The override that applies to the subject (its name, else the subject's log id), or null. */
  override: string | null;
  /** The override exempts the subject: its usage is counted, its limits not enforced. */
  exempt: boolean;
  limits: LimitUsage[];
}

type Found<T> = { ok: true; value: T } | { ok: false; status: 400 | 404; message: string };

/** The policy named by `policy` (`NAME` or `NS/NAME`) and `namespace`. */
export function findPolicy(policies: readonly TokenPolicy[], name: string, namespace: string | undefined): Found<TokenPolicy> {
  const slash = name.indexOf('/');
  const [ns, n] = slash >= 0 && namespace === undefined ? [name.slice(0, slash), name.slice(slash + 1)] : [namespace, name];
  const hits = policies.filter((p) => p.name === n && (ns === undefined || (p.namespace ?? '') === ns));
  if (hits.length === 0) return { ok: false, status: 404, message: `no policy ${ns ? `${ns}/` : ''}${n} is loaded` };
  const unnamespaced = hits.find((p) => p.namespace === undefined);
  if (hits.length > 1 && !unnamespaced) {
    return { ok: false, status: 400, message: `policy ${n} exists in several namespaces (${hits.map(policyKey).join(', ')}): add namespace=` };
  }
  return { ok: true, value: unnamespaced ?? (hits[0] as TokenPolicy) };
}

/** The counter key of `value` for the policy's subject, exactly as src/policy/subject.ts derives it from a request. */
export function subjectKeyOf(policy: TokenPolicy, value: string | undefined, shared: boolean): Found<string> {
  const s = policy.subject;
  if (s === undefined) return { ok: true, value: GLOBAL_KEY };
  if (shared) return { ok: true, value: SHARED_KEY };
  const v = value?.trim() ?? '';
  if (v === '') return { ok: false, status: 400, message: `policy ${policyKey(policy)} has a ${s.from} subject: give subject= (or shared=true)` };
  switch (s.from) {
    case 'Header':
    case 'JWTClaim':
      return { ok: true, value: valueKey(v) };
    case 'ClientIP': {
      const ip = normaliseIp(v);
      return ip === undefined ? { ok: false, status: 400, message: `subject "${v}" is not an IP address` } : { ok: true, value: ip };
    }
    case 'APIKey':
      return { ok: true, value: hashKey(/^bearer\s+(\S+)$/i.exec(v)?.[1] ?? v) };
  }
}

const display = (limit: Limit, units: number): number => (limit.kind === 'cost' ? units / 1e6 : units);

/** Which tier's limits to report: the one asked for (tier=), else the default tier. */
function tierFor(policy: TokenPolicy, asked: string | undefined): { tier?: string; from?: UsageReport['tier_source'] } {
  if (!policy.tiers) return {};
  return asked !== undefined ? { tier: asked, from: 'query' } : { tier: policy.tiers.default, from: 'default' };
}

/** Usage of every limit that applies to `subjectKey` under `policy` now (its tier's and override's). Throws what the store throws. */
export async function usageReport(source: UsageSource, policy: TokenPolicy, subject: { key: string; shared: boolean; tier?: string }, model: string | undefined): Promise<UsageReport> {
  const now = source.now();
  const subjectKey = subject.key;
  const logId = logIdOf(subjectKey);
  const which = tierFor(policy, subject.tier);
  const set = limitsFor(policy, { key: subjectKey, logId, shared: subject.shared }, which.tier);
  const counters = set.limits.map((limit) => {
    const w = windowAt(limit.window, now);
    return { limit, end: w.end, ref: { key: counterKey(policy, limit, subjectKey, model, w.id), windowEndMs: w.end, hashTag: subjectKey } };
  });
  const used = await source.store.peek(counters.map((c) => c.ref), now);
  const limits = counters.map(({ limit, end }, i): LimitUsage => {
    const u = used[i] ?? 0;
    const budget = counterBudget(limit);
    const entry: LimitUsage = {
      name: limit.name, window: limit.window.text, unit: limit.kind === 'cost' ? 'usd' : 'tokens',
      limit: display(limit, budget), used: display(limit, u), remaining: display(limit, Math.max(0, budget - u)),
      reset_at: new Date(end).toISOString(), reset_in_seconds: Math.ceil((end - now) / 1000),
    };
    if (limit.perModel) entry.model = modelKey(model);
    return entry;
  });
  return {
    policy: policyKey(policy), subject: logId, mode: policy.enforcement.mode,
    ...(set.tier === undefined ? {} : { tier: set.tier, tier_source: which.from ?? 'default' }),
    override: set.override ?? null, exempt: set.exempt, limits,
  };
}

/**
 * The common start of the endpoints about one policy (/v1/usage, /v1/budgets): the bearer token, policies loaded,
 * and the policy named by `policy` (and `namespace`); answers 401/404/400 itself and returns undefined then.
 */
export function authorizedPolicy(req: IncomingMessage, res: ServerResponse, url: URL, deps: { source?: { policies(): readonly TokenPolicy[] }; adminToken: string }): TokenPolicy | undefined {
  if (!bearerAuthorized(req, deps.adminToken)) return void sendUnauthorized(res);
  const policies = deps.source?.policies() ?? [];
  if (!deps.source || policies.length === 0) return void sendError(res, 404, 'TM_NOT_FOUND', 'no policies loaded');
  const q = url.searchParams;
  const name = q.get('policy');
  if (!name) return void sendError(res, 400, 'TM_REQUEST_INVALID', 'give policy=NAME (and namespace=NS for a namespaced policy)');
  const policy = findPolicy(policies, name, q.get('namespace') ?? undefined);
  if (!policy.ok) return void sendError(res, policy.status, policy.status === 404 ? 'TM_NOT_FOUND' : 'TM_REQUEST_INVALID', policy.message);
  return policy.value;
}

export async function handleUsage(req: IncomingMessage, res: ServerResponse, url: URL, deps: UsageApiDeps): Promise<void> {
  const policy = authorizedPolicy(req, res, url, deps);
  if (!policy || !deps.source) return;
  const q = url.searchParams;
  const headerValue = req.headers['x-tokenmeter-subject'];
  const value = q.get('subject') ?? (typeof headerValue === 'string' ? headerValue : undefined);
  const shared = /^(1|true|yes)$/i.test(q.get('shared') ?? '');
  const key = subjectKeyOf(policy, value, shared);
  if (!key.ok) return sendError(res, key.status, 'TM_REQUEST_INVALID', key.message);
  const tier = q.get('tier')?.trim().toLowerCase() || undefined;
  const tiers = tierNames(policy);
  if (tier !== undefined && !tiers.includes(tier)) {
    const known = tiers.length === 0 ? 'it has no tiers' : `its tiers are ${tiers.join(', ')}`;
    return sendError(res, 400, 'TM_REQUEST_INVALID', `policy ${policyKey(policy)} has no tier "${tier}": ${known}`);
  }
  const subject = { key: key.value, shared: shared || policy.subject === undefined, ...(tier === undefined ? {} : { tier }) };
  try {
    sendJson(res, 200, await usageReport(deps.source, policy, subject, q.get('model') ?? undefined));
  } catch (err) {
    if (!isTokenmeterError(err)) throw err;
    sendError(res, 503, err.code, `the counter store cannot answer: ${err.message}`);
  }
}
