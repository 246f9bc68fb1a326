/**
 * The TokenPolicy cross-field rules as CEL `x-kubernetes-validations`, keyed by path relative to `spec` (`limits[]`
 * is every limit). They mirror `src/policy/spec.ts` rule for rule, with the same words, so `kubectl apply` and the
 * data plane tell a user the same thing; `src/crd/*.test.ts` evaluates them on the sample policies.
 *
 * CEL cost: every list and string they touch is bounded (maxItems/maxLength/enum), which is what lets the apiserver
 * accept them. The dearest, unique limit names, is 32 × 32 comparisons of 63-character names. Pricing models are kept
 * unique by `x-kubernetes-list-type: map` instead (exact match, no CEL cost): a case-insensitive CEL check over 256
 * entries of 256 characters would exceed the per-rule cost limit.
 */
import { LOG_ID, MESSAGES } from '../policy/plan-spec.js';
import type { PathExtras, ValidationRule } from './openapi.js';

/** Longest fixed window the data plane accepts (`MAX_FIXED_WINDOW_MS` in src/policy/windows.ts), in seconds. */
const MAX_WINDOW_SECONDS = 366 * 86400;
const DURATION = '^[1-9][0-9]{0,5}[smhd]$';

const LIMITS: ValidationRule[] = [{
  rule: 'self.all(l, self.exists_one(m, m.name == l.name))',
  message: 'duplicate limit name',
  messageExpression: `'duplicate limit name "' + self.filter(l, !self.exists_one(m, m.name == l.name))[0].name + '"'`,
}];

const LIMIT: ValidationRule[] = [
  {
    rule: 'has(self.tokens) != has(self.costUSD)',
    message: 'set exactly one of tokens and costUSD',
    messageExpression: `'set exactly one of tokens and costUSD, got ' + (has(self.tokens) ? 'both' : 'neither')`,
  },
  {
    rule: '!has(self.costUSD) || !has(self.count)',
    message: 'only for token limits: a costUSD limit prices each kind of token',
    fieldPath: '.count', reason: 'FieldValueForbidden',
  },
  {
    rule: `!has(self.weights) || (has(self.count) && self.count == 'Weighted')`,
    message: 'only allowed with count: Weighted',
    messageExpression: `'only allowed with count: Weighted, got count: ' + (has(self.count) ? self.count : 'Total')`,
    fieldPath: '.weights', reason: 'FieldValueForbidden',
  },
];

const WINDOW: ValidationRule[] = [{
  rule: `!self.matches('${DURATION}') || ` +
    `int(self.substring(0, size(self) - 1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[self.substring(size(self) - 1)] <= ${MAX_WINDOW_SECONDS}`,
  message: 'must be at most 366d',
}];

const NAMED = `self.from in ['Header', 'JWTClaim']`;

const SUBJECT: ValidationRule[] = [
  {
    rule: `!(${NAMED}) || has(self.name)`,
    message: 'required when from is Header or JWTClaim',
    messageExpression: `'required when from is ' + self.from`,
    fieldPath: '.name', reason: 'FieldValueRequired',
  },
  {
    rule: `${NAMED} || !has(self.name)`,
    message: 'only for from: Header or JWTClaim',
    messageExpression: `'only for from: Header or JWTClaim, got from: ' + self.from`,
    fieldPath: '.name', reason: 'FieldValueForbidden',
  },
  {
    rule: `self.from != 'Header' || !has(self.name) || self.name.matches("^[A-Za-z0-9!#$%&'*+.^_\`|~-]+$")`,
    message: 'expected an HTTP header name',
    messageExpression: `'expected an HTTP header name, got "' + self.name + '"'`,
    fieldPath: '.name',
  },
  {
    rule: `self.from != 'JWTClaim' || !has(self.name) || self.name.matches(r'^[^.\\s]+(\\.[^.\\s]+)*$')`,
    message: 'expected a claim path like org.id',
    messageExpression: `'expected a claim path like org.id, got "' + self.name + '"'`,
    fieldPath: '.name',
  },
  {
    rule: `!has(self.trustedProxyHops) || self.from == 'ClientIP'`,
    message: 'only for from: ClientIP',
    messageExpression: `'only for from: ClientIP, got from: ' + self.from`,
    fieldPath: '.trustedProxyHops', reason: 'FieldValueForbidden',
  },
];

const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

const TARGET_GROUP: ValidationRule[] = [{
  rule: `self == '${GATEWAY_API_GROUP}'`,
  message: `must be ${GATEWAY_API_GROUP}: Gateway, HTTPRoute and GRPCRoute are Gateway API kinds`,
}];

