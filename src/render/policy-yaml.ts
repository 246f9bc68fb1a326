/**
 * The TokenPolicy model → TokenPolicy YAML: the inverse of `parsePolicies` (src/policy/parse.ts). Every field is
 * written explicitly (defaults included, weights only for Weighted limits, all four prices), so parsing the output
 * gives back a model equal to the input, whatever the defaults become later. Key order is fixed, so equal models
 * give byte-identical YAML. Each document is one line of JSON (JSON is YAML): compact, because 1,000 policies must
 * fit in one ConfigMap (1 MiB), and parsed by `parsePolicies`' JSON fast path — a YAML parse of 1,000 policies
 * takes ~1.7 s on this machine, JSON.parse a few ms, and that time is the ext_proc's reload after every edit.
 */
import { API_VERSION, KIND } from '../policy/parse.js';
import type { Limit, Override, Subject, Tiers, TokenPolicy } from '../policy/types.js';

export interface SubjectSpec {
  from: Subject['from'];
  name?: string;
  trustedProxyHops?: number;
  onMissing: Subject['onMissing'];
}

export interface LimitSpec {
  name: string;
  tokens?: number;
  costUSD?: number;
  window: string;
  count?: string;
  weights?: { input: number; cachedInput: number; cacheWrite: number; output: number; reasoning: number };
  perModel: boolean;
}

/** A tier's or an override's limit: a changed budget (name + tokens or costUSD) or a whole added limit. */
export type LimitChangeSpec = Pick<LimitSpec, 'name' | 'tokens' | 'costUSD'> | LimitSpec;

export interface TiersSpec {
  selector: { from: string; name: string };
  default: string;
  onUnknown: string;
  plans: { name: string; limits: LimitChangeSpec[] }[];
}

/** An override, compact (1,000 of them may share one ConfigMap): no exempt when false, no limits when none. */
export interface OverrideSpec {
  subject: string;
  name?: string;
  exempt?: true;
  limits?: LimitChangeSpec[];
}

export interface TokenPolicySpec {
  targetRefs: { group: string; kind: string; name: string; sectionName?: string }[];
  hosts: string[];
  match: { paths: string[]; models: string[] };
  subject?: SubjectSpec;
  limits: LimitSpec[];
  reservation: { output: string; defaultMaxTokens: number; minOutputTokens: number };
  enforcement: { mode: string; failureMode: string };
  pricing: { model: string; input: number; cachedInput: number; cacheWrite: number; output: number }[];
  tiers?: TiersSpec;
  overrides?: OverrideSpec[];
}

export interface TokenPolicyDocument {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: { name: string; namespace?: string };
  spec: TokenPolicySpec;
}

function subjectSpec(s: Subject): SubjectSpec {
  switch (s.from) {
    case 'Header': return { from: s.from, name: s.header, onMissing: s.onMissing };
    case 'JWTClaim': return { from: s.from, name: s.claim, onMissing: s.onMissing };
    case 'ClientIP': return { from: s.from, trustedProxyHops: s.trustedProxyHops, onMissing: s.onMissing };
    case 'APIKey': return { from: s.from, onMissing: s.onMissing };
  }
}

function limitSpec(l: Limit): LimitSpec {
  if (l.kind === 'cost') return { name: l.name, costUSD: l.costUSD, window: l.window.text, perModel: l.perModel };
  const w = l.weights;
  return {
    name: l.name,
    tokens: l.tokens,
    window: l.window.text,
    count: l.count,
    ...(l.count === 'Weighted'
      ? { weights: { input: w.input, cachedInput: w.cachedInput, cacheWrite: w.cacheWrite, output: w.output, reasoning: w.reasoning } }
      : {}),
    perModel: l.perModel,
  };
}

/** A limit of a tier or override: only the budget when it changes a spec.limits limit (whose definition it shares). */
function changeSpec(l: Limit, base: ReadonlySet<string>): LimitChangeSpec {
  if (!base.has(l.name)) return limitSpec(l);
  return l.kind === 'cost' ? { name: l.name, costUSD: l.costUSD } : { name: l.name, tokens: l.tokens };
}

function tiersSpec(t: Tiers, base: ReadonlySet<string>): TiersSpec {
  const name = t.selector.from === 'Header' ? t.selector.header : t.selector.claim;
  return {
    selector: { from: t.selector.from, name }, default: t.default, onUnknown: t.onUnknown,
    plans: t.plans.map((p) => ({ name: p.name, limits: p.limits.map((l) => changeSpec(l, base)) })),
  };
}

function overrideSpec(o: Override, base: ReadonlySet<string>): OverrideSpec {
  return {
    subject: o.subject, ...(o.name === undefined ? {} : { name: o.name }), ...(o.exempt ? { exempt: true as const } : {}),
    ...(o.limits.length > 0 ? { limits: o.limits.map((l) => changeSpec(l, base)) } : {}),
  };
}

/** The spec of a policy, every field explicit. */
export function policySpec(p: TokenPolicy): TokenPolicySpec {
  return {
    targetRefs: p.targets.refs.map((r) => ({ group: r.group, kind: r.kind, name: r.name, ...(r.sectionName === undefined ? {} : { sectionName: r.sectionName }) })),
    hosts: [...p.targets.hosts],
    match: { paths: [...p.match.paths], models: [...p.match.models] },
    ...(p.subject === undefined ? {} : { subject: subjectSpec(p.subject) }),
    limits: p.limits.map(limitSpec),
    reservation: { output: p.reservation.output, defaultMaxTokens: p.reservation.defaultMaxTokens, minOutputTokens: p.reservation.minOutputTokens },
    enforcement: { mode: p.enforcement.mode, failureMode: p.enforcement.failureMode },
    pricing: p.pricing.map((o) => ({ model: o.model, input: o.input, cachedInput: o.cachedInput, cacheWrite: o.cacheWrite, output: o.output })),
    ...(p.tiers === undefined ? {} : { tiers: tiersSpec(p.tiers, new Set(p.limits.map((l) => l.name))) }),
    ...(p.overrides === undefined || p.overrides.length === 0 ? {} : { overrides: p.overrides.map((o) => overrideSpec(o, new Set(p.limits.map((l) => l.name)))) }),
  };
}

/** The TokenPolicy document (apiVersion, kind, metadata, spec) of a policy. */
export function policyDocument(p: TokenPolicy): TokenPolicyDocument {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: p.name, ...(p.namespace === undefined ? {} : { namespace: p.namespace }) },
    spec: policySpec(p),
  };
}

/** Lists written one item per line; every other spec field on one line. */

/**
 * One policy as a YAML document (no `---`). Values are written as JSON, which is YAML flow syntax: unambiguous
 * (every string double-quoted, so `*`, `yes` or `null` stay strings), compact, and about 100 times faster to produce
 * than through the yaml library's document model — which matters when 1,000 policies are rendered per reconcile.
 */
export function policyToYaml(p: TokenPolicy): string {
  return `${JSON.stringify(policyDocument(p))}\n`;
}

/** Policies as a multi-document YAML stream, in the given order; '' for none. */
/** Rendered documents, memoised per (immutable) policy model object. */
const documents = new WeakMap<TokenPolicy, string>();

export function policiesToYaml(policies: readonly TokenPolicy[]): string {
  return policies.map((p) => {
    let doc = documents.get(p);
    if (doc === undefined) {
      doc = `---\n${policyToYaml(p)}`;
      documents.set(p, doc);
    }
    return doc;
  }).join('');
}
