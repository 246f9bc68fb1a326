/**
 * Optional (envoyGateway.rateLimit: BackendTrafficPolicy): a TokenPolicy's token limits as Envoy Gateway global
 * rate-limit rules, for teams that prefer Envoy Gateway's own limiter (envoyproxy/ratelimit + Redis) to tokenmeter's
 * budgets. Each rule checks at request time with cost 0 and charges, when the stream ends, the token count
 * tokenmeter wrote in dynamic metadata (io.tokenmeter: total_tokens, input_tokens or output_tokens).
 *
 * That limiter is not tokenmeter's: it reserves nothing (concurrent requests overshoot together), counts fixed
 * windows of one unit aligned to the Unix epoch, and keys on request attributes only. So a limit is rendered only
 * when it means the same thing there, and every other limit is reported in `skipped` with the reason:
 * - windows: 1s, 1m, 1h, 1d (and calendar Day), 7d, 30d, 365d map to Second … Year (ratelimit's Week, Month and
 *   Year are 7, 30 and 365 days from the epoch, so calendar Week and Month cannot be expressed);
 * - count Input, Output, Total (from the matching metadata key); not Weighted, not costUSD;
 * - not perModel (the model is in the body), at most 4294967295 tokens;
 * - policy: subject absent, Header (Distinct header) or ClientIP (Distinct source CIDR, one rule per address
 *   family); not APIKey (the limiter would key Redis on the raw credential) nor JWTClaim; no hosts or model
 *   filters; at most one path prefix (rules count separately, so several prefixes would split one budget).
 * Rules are `shared` (one counter across all the policy's targets, as tokenmeter counts) and in DryRun `shadowMode`.
 * Differences that remain even then: a request without the subject header is not limited (tokenmeter: onMissing);
 * the ClientIP is the one Envoy Gateway's client IP detection gives (ClientTrafficPolicy), not trustedProxyHops;
 * and on a target several policies share, Envoy Gateway applies only the oldest BackendTrafficPolicy (sharedTargets).
 */
import { pathHasPrefix } from '../policy/match.js';
import type { Limit, TokenLimit, TokenPolicy } from '../policy/types.js';
import { EG_API_VERSION, routeMergeType, targetRefs, type PolicyTargetRef } from './envoy-gateway.js';
import { METADATA_NAMESPACE } from './ext-proc-filter.js';
import { policyMeta, type AcceptedPolicy, type RenderedObject } from './meta.js';
import type { OperatorSettings } from './settings.js';

export type RateLimitUnit = 'Second' | 'Minute' | 'Hour' | 'Day' | 'Week' | 'Month' | 'Year';

interface ClientSelector {
  headers?: { name: string; type: 'Distinct' }[];
  sourceCIDR?: { type: 'Distinct'; value: string };
  path?: { type: 'PathPrefix'; value: string };
}

export interface RateLimitRule {
  clientSelectors?: ClientSelector[];
  limit: { requests: number; unit: RateLimitUnit };
  cost: {
    request: { from: 'Number'; number: number };
    response: { from: 'Metadata'; metadata: { namespace: string; key: string } };
  };
  shared: boolean;
  shadowMode?: boolean;
}

export interface BackendTrafficPolicySpec {
  targetRefs: PolicyTargetRef[];
  mergeType?: 'StrategicMerge';
  rateLimit: { global: { rules: RateLimitRule[] } };
}

export type BackendTrafficPolicy = RenderedObject<BackendTrafficPolicySpec>;

export interface SkippedLimit {
  /** `namespace/name` of the policy. */
  policy: string;
  /** The limit's name; '*' when the reason is the whole policy's. */
  limit: string;
  reason: string;
}

export interface RateLimitRender {
  /** undefined when no limit could be expressed. */
  backendTrafficPolicy?: BackendTrafficPolicy;
  skipped: SkippedLimit[];
}

const DAY = 86_400_000;
const UNIT_BY_MS = new Map<number, RateLimitUnit>([
  [1000, 'Second'], [60_000, 'Minute'], [3_600_000, 'Hour'], [DAY, 'Day'], [7 * DAY, 'Week'], [30 * DAY, 'Month'], [365 * DAY, 'Year'],
]);
const METADATA_KEY = { Input: 'input_tokens', Output: 'output_tokens', Total: 'total_tokens' } as const;
const MAX_REQUESTS = 4_294_967_295;

/** The unit a window maps to, or why it cannot be expressed. */
export function rateLimitUnit(window: Limit['window']): { unit: RateLimitUnit } | { reason: string } {
  if (window.kind === 'calendar') {
    if (window.unit === 'Day') return { unit: 'Day' };
    const days = window.unit === 'Week' ? 7 : 30;
    return {
      reason: `window ${window.unit}: Envoy Gateway's ${window.unit} is ${days} days from the Unix epoch, ` +
        `not a calendar ${window.unit.toLowerCase()} (use ${days}d)`,
    };
  }
  const unit = UNIT_BY_MS.get(window.ms);
  return unit ? { unit } : { reason: `window ${window.text}: Envoy Gateway counts one unit (1s, 1m, 1h, 1d, 7d, 30d or 365d)` };
}