/** A tier's or an override's limit: the rules of a limit, and no counter definition on a budget change. */
const CHANGE: ValidationRule[] = [...LIMIT, {
  rule: 'has(self.window) || (!has(self.count) && !has(self.weights) && !has(self.perModel))',
  message: MESSAGES.changeOnly,
}];

const TIERS: ValidationRule[] = [{
  rule: 'self.plans.exists(p, p.name == self.default)',
  message: MESSAGES.defaultTier,
  messageExpression: `'${MESSAGES.defaultTier}, got "' + self.default + '"'`,
  fieldPath: '.default',
}];

/** The subject's header-name and claim-path rules, for the tier selector. */
const SELECTOR = SUBJECT.filter((r) => r.rule.includes('.matches(')).map((r) => ({ ...r, rule: r.rule.replace(' || !has(self.name)', '') }));

const OVERRIDE: ValidationRule[] = [
  {
    rule: '!(has(self.exempt) && self.exempt) || !has(self.limits) || size(self.limits) == 0',
    message: MESSAGES.exemptWithLimits, fieldPath: '.limits', reason: 'FieldValueForbidden',
  },
  { rule: '(has(self.exempt) && self.exempt) || (has(self.limits) && size(self.limits) > 0)', message: MESSAGES.limitsOrExempt },
];

/**
 * Entries of tiers and overrides against spec.limits: without a window an entry changes the budget of the limit of
 * its name (which must exist, in the same unit); with one it adds a limit under a new name. Estimated cost of the
 * overrides rule: 1,000 overrides × 4 entries × 32 limits × a 63-character name comparison, about 4M of the 10M
 * an expression may cost. That added limits agree wherever the same name is added is left to the data plane (an
 * overrides × tiers comparison would exceed the budget).
 */
const ENTRY = (l: string): string =>
  `has(${l}.window) ? !self.limits.exists(b, b.name == ${l}.name) : self.limits.exists(b, b.name == ${l}.name && has(b.tokens) == has(${l}.tokens))`;
const ENTRY_MESSAGE = 'a limit without window changes the budget of the spec.limits limit of its name (which must exist; same unit), ' +
  'a limit with a window adds one under a new name';

const SPEC: ValidationRule[] = [
  {
    rule: '!has(self.overrides) || size(self.overrides) == 0 || has(self.subject)',
    message: MESSAGES.overridesNeedSubject, fieldPath: '.overrides', reason: 'FieldValueForbidden',
  },
  {
    rule: `!has(self.subject) || self.subject.from != 'APIKey' || !has(self.overrides) || self.overrides.all(o, o.subject.matches('${LOG_ID.source}'))`,
    message: MESSAGES.apiKeySubject, fieldPath: '.overrides',
  },
  { rule: `!has(self.overrides) || self.overrides.all(o, !has(o.limits) || o.limits.all(l, ${ENTRY('l')}))`, message: ENTRY_MESSAGE, fieldPath: '.overrides' },
  { rule: `!has(self.tiers) || self.tiers.plans.all(p, !has(p.limits) || p.limits.all(l, ${ENTRY('l')}))`, message: ENTRY_MESSAGE, fieldPath: '.tiers' },
];

/** Everything the CRD adds to the spec schema, by path relative to `spec`. */
export const SPEC_EXTRAS: Readonly<Record<string, PathExtras>> = {
  'limits': { rules: LIMITS },
  'limits[]': { rules: LIMIT },
  // The window pattern allows at most 7 characters (999999d); the cost estimator needs it said.
  'limits[].window': { rules: WINDOW, maxLength: 7 },
  'subject': { rules: SUBJECT },
  'targetRefs[].group': { rules: TARGET_GROUP },
  'pricing': { listMapKeys: ['model'] },
  '': { rules: SPEC },
  'tiers': { rules: TIERS },
  'tiers.selector': { rules: SELECTOR },
  'tiers.plans': { listMapKeys: ['name'] },
  'tiers.plans[].limits': { rules: LIMITS },
  'tiers.plans[].limits[]': { rules: CHANGE },
  'tiers.plans[].limits[].window': { rules: WINDOW, maxLength: 7 },
  'overrides': { listMapKeys: ['subject'] },
  'overrides[]': { rules: OVERRIDE },
  'overrides[].limits': { rules: LIMITS },
  'overrides[].limits[]': { rules: CHANGE },
  'overrides[].limits[].window': { rules: WINDOW, maxLength: 7 },
};
