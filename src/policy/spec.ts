/**
 * A TokenPolicy spec → the validated model: schema validation (`schema.ts`), then the rules that span fields, then
 * defaults that depend on other fields. Cross-field rules run once the schema checks pass, so their messages never
 * talk about values that are themselves malformed.
 */
import type { Infer } from './schema-dialect.js';
import { SPEC_SCHEMA } from './schema.js';
import type { LIMIT_SCHEMA, SUBJECT_SCHEMA } from './schema.js';
import type { Limit, PriceOverride, Subject, TokenPolicy, Weights } from './types.js';
import { validate, type FieldError } from './validate.js';
import { overridePrice } from './prices.js';
import { parseWindow } from './windows.js';

type RawSpec = Infer<typeof SPEC_SCHEMA>;
type RawLimit = Infer<typeof LIMIT_SCHEMA>;
type RawSubject = Infer<typeof SUBJECT_SCHEMA>;

const UNIT_WEIGHTS: Weights = { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 };

function limitModel(l: RawLimit, path: string, errors: FieldError[]): Limit | undefined {
  const window = parseWindow(l.window);
  if (!window) errors.push({ path: `${path}.window`, message: `must be at most 366d, got ${JSON.stringify(l.window)}` });
  const hasTokens = l.tokens !== undefined;
  if (hasTokens === (l.costUSD !== undefined)) {
    errors.push({ path, message: `set exactly one of tokens and costUSD, got ${hasTokens ? 'both' : 'neither'}` });
    return undefined;
  }
  const count = l.count ?? 'Total';
  if (l.costUSD !== undefined && l.count !== undefined) {
    errors.push({ path: `${path}.count`, message: 'only for token limits: a costUSD limit prices each kind of token' });
  }
  if (l.weights !== undefined && count !== 'Weighted') {
    errors.push({ path: `${path}.weights`, message: `only allowed with count: Weighted, got count: ${count}` });
  }
  if (!window) return undefined;
  const base = { name: l.name, window, perModel: l.perModel };
  if (l.costUSD !== undefined) return { ...base, kind: 'cost', costUSD: l.costUSD };
  const w = l.weights ?? {};
  const input = w.input ?? 1;
  const output = w.output ?? 1;
  const weights: Weights = count === 'Weighted'
    ? { input, cachedInput: w.cachedInput ?? 1, cacheWrite: w.cacheWrite ?? input, output, reasoning: w.reasoning ?? output }
    : { ...UNIT_WEIGHTS };
  return { ...base, kind: 'tokens', tokens: l.tokens ?? 0, count, weights };
}

function subjectModel(s: RawSubject, errors: FieldError[]): Subject | undefined {
  const needsName = s.from === 'Header' || s.from === 'JWTClaim';
  if (needsName && s.name === undefined) errors.push({ path: 'spec.subject.name', message: `required when from is ${s.from}` });
  if (!needsName && s.name !== undefined) {
    errors.push({ path: 'spec.subject.name', message: `only for from: Header or JWTClaim, got from: ${s.from}` });
  }
  if (s.trustedProxyHops !== undefined && s.from !== 'ClientIP') {
    errors.push({ path: 'spec.subject.trustedProxyHops', message: `only for from: ClientIP, got from: ${s.from}` });
  }
  if (s.hashInLedger === true && !needsName) {
    errors.push({ path: 'spec.subject.hashInLedger', message: `only for from: Header or JWTClaim (${s.from} subjects are always recorded as a hash)` });
  }
  const hashed = s.hashInLedger === true ? { hashInLedger: true } : {};
  const name = s.name ?? '';
  if (s.from === 'Header' && s.name !== undefined && !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
    errors.push({ path: 'spec.subject.name', message: `expected an HTTP header name, got ${JSON.stringify(name)}` });
  }
  if (s.from === 'JWTClaim' && s.name !== undefined && !/^[^.\s]+(\.[^.\s]+)*$/.test(name)) {
    errors.push({ path: 'spec.subject.name', message: `expected a claim path like org.id, got ${JSON.stringify(name)}` });
  }
  switch (s.from) {
    case 'Header': return { from: 'Header', header: name.toLowerCase(), onMissing: s.onMissing, ...hashed };
    case 'JWTClaim': return { from: 'JWTClaim', claim: name, onMissing: s.onMissing, ...hashed };
    case 'ClientIP': return { from: 'ClientIP', trustedProxyHops: s.trustedProxyHops ?? 0, onMissing: s.onMissing };
    case 'APIKey': return { from: 'APIKey', onMissing: s.onMissing };
  }
}

function duplicates(values: readonly string[], path: (i: number) => string, what: string, errors: FieldError[]): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) errors.push({ path: path(i), message: `duplicate ${what} ${JSON.stringify(v)}` });
    seen.add(v);
  });
}

function pricingModel(spec: RawSpec, errors: FieldError[]): PriceOverride[] {
  duplicates(spec.pricing.map((p) => p.model.toLowerCase()), (i) => `spec.pricing[${i}].model`, 'model', errors);
  return spec.pricing.map((p) => overridePrice(p));
}

/**
 * Validates a spec and builds the policy. `meta` comes from the (already checked) metadata. Returns the policy only
 * when there are no errors; error paths start at `spec`.
 */
export function buildPolicy(meta: { name: string; namespace?: string }, rawSpec: unknown): { policy?: TokenPolicy; errors: FieldError[] } {
  if (rawSpec === undefined || rawSpec === null) return { errors: [{ path: 'spec', message: 'required' }] };
  const checked = validate(SPEC_SCHEMA, rawSpec, 'spec');
  if (checked.errors.length > 0) return { errors: checked.errors };
  const spec = checked.value as RawSpec; // conforms: validate() reported no error
  const errors: FieldError[] = [];
  duplicates(spec.limits.map((l) => l.name), (i) => `spec.limits[${i}].name`, 'limit name', errors);
  const limits = spec.limits.map((l, i) => limitModel(l, `spec.limits[${i}]`, errors));
  const subject = spec.subject ? subjectModel(spec.subject, errors) : undefined;
  const pricing = pricingModel(spec, errors);
  if (errors.length > 0) return { errors };
  const policy: TokenPolicy = {
    name: meta.name,
    targets: {
      refs: spec.targetRefs.map((r) => ({ group: r.group, kind: r.kind, name: r.name, ...(r.sectionName ? { sectionName: r.sectionName } : {}) })),
      hosts: spec.hosts.map((h) => h.toLowerCase()),
    },
    match: { paths: spec.match.paths, models: spec.match.models },
    limits: limits.filter((l): l is Limit => l !== undefined),
    reservation: { output: spec.reservation.output, defaultMaxTokens: spec.reservation.defaultMaxTokens },
    enforcement: { mode: spec.enforcement.mode, failureMode: spec.enforcement.failureMode },
    pricing,
  };
  if (meta.namespace !== undefined) policy.namespace = meta.namespace;
  if (subject) policy.subject = subject;
  return { policy, errors };
}