/** Why the whole policy cannot be expressed, if it cannot. */
function policyReason(p: TokenPolicy, paths: readonly string[]): string | undefined {
  if (p.targets.refs.length === 0) return 'no targetRefs: Envoy Gateway attaches policies through targetRefs';
  if (p.targets.hosts.length > 0) return 'hosts: Envoy Gateway rules cannot match host globs';
  if (p.match.models.length > 0) return 'match.models: the model is in the request body, which rate-limit rules cannot read';
  if (paths.length > 1) return 'match.paths: several prefixes would be counted separately by Envoy Gateway, splitting one budget';
  if (p.subject?.from === 'APIKey') return 'subject APIKey: Envoy Gateway would key its counters on the raw credential';
  if (p.subject?.from === 'JWTClaim') return 'subject JWTClaim: Envoy Gateway rules cannot key on a JWT claim';
  return undefined;
}

/** The limit with its unit when Envoy Gateway can count it, else why not. */
function expressible(l: Limit): { limit: TokenLimit; unit: RateLimitUnit } | { reason: string } {
  if (l.kind === 'cost') return { reason: 'costUSD: Envoy Gateway counts tokens, not dollars' };
  if (l.count === 'Weighted') return { reason: 'count Weighted: only Input, Output or Total token counts are written to metadata' };
  if (l.perModel) return { reason: 'perModel: the model is in the request body, which rate-limit rules cannot read' };
  if (l.tokens > MAX_REQUESTS) return { reason: `tokens ${l.tokens}: above Envoy Gateway's maximum of ${MAX_REQUESTS}` };
  const u = rateLimitUnit(l.window);
  return 'unit' in u ? { limit: l, unit: u.unit } : u;
}

/** Path prefixes with those covered by a shorter one dropped (a request matching both is counted once). */
export function minimalPrefixes(paths: readonly string[]): string[] {
  const out = [...new Set(paths)].filter((p, _, all) => !all.some((q) => q !== p && pathHasPrefix(p, q)));
  return out.sort();
}

/** The client selector variants of a policy: one per rule to render ([undefined] = no selector). */
function selectors(p: TokenPolicy, path: string | undefined): (ClientSelector | undefined)[] {
  const pathSel = path === undefined ? {} : { path: { type: 'PathPrefix' as const, value: path } };
  const subject = p.subject;
  if (subject?.from === 'Header') return [{ headers: [{ name: subject.header, type: 'Distinct' }], ...pathSel }];
  if (subject?.from === 'ClientIP') {
    return ['0.0.0.0/0', '::/0'].map((value) => ({ sourceCIDR: { type: 'Distinct', value }, ...pathSel }));
  }
  return [path === undefined ? undefined : pathSel];
}

function rules(p: TokenPolicy, l: TokenLimit, unit: RateLimitUnit, path: string | undefined): RateLimitRule[] {
  return selectors(p, path).map((sel) => ({
    ...(sel === undefined ? {} : { clientSelectors: [sel] }),
    limit: { requests: l.tokens, unit },
    cost: {
      request: { from: 'Number', number: 0 },
      response: { from: 'Metadata', metadata: { namespace: METADATA_NAMESPACE, key: METADATA_KEY[l.count as keyof typeof METADATA_KEY] } },
    },
    shared: true,
    ...(p.enforcement.mode === 'DryRun' ? { shadowMode: true } : {}),
  }));
}

/** The BackendTrafficPolicy of one policy and the limits it could not express. */
export function renderBackendTrafficPolicy(a: AcceptedPolicy, s: OperatorSettings): RateLimitRender {
  const p = a.policy;
  const key = `${a.identity.namespace}/${a.identity.name}`;
  const paths = minimalPrefixes(p.match.paths);
  const whole = policyReason(p, paths);
  if (whole !== undefined) return { skipped: [{ policy: key, limit: '*', reason: whole }] };
  const skipped: SkippedLimit[] = [];
  const out: RateLimitRule[] = [];
  for (const l of p.limits) {
    const e = expressible(l);
    if ('reason' in e) skipped.push({ policy: key, limit: l.name, reason: e.reason });
    else out.push(...rules(p, e.limit, e.unit, paths[0]));
  }
  if (out.length === 0) return { skipped };
  return {
    backendTrafficPolicy: {
      apiVersion: EG_API_VERSION,
      kind: 'BackendTrafficPolicy',
      metadata: policyMeta(a.identity, s),
      spec: { targetRefs: targetRefs(p.targets.refs), ...routeMergeType(p.targets.refs, s), rateLimit: { global: { rules: out } } },
    },
    skipped,
  };
}

