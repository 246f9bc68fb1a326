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

/** Everything the CRD adds to the spec schema, by path relative to `spec`. */
export const SPEC_EXTRAS: Readonly<Record<string, PathExtras>> = {
  'limits': { rules: LIMITS },
  'limits[]': { rules: LIMIT },
  // The window pattern allows at most 7 characters (999999d); the cost estimator needs it said.
  'limits[].window': { rules: WINDOW, maxLength: 7 },
  'subject': { rules: SUBJECT },
  'targetRefs[].group': { rules: TARGET_GROUP },
  'pricing': { listMapKeys: ['model'] },
};
