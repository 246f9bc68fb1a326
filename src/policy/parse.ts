/**
 * TokenPolicy YAML → validated policies. Accepts one document, several (`---`), and `kind: List` (or
 * TokenPolicyList) with `items`. Never throws on bad input: every problem becomes a PolicyError naming the policy and
 * the field (`team-budgets: spec.limits[1].window: expected …`), and one invalid policy does not affect the others.
 */
import { parseAllDocuments } from 'yaml';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import { buildPolicy } from './spec.js';
import type { ParseResult, PolicyError, TokenPolicy } from './types.js';
import { formatPolicyError, policyKey } from './types.js';
import { describeValue } from './validate.js';

export const API_VERSION = 'tokenmeter.dev/v1alpha1';
export const KIND = 'TokenPolicy';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

class Collector {
  readonly errors: PolicyError[] = [];
  readonly policies: TokenPolicy[] = [];
  private readonly where = new Map<string, string>();

  constructor(private readonly source: string | undefined) {}

  error(policy: string, path: string, message: string): undefined {
    this.errors.push({ ...(this.source === undefined ? {} : { source: this.source }), policy, path, message });
    return undefined;
  }

  add(p: TokenPolicy, label: string): void {
    const key = policyKey(p);
    const first = this.where.get(key);
    if (first !== undefined) {
      this.error(key, 'metadata.name', `duplicate policy: already defined by document ${first}`);
      return;
    }
    this.where.set(key, label);
    this.policies.push(p);
  }
}

function metadata(obj: Obj, label: string, c: Collector): { name: string; namespace?: string } | undefined {
  const meta = obj.metadata;
  const rawName = isObj(meta) ? meta.name : undefined;
  const id = typeof rawName === 'string' && rawName !== '' ? rawName : label;
  if (!isObj(meta)) return c.error(id, 'metadata', meta === undefined ? 'required' : `expected a mapping, got ${describeValue(meta)}`);
  if (rawName === undefined || rawName === null) return c.error(id, 'metadata.name', 'required');
  if (typeof rawName !== 'string' || rawName.length > 253 || !NAME.test(rawName)) {
    return c.error(id, 'metadata.name', `expected a DNS subdomain name (a-z, 0-9, -, .), got ${describeValue(rawName)}`);
  }
  const ns = meta.namespace;
  if (ns === undefined || ns === null) return { name: rawName };
  if (typeof ns !== 'string' || ns.length > 63 || !NAMESPACE.test(ns)) {
    return c.error(id, 'metadata.namespace', `expected a DNS label (a-z, 0-9, -), got ${describeValue(ns)}`);
  }
  return { name: rawName, namespace: ns };
}

function policyDocument(obj: Obj, label: string, c: Collector): void {
  const rawName = isObj(obj.metadata) ? obj.metadata.name : undefined;
  const id = typeof rawName === 'string' && rawName !== '' ? rawName : label;
  if (obj.apiVersion !== API_VERSION) {
    return c.error(id, 'apiVersion', `expected ${API_VERSION}, got ${describeValue(obj.apiVersion)}`);
  }
  const meta = metadata(obj, label, c);
  if (!meta) return;
  const display = policyKey(meta);
  for (const key of Object.keys(obj)) {
    if (!TOP_LEVEL.has(key)) c.error(display, key, 'unknown field; known fields: apiVersion, kind, metadata, spec');
  }
  const { policy, errors } = buildPolicy(meta, obj.spec);
  for (const e of errors) c.error(display, e.path, e.message);
  if (policy && errors.length === 0) c.add(policy, label);
}

function anyDocument(value: unknown, label: string, c: Collector): void {
  if (value === null || value === undefined) return; // empty document
  if (!isObj(value)) return c.error(label, '', `expected a ${KIND} mapping, got ${describeValue(value)}`);
  if (value.kind === 'List' || value.kind === `${KIND}List`) {
    if (!Array.isArray(value.items)) return c.error(label, 'items', `expected a list, got ${describeValue(value.items)}`);
    value.items.forEach((item: unknown, i) => anyDocument(item, `${label}.items[${i}]`, c));
    return;
  }
  if (value.kind !== KIND) return c.error(label, 'kind', `expected ${KIND} or List, got ${describeValue(value.kind)}`);
  policyDocument(value, label, c);
}

/**
 * Parses TokenPolicy YAML. `source` (a file name) prefixes error messages. Policies are returned in document order;
 * a duplicate namespace/name keeps the first and reports the others.
 */
export function parsePolicies(text: string, source?: string): ParseResult {
  const c = new Collector(source);
  const json = jsonDocuments(text);
  if (json) {
    json.forEach((value, i) => anyDocument(value, `#${i + 1}`, c));
    return { policies: c.policies, errors: c.errors };
  }
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) return { policies: [], errors: c.errors }; // an empty stream
  docs.forEach((doc, i) => {
    const label = `#${i + 1}`;
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const at = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
      return c.error(label, '', `invalid YAML: ${at}${err.message.split('\n')[0] ?? ''}`.replace(/ at line \d+, column \d+:?$/, ''));
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return c.error(label, '', `invalid YAML: ${(e as Error).message}`);
    }
    anyDocument(value, label, c);
  });
  return { policies: c.policies, errors: c.errors };
}

/**
 * The documents of a stream whose every document is one JSON object (what the operator writes to the limits
 * ConfigMap): parsed with JSON.parse, two orders of magnitude faster than a YAML parse. Undefined for anything
 * else (hand-written YAML, a JSON syntax error), which goes through the YAML parser and its error messages.
 */
function jsonDocuments(text: string): unknown[] | undefined {
  const parts = text.split(/^---[ \t]*$/m).map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0 || !parts.every((p) => p.startsWith('{') && p.endsWith('}'))) return undefined;
  try {
    return parts.map((p) => JSON.parse(p) as unknown);
  } catch {
    return undefined;
  }
}

/** One TM_POLICY_INVALID error listing every problem, one per line (for start-up, where invalid policies are fatal). */
export function policyErrorsToError(errors: readonly PolicyError[]): TokenmeterError {
  const lines = errors.map(formatPolicyError);
  return new TokenmeterError(ErrorCodes.POLICY_INVALID, `invalid token policies:\n  ${lines.join('\n  ')}`);
}
