/**
 * The CRD's structural OpenAPI v3 schema, converted from the TokenPolicy spec schema (`src/policy/schema.ts`, the one
 * source of truth for types, enums, bounds, defaults and descriptions). What the conversion does:
 * - keeps type, description, enum, minLength/maxLength, minimum/maximum, minItems/maxItems, required and default;
 * - turns a `pattern` that carries an `x-tokenmeter-expected` phrase into a CEL rule `self.matches(…)` with the
 *   message `expected <phrase>`, so `kubectl apply` reports the same words as the data plane (a bare `pattern` error
 *   only prints the regular expression);
 * - turns a numeric `exclusiveMinimum` (JSON Schema 2019) into the CEL rule `self > N` (OpenAPI v3.0 only has the
 *   boolean form, which ajv and most editors reject);
 * - attaches the cross-field rules of `rules.ts` at their paths, and fails loudly when a rule's path does not exist;
 * - never emits `additionalProperties` (structural schemas prune unknown fields) nor `x-tokenmeter-*` keywords.
 */
import type { Schema } from '../policy/schema-dialect.js';

/** A CEL rule (`x-kubernetes-validations` entry). Reasons other than these lose or mangle the message. */
export interface ValidationRule {
  rule: string;
  message: string;
  /** Evaluated when the rule fails; its result is what users see (`message` is the fallback). */
  messageExpression?: string;
  /** Where the error is reported, relative to the rule's location (e.g. `.weights`). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired';
}

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps the TokenPolicy CRD uses. */
export interface JSONSchemaProps {
  /** Always set, except on the root `metadata` (where the apiserver forbids it). */
  description?: string;
  type: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  required?: string[];
  items?: JSONSchemaProps;
  properties?: Record<string, JSONSchemaProps>;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: ValidationRule[];
}

/**
 * CRD-only additions at a schema path (`limits[].window`, relative to spec): bounds the apiserver's CEL cost
 * estimator needs and list semantics for server-side apply. Nothing here changes what a valid policy is.
 */
export interface PathExtras {
  rules?: readonly ValidationRule[];
  maxLength?: number;
  listMapKeys?: readonly string[];
}

/** A CEL string literal for `s`: a raw string when possible (readable regexes), else an escaped one. */
export function celString(s: string): string {
  if (!s.includes("'") && !s.includes('\n')) return `r'${s}'`;
  return JSON.stringify(s);
}

function stringProps(s: Extract<Schema, { type: 'string' }>, path: string, extras: PathExtras | undefined): JSONSchemaProps {
  const out: JSONSchemaProps = { description: s.description, type: 'string' };
  if (s.enum) out.enum = [...s.enum];
  if (s.minLength !== undefined) out.minLength = s.minLength;
  const maxLength = s.maxLength ?? extras?.maxLength;
  // An enum bounds the string exactly for the cost estimator; a maxLength would count 4 bytes per character instead.
  if (maxLength === undefined && !s.enum) throw new Error(`crd: string at spec.${path} needs a maxLength (CEL cost limits)`);
  if (maxLength !== undefined) out.maxLength = maxLength;
  if (s.pattern !== undefined) {
    const expected = s['x-tokenmeter-expected'];
    if (expected === undefined) out.pattern = s.pattern;
    else out['x-kubernetes-validations'] = [{ rule: `self.matches(${celString(s.pattern)})`, message: `expected ${expected}` }];
  }
  if (s.default !== undefined) out.default = s.default;
  return out;
}

function numberProps(s: Extract<Schema, { type: 'number' | 'integer' }>): JSONSchemaProps {
  const out: JSONSchemaProps = { description: s.description, type: s.type };
  if (s.minimum !== undefined) out.minimum = s.minimum;
  if (s.maximum !== undefined) out.maximum = s.maximum;
  if (s.default !== undefined) out.default = s.default;
  if (s.exclusiveMinimum !== undefined) {
    const n = s.exclusiveMinimum;
    const literal = s.type === 'number' && Number.isInteger(n) ? `${n}.0` : String(n);
    out['x-kubernetes-validations'] = [{ rule: `self > ${literal}`, message: `must be greater than ${n}` }];
  }
  return out;
}

class Converter {
  private readonly unused: Set<string>;

  constructor(private readonly extras: Readonly<Record<string, PathExtras>>) {
    this.unused = new Set(Object.keys(extras));
  }

  convert(s: Schema, path: string): JSONSchemaProps {
    const extras = this.extras[path];
    this.unused.delete(path);
    const out = this.node(s, path, extras);
    if (extras?.rules?.length) out['x-kubernetes-validations'] = [...(out['x-kubernetes-validations'] ?? []), ...extras.rules];
    return out;
  }

  /** Paths in the extras table that matched no schema node (a renamed field): the caller fails on them. */
  leftovers(): string[] {
    return [...this.unused];
  }

  private node(s: Schema, path: string, extras: PathExtras | undefined): JSONSchemaProps {
    switch (s.type) {
      case 'string': return stringProps(s, path, extras);
      case 'number':
      case 'integer': return numberProps(s);
      case 'boolean': return s.default === undefined ? { description: s.description, type: 'boolean' } : { description: s.description, type: 'boolean', default: s.default };
      case 'array': {
        const out: JSONSchemaProps = { description: s.description, type: 'array' };
        if (s.minItems !== undefined) out.minItems = s.minItems;
        if (s.maxItems === undefined) throw new Error(`crd: list at spec.${path} needs a maxItems (CEL cost limits)`);
        out.maxItems = s.maxItems;
        if (s.default !== undefined) out.default = [];
        if (extras?.listMapKeys) {
          out['x-kubernetes-list-type'] = 'map';
          out['x-kubernetes-list-map-keys'] = [...extras.listMapKeys];
        }
        out.items = this.convert(s.items, `${path}[]`);
        return out;
      }
      case 'object': {
        const out: JSONSchemaProps = { description: s.description, type: 'object' };
        if (s.required?.length) out.required = [...s.required];
        if (s.default !== undefined) out.default = {};
        out.properties = Object.fromEntries(
          Object.entries(s.properties).map(([k, v]) => [k, this.convert(v, path === '' ? k : `${path}.${k}`)]),
        );
        return out;
      }
    }
  }
}

/**
 * Converts a dialect schema to a structural OpenAPI v3 schema, adding `extras` at their paths (relative to the
 * converted root: `limits`, `limits[]`, `limits[].window`; '' is the root). Throws on an extras path the schema lacks.
 */
export function toOpenApi(schema: Schema, extras: Readonly<Record<string, PathExtras>>): JSONSchemaProps {
  const c = new Converter(extras);
  const out = c.convert(schema, '');
  const left = c.leftovers();
  if (left.length > 0) throw new Error(`crd: rules for paths the spec schema does not have: ${left.join(', ')}`);
  return out;
}
