/**
 * Re-parsing a policy set where most documents did not change: the operator's limits (one JSON document per policy,
 * src/render/policy-yaml.ts) after an edit of one policy differ in one document, and parsing 20 policies of 1,000
 * overrides each takes a few hundred milliseconds — most of an edit's way to the data plane. Documents seen in the
 * previous parse give back the same policy object (so its compiled indexes, src/policy/resolve.ts, are kept too);
 * only new documents are parsed. Anything unusual (a document that is not one JSON object, an error, a duplicate)
 * falls back to `parsePolicies` on the whole text, so errors read exactly as they always do.
 */
import { parsePolicies } from './parse.js';
import type { ParseResult, TokenPolicy } from './types.js';
import { policyKey } from './types.js';

/** The one policy of a document, or undefined when it has errors (the caller parses the whole text instead). */
function parseOne(doc: string, source: string | undefined): TokenPolicy | undefined {
  const one = parsePolicies(doc, source);
  return one.errors.length === 0 && one.policies.length === 1 ? one.policies[0] : undefined;
}

export class PolicyParseCache {
  private docs = new Map<string, TokenPolicy>();

  parse(text: string, source?: string): ParseResult {
    const parts = text.split(/^---[ \t]*$/m).map((p) => p.trim()).filter((p) => p !== '');
    if (!parts.every((p) => p.startsWith('{') && p.endsWith('}'))) return this.full(text, source);
    const next = new Map<string, TokenPolicy>();
    const keys = new Set<string>();
    for (const doc of parts) {
      const policy = this.docs.get(doc) ?? next.get(doc) ?? parseOne(doc, source);
      if (!policy) return this.full(text, source);
      const key = policyKey(policy);
      if (keys.has(key)) return this.full(text, source);
      keys.add(key);
      next.set(doc, policy);
    }
    this.docs = next;
    return { policies: [...next.values()], errors: [] };
  }

  private full(text: string, source: string | undefined): ParseResult {
    const r = parsePolicies(text, source);
    this.docs = new Map();
    return r;
  }
}
