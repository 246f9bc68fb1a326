/**
 * A TokenPolicy spec → the validated model: schema validation (`schema.ts`), then the rules that span fields, then
 * defaults that depend on other fields. Cross-field rules run once the schema checks pass, so their messages never
 * talk about values that are themselves malformed.
 */
import type { Infer } from './schema-dialect.js';
import { SPEC_SCHEMA } from './schema.js';
import type { SUBJECT_SCHEMA } from './schema.js';
import type { Limit, PriceOverride, Subject, TokenPolicy } from './types.js';
import { duplicates, limitModel, selectorNameRules } from './limit-spec.js';
import { validate, type FieldError } from './validate.js';
import { overridePrice } from './prices.js';
import { plansModel } from './plan-spec.js';

type RawSpec = Infer<typeof SPEC_SCHEMA>;
type RawSubject = Infer<typeof SUBJECT_SCHEMA>;

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
  selectorNameRules(s.from, s.name, 'spec.subject.name', errors);
  switch (s.from) {
    case 'Header': return { from: 'Header', header: name.toLowerCase(), onMissing: s.onMissing, ...hashed };
    case 'JWTClaim': return { from: 'JWTClaim', claim: name, onMissing: s.onMissing, ...hashed };
    case 'ClientIP': return { from: 'ClientIP', trustedProxyHops: s.trustedProxyHops ?? 0, onMissing: s.onMissing };
    case 'APIKey': return { from: 'APIKey', onMissing: s.onMissing };
  }
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
  // Tiers and overrides change the limits by name: only meaningful once spec.limits are valid.
  const plans = errors.length === 0 ? plansModel(spec, subject, limits.filter((l): l is Limit => l !== undefined), errors) : {};
  if (errors.length > 0) return { errors };
  const policy: TokenPolicy = {
    name: meta.name,
    targets: {
      refs: spec.targetRefs.map((r) => ({ group: r.group, kind: r.kind, name: r.name, ...(r.sectionName ? { sectionName: r.sectionName } : {}) })),
      hosts: spec.hosts.map((h) => h.toLowerCase()),
    },
    match: { paths: spec.match.paths, models: spec.match.models },
    limits: limits.filter((l): l is Limit => l !== undefined),
    reservation: { output: spec.reservation.output, defaultMaxTokens: spec.reservation.defaultMaxTokens, minOutputTokens: spec.reservation.minOutputTokens },
    enforcement: { mode: spec.enforcement.mode, failureMode: spec.enforcement.failureMode },
    pricing,
  };
  if (meta.namespace !== undefined) policy.namespace = meta.namespace;
  if (subject) policy.subject = subject;
  if (plans.tiers) policy.tiers = plans.tiers;
  if (plans.overrides && plans.overrides.length > 0) policy.overrides = plans.overrides;
  return { policy, errors };
}
