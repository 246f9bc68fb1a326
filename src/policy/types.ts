/**
 * The validated TokenPolicy model: plain data, no Kubernetes dependency. `parse.ts` builds it from TokenPolicy YAML
 * (tokenmeter.dev/v1alpha1); the operator will build the same shape from the custom resource. The YAML shape and its
 * bounds/defaults are described once, in `schema.ts` (reused by the CRD generator); this file is what the data plane
 * uses after validation: every default applied, durations parsed, cross-field rules checked.
 */

/** UTC-aligned fixed window. `fixed`: a duration, windows start at multiples of it since the Unix epoch. */
export type WindowSpec =
  | { kind: 'fixed'; ms: number; /** canonical text, e.g. "1m" for both "60s" and "1m" */ text: string }
  | { kind: 'calendar'; unit: CalendarUnit; text: CalendarUnit };

/** Calendar windows in UTC: Day (00:00), Week (ISO: Monday 00:00), Month (the 1st, 00:00). */
export type CalendarUnit = 'Day' | 'Week' | 'Month';

/** What a token limit counts. See `charge.ts` for the exact arithmetic. */
export type CountMode = 'Input' | 'Output' | 'Total' | 'Weighted';

/**
 * Multipliers of a Weighted limit, per token kind. Uncached input, cache writes, cached (read) input, visible output
 * and reasoning output are disjoint, so every token is weighted exactly once.
 */
export interface Weights {
  /** Uncached input tokens (input − cached − cache writes). Default 1. */
  input: number;
  /** Cached (cache read) input tokens. Default 1. */
  cachedInput: number;
  /** Cache-write input tokens (Anthropic cache_creation_input_tokens). Default: the input weight. */
  cacheWrite: number;
  /** Output tokens that are not reasoning tokens. Default 1. */
  output: number;
  /** Reasoning (thinking) output tokens. Default: the output weight. */
  reasoning: number;
}

interface LimitBase {
  /** Unique within the policy (DNS label); used in counter keys, metrics and headers. */
  name: string;
  window: WindowSpec;
  /** true: one counter per (subject, model); false: one per subject across models. */
  perModel: boolean;
}

/** A budget in tokens. */
export interface TokenLimit extends LimitBase {
  kind: 'tokens';
  tokens: number;
  count: CountMode;
  /** Always set; all 1 unless count is Weighted (weights are only accepted with Weighted). */
  weights: Weights;
}

/** A budget in US dollars, priced from the policy's pricing overrides, then the built-in prices. */
export interface CostLimit extends LimitBase {
  kind: 'cost';
  costUSD: number;
}

export type Limit = TokenLimit | CostLimit;

/** Where the counter key of a request comes from. */
export type SubjectFrom = 'Header' | 'ClientIP' | 'APIKey' | 'JWTClaim';

/** What to do when the request has no subject value: reject it (401 for credentials, else 400) or share one key. */
export type OnMissing = 'Reject' | 'Shared';

export type Subject =
  | { from: 'Header'; /** lower-case header name */ header: string; onMissing: OnMissing; /** ledger: hash, not the value */ hashInLedger?: boolean }
  | { from: 'ClientIP'; /** proxies in front of Envoy that append to x-forwarded-for; 0 = ignore XFF */ trustedProxyHops: number; onMissing: OnMissing }
  | { from: 'APIKey'; onMissing: OnMissing }
  | { from: 'JWTClaim'; /** dot-separated path in the (unverified) JWT payload */ claim: string; onMissing: OnMissing; hashInLedger?: boolean };

/** How much output a request reserves before it goes upstream (input is counted exactly). */
export type OutputReservation = 'MaxTokens' | 'Observed' | 'None' | 'Clamp';

export interface Reservation {
  output: OutputReservation;
  /** Output tokens reserved when the request names no cap (MaxTokens), or no p95 is known yet (Observed). */
  defaultMaxTokens: number;
  /** Observed: the least output reserved. Clamp: the smallest cap written; below it the request is refused. */
  minOutputTokens: number;
}

