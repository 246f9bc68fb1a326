/**
 * The rules every limit entry of a TokenPolicy follows (spec.limits, tiers, overrides) and small helpers the spec
 * builders share. Messages are the ones the CRD's CEL rules (src/crd/rules.ts) repeat word for word.
 */
import type { Infer } from './schema-dialect.js';
import type { LIMIT_SCHEMA } from './schema.js';
import type { Limit, Weights } from './types.js';
import type { FieldError } from './validate.js';
import { parseWindow } from './windows.js';

export type RawLimit = Infer<typeof LIMIT_SCHEMA>;

const UNIT_WEIGHTS: Weights = { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 };

/** The field rules every limit entry follows (spec.limits, tiers, overrides); false when it names no one budget. */
export function budgetRules(l: Pick<RawLimit, 'tokens' | 'costUSD' | 'count' | 'weights'>, path: string, errors: FieldError[]): boolean {
  const hasTokens = l.tokens !== undefined;
  if (hasTokens === (l.costUSD !== undefined)) {
    errors.push({ path, message: `set exactly one of tokens and costUSD, got ${hasTokens ? 'both' : 'neither'}` });
    return false;
  }
  if (l.costUSD !== undefined && l.count !== undefined) {
    errors.push({ path: `${path}.count`, message: 'only for token limits: a costUSD limit prices each kind of token' });
  }
  if (l.weights !== undefined && (l.count ?? 'Total') !== 'Weighted') {
    errors.push({ path: `${path}.weights`, message: `only allowed with count: Weighted, got count: ${l.count ?? 'Total'}` });
  }
  return true;
}

export function limitModel(l: RawLimit, path: string, errors: FieldError[]): Limit | undefined {
  const window = parseWindow(l.window);
  if (!window) errors.push({ path: `${path}.window`, message: `must be at most 366d, got ${JSON.stringify(l.window)}` });
  if (!budgetRules(l, path, errors)) return undefined;
  const count = l.count ?? 'Total';
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

/** Header names and claim paths (subject and tier selector): the same rules and words. */
export function selectorNameRules(from: string, name: string | undefined, path: string, errors: FieldError[]): void {
  if (from === 'Header' && name !== undefined && !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
    errors.push({ path, message: `expected an HTTP header name, got ${JSON.stringify(name)}` });
  }
  if (from === 'JWTClaim' && name !== undefined && !/^[^.\s]+(\.[^.\s]+)*$/.test(name)) {
    errors.push({ path, message: `expected a claim path like org.id, got ${JSON.stringify(name)}` });
  }
}

export function duplicates(values: readonly string[], path: (i: number) => string, what: string, errors: FieldError[]): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) errors.push({ path: path(i), message: `duplicate ${what} ${JSON.stringify(v)}` });
    seen.add(v);
  });
}

