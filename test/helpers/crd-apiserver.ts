/**
 * What the Kubernetes apiserver does with a custom resource before storing it, emulated for tests on a CRD's
 * openAPIV3Schema: structural defaulting, pruning of unknown fields (kubectl's strict field validation reports them),
 * x-kubernetes-list-type map uniqueness, and the CEL `x-kubernetes-validations` evaluated with @marcbachmann/cel-js (and
 * the one Kubernetes library function the rules use, list indexOf) —
 * `self` bound to the value at the rule's location (integers as CEL int, numbers as double), no `oldSelf` — with the
 * error lines formatted as kubectl prints them (k8s.io/apimachinery field.Error).
 */
import { Environment } from '@marcbachmann/cel-js';
import type { JSONSchemaProps, ValidationRule } from '../../src/crd/openapi.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const child = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

/** Structural defaulting: a missing property with a default gets a copy of it, then defaulting recurses into it. */
export function applyDefaults(value: unknown, s: JSONSchemaProps): unknown {
  if (Array.isArray(value) && s.items) return value.map((v) => applyDefaults(v, s.items as JSONSchemaProps));
  if (!isObj(value) || !s.properties) return value;
  const out: Obj = { ...value };
  for (const [k, p] of Object.entries(s.properties)) {
    if (out[k] === undefined && p.default !== undefined) out[k] = structuredClone(p.default);
    if (out[k] !== undefined) out[k] = applyDefaults(out[k], p);
  }
  return out;
}

/** Paths of the fields a structural schema prunes (`kubectl apply` with strict field validation rejects them). */
export function unknownFields(value: unknown, s: JSONSchemaProps, path = ''): string[] {
  if (Array.isArray(value) && s.items) return value.flatMap((v, i) => unknownFields(v, s.items as JSONSchemaProps, `${path}[${i}]`));
  if (!isObj(value) || !s.properties || path === 'metadata') return [];
  const props = s.properties;
  return Object.entries(value).flatMap(([k, v]) => {
    const p = props[k];
    return p ? unknownFields(v, p, child(path, k)) : [child(path, k)];
  });
}

/** The value as the apiserver's CEL sees it: pruned, integers as BigInt (CEL int), numbers as double. */
function toCel(value: unknown, s: JSONSchemaProps): unknown {
  if (s.type === 'integer' && typeof value === 'number') return BigInt(value);
  if (Array.isArray(value)) return (value as unknown[]).map((v) => (s.items ? toCel(v, s.items) : v));
  if (!isObj(value)) return value;
  if (!s.properties) return value;
  const out: Obj = {};
  for (const [k, p] of Object.entries(s.properties)) if (value[k] !== undefined) out[k] = toCel(value[k], p);
  return out;
}

/** How field.Error prints a bad value: strings quoted, scalars as is, objects and lists by their type name. */
function badValue(value: unknown, s: JSONSchemaProps): string {
  if (s.type === 'object' || s.type === 'array') return JSON.stringify(s.type);
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

export const CEL_SKIPPED =
  'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

/**
 * cel-js has CEL's standard library; Kubernetes adds its own libraries. Of those the rules use `<list>.indexOf(x)`
 * (the Kubernetes list library: the first position of x, else -1), here for scalar elements only — the rules look
 * up booleans — since objects would compare by reference in JavaScript.
 */
const env = new Environment({ unlistedVariablesAreDyn: true }).registerFunction('list.indexOf(dyn): int', (list: unknown[], x: unknown) => {
  if (typeof x === 'object' && x !== null) throw new Error('indexOf: only scalar elements are emulated');
  return BigInt(list.indexOf(x));
});
const compiled = new Map<string, (ctx: Obj) => unknown>();

function evaluate(expr: string, self: unknown): unknown {
  let fn = compiled.get(expr);
  if (!fn) {
    const parsed = env.parse(expr);
    fn = (ctx: Obj): unknown => parsed(ctx) as unknown;
    compiled.set(expr, fn);
  }
  return fn({ self });
}

/** Parses a rule (and its messageExpression) the way the apiserver compiles it at CRD creation; throws when invalid. */
export function compileRule(r: ValidationRule): void {
  env.parse(r.rule);
  if (r.messageExpression) env.parse(r.messageExpression);
}

function ruleError(r: ValidationRule, self: unknown, value: unknown, s: JSONSchemaProps, path: string): string {
  const at = path + (r.fieldPath ?? '');
  const message = r.messageExpression ? String(evaluate(r.messageExpression, self)) : r.message;
  switch (r.reason) {
    case 'FieldValueForbidden': return `${at}: Forbidden: ${message}`;
    case 'FieldValueRequired': return `${at}: Required value: ${message}`;
    default: return `${at}: Invalid value: ${badValue(value, s)}: ${message}`;
  }
}

function listMapDuplicates(value: unknown[], s: JSONSchemaProps, path: string): string[] {
  const keys = s['x-kubernetes-list-map-keys'];
  if (s['x-kubernetes-list-type'] !== 'map' || !keys) return [];
  const seen = new Set<string>();
  return value.flatMap((item, i) => {
    const key = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(isObj(item) ? item[k] : undefined)}`).join(', ');
    if (!seen.has(key)) {
      seen.add(key);
      return [];
    }
    return [`${path}[${i}]: Duplicate value: map[string]interface {}{${key}}`];
  });
}

/** Every CEL rule failure and list-map duplicate in an (already defaulted) object, as kubectl would print them. */
export function celErrors(value: unknown, s: JSONSchemaProps, path = ''): string[] {
  if (value === undefined || value === null) return [];
  const out: string[] = [];
  const rules = s['x-kubernetes-validations'] ?? [];
  if (rules.length > 0) {
    const self = toCel(value, s);
    for (const r of rules) {
      let ok: unknown;
      try {
        ok = evaluate(r.rule, self);
      } catch (e) {
        out.push(`${path}: Invalid value: ${badValue(value, s)}: rule evaluation error: ${(e as Error).message.split('\n')[0] ?? ''}`);
        continue;
      }
      if (ok !== true) out.push(ruleError(r, self, value, s, path));
    }
  }
  if (Array.isArray(value)) {
    out.push(...listMapDuplicates(value, s, path));
    if (s.items) value.forEach((v, i) => out.push(...celErrors(v, s.items as JSONSchemaProps, `${path}[${i}]`)));
  } else if (isObj(value) && s.properties) {
    for (const [k, p] of Object.entries(s.properties)) out.push(...celErrors(value[k], p, child(path, k)));
  }
  return out;
}

export interface SchemaCheck {
  /** `(obj) => errors` of an ajv validator, each `instancePath keyword` (e.g. `/spec/limits minItems`). */
  (obj: unknown): string[];
}

export interface Verdict {
  /** The object after defaulting (what is stored, and what CEL sees). */
  object: Json;
  schema: string[];
  unknown: string[];
  /** CEL failures and list-map duplicates; CEL_SKIPPED when a type or enum error blocks the rules, as upstream. */
  apiserver: string[];
}

/** The apiserver's verdict on an object: defaulting, pruning, schema validation, then the CEL rules. */
export function apiserverVerdict(obj: unknown, s: JSONSchemaProps, schemaCheck: SchemaCheck): Verdict {
  const unknown = unknownFields(obj, s);
  const object = applyDefaults(obj, s) as Json;
  const schema = schemaCheck(object);
  const blocked = schema.some((e) => / (type|enum)$/.test(e));
  const apiserver = blocked ? [CEL_SKIPPED] : celErrors(object, s);
  return { object, schema, unknown, apiserver };
}