export interface Enforcement {
  /** DryRun never rejects; it reports what would have been rejected. */
  mode: 'Enforce' | 'DryRun';
  /** When the counter store is unreachable: Open lets requests through, Closed rejects them with 503. */
  failureMode: 'Open' | 'Closed';
}

/** USD per million tokens. */
export interface Price {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
}

/** A policy price override: `model` is an exact name or, ending in `*`, a prefix. */
export interface PriceOverride extends Price {
  model: string;
}

/** Gateway API policy attachment target, resolved by the operator (see `Targets`). */
export interface TargetRef {
  group: string;
  kind: string;
  name: string;
  sectionName?: string;
}

/**
 * Which traffic a policy is attached to.
 * - `refs` (Kubernetes): Gateway API targetRefs. The operator resolves them and marks the routes in Envoy (route
 *   metadata); a request that carries that marking (`MatchInput.attachedPolicies`) matches a policy with refs only
 *   when the policy is named there. Without any marking (local mode) refs are not resolvable and are ignored.
 * - `hosts` (both modes): globs on the request's :authority (port stripped, case-insensitive, `*` any run of
 *   characters, `?` one). Empty = every host.
 * Paths and models narrow further through `PolicyMatch`.
 */
export interface Targets {
  refs: TargetRef[];
  hosts: string[];
}

/** Optional narrowing: path prefixes (segment-wise, Gateway API PathPrefix) and model globs. Empty = any. */
export interface PolicyMatch {
  paths: string[];
  models: string[];
}

/** Where a request names its tier. */
export type TierSelector = { from: 'Header'; /** lower-case header name */ header: string } | { from: 'JWTClaim'; claim: string };

/** One plan tier: its limits as written (changes of spec.limits budgets and added limits, as full Limit objects). */
export interface Tier {
  name: string;
  limits: Limit[];
}

export interface Tiers {
  selector: TierSelector;
  /** Name of the tier of requests that name none (one of `plans`). */
  default: string;
  /** A value naming no tier: the default tier, or a 400. */
  onUnknown: 'Default' | 'Reject';
  plans: Tier[];
}

/**
 * Other limits for one subject. `limits` holds full Limit objects: a changed budget of a spec.limits limit keeps that
 * limit's definition (same counter), an added limit its own.
 */
export interface Override {
  /** As written: the subject value, or for APIKey subjects the 16-hex-digit log id. */
  subject: string;
  name?: string;
  exempt: boolean;
  limits: Limit[];
}

export interface TokenPolicy {
  name: string;
  namespace?: string;
  targets: Targets;
  match: PolicyMatch;
  /** Absent: one budget shared by all matching requests (key `(all)`). */
  subject?: Subject;
  limits: Limit[];
  reservation: Reservation;
  enforcement: Enforcement;
  pricing: PriceOverride[];
  /** Plan tiers (absent: every subject gets `limits`, changed only by its override). */
  tiers?: Tiers;
  /** Per-subject overrides (absent when there are none). Resolved by `src/policy/resolve.ts`. */
  overrides?: Override[];
}

/** One problem found while reading policies. `toString()` is the full message, e.g. `p: spec.limits[1].window: …`. */
export interface PolicyError {
  /** File or other source name, when known. */
  source?: string;
  /** Policy name (namespace/name when namespaced), `#N` (document number) when it has none, '' for file errors. */
  policy: string;
  /** Field path, e.g. `spec.limits[1].window`; empty for document-level errors. */
  path: string;
  message: string;
}

export interface ParseResult {
  policies: TokenPolicy[];
  errors: PolicyError[];
}

/** The display key of a policy: `namespace/name`, or `name` when not namespaced. */
export function policyKey(p: { name: string; namespace?: string }): string {
  return p.namespace ? `${p.namespace}/${p.name}` : p.name;
}

/** Formats a policy error as one line, `source: policy: path: message`, leaving out the empty parts. */
export function formatPolicyError(e: PolicyError): string {
  return [e.source, e.policy, e.path, e.message].filter((part) => part !== undefined && part !== '').join(': ');
}
