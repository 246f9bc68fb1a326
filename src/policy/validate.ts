/**
 * Validates a parsed YAML value against a schema of `schema-dialect.ts`: types, enums, patterns, bounds, required
 * properties, unknown properties (rejected, with a "did you mean" hint), and fills defaults. Pure; never throws on
 * bad input: problems are collected as `{path, message}` and the returned value keeps what was valid.
 */
import type { ArraySchema, NumberSchema, ObjectSchema, Schema, StringSchema } from './schema-dialect.js';

export interface FieldError {
  path: string;
  message: string;
}

/** How a value is shown in "got …": strings quoted and shortened, other kinds named. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'a mapping' : typeof value;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Levenshtein distance, small inputs only (field names). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

function unknownField(key: string, known: readonly string[]): string {
  const best = known.map((k) => ({ k, d: distance(key, k) })).sort((x, y) => x.d - y.d)[0];
  const hint = best && best.d <= Math.max(1, Math.floor(best.k.length / 3)) ? ` (did you mean ${best.k}?)` : '';
  return `unknown field${hint}; known fields: ${known.join(', ')}`;
}

class Validator {
  readonly errors: FieldError[] = [];

  fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }

  value(schema: Schema, raw: unknown, path: string): unknown {
    switch (schema.type) {
      case 'string': return this.string(schema, raw, path);
      case 'number':
      case 'integer': return this.number(schema, raw, path);
      case 'boolean': return typeof raw === 'boolean' ? raw : this.fail(path, `expected true or false, got ${describeValue(raw)}`);
      case 'array': return this.array(schema, raw, path);
      case 'object': return this.object(schema, raw, path);
    }
  }

  string(s: StringSchema, raw: unknown, path: string): string | undefined {
    if (typeof raw !== 'string') {
      const what = s.enum ? `one of ${s.enum.join(', ')}` : 'a string';
      return this.fail(path, `expected ${what}, got ${describeValue(raw)}`);
    }
    if (s.enum && !s.enum.includes(raw)) return this.fail(path, `expected one of ${s.enum.join(', ')}, got ${describeValue(raw)}`);
    if (s.minLength !== undefined && raw.length < s.minLength) return this.fail(path, 'must not be empty');
    if (s.maxLength !== undefined && raw.length > s.maxLength) return this.fail(path, `must be at most ${s.maxLength} characters, got ${raw.length}`);
    if (s.pattern !== undefined && !new RegExp(s.pattern).test(raw)) {
      return this.fail(path, `expected ${s['x-tokenmeter-expected'] ?? `a value matching ${s.pattern}`}, got ${describeValue(raw)}`);
    }
    return raw;
  }

  number(s: NumberSchema, raw: unknown, path: string): number | undefined {
    const integer = s.type === 'integer';
    if (typeof raw !== 'number' || !Number.isFinite(raw) || (integer && !Number.isInteger(raw))) {
      return this.fail(path, `expected ${integer ? 'an integer' : 'a number'}, got ${describeValue(raw)}`);
    }
    if (s.exclusiveMinimum !== undefined && !(raw > s.exclusiveMinimum)) return this.fail(path, `must be greater than ${s.exclusiveMinimum}, got ${raw}`);
    if (s.minimum !== undefined && raw < s.minimum) return this.fail(path, `must be at least ${s.minimum}, got ${raw}`);
    if (s.maximum !== undefined && raw > s.maximum) return this.fail(path, `must be at most ${s.maximum}, got ${raw}`);
    return raw;
  }

  array(s: ArraySchema, raw: unknown, path: string): unknown[] | undefined {
    if (!Array.isArray(raw)) return this.fail(path, `expected a list, got ${describeValue(raw)}`);
    if (s.minItems !== undefined && raw.length < s.minItems) return this.fail(path, `must have at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`);
    if (s.maxItems !== undefined && raw.length > s.maxItems) return this.fail(path, `must have at most ${s.maxItems} items, got ${raw.length}`);
    const out: unknown[] = [];
    raw.forEach((item: unknown, i) => {
      const v = this.value(s.items, item, `${path}[${i}]`);
      if (v !== undefined) out.push(v);
    });
    return out;
  }

  object(s: ObjectSchema, raw: unknown, path: string): Record<string, unknown> | undefined {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return this.fail(path, `expected a mapping, got ${describeValue(raw)}`);
    const input = raw as Record<string, unknown>;
    const known = Object.keys(s.properties);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(s.properties, key)) this.fail(join(path, key), unknownField(key, known));
    }
    for (const [key, prop] of Object.entries(s.properties)) {
      const v = this.property(prop, input[key], join(path, key), s.required?.includes(key) ?? false);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }

  property(prop: Schema, raw: unknown, path: string, required: boolean): unknown {
    if (raw !== undefined && raw !== null) return this.value(prop, raw, path);
    if (prop.default !== undefined) return this.value(prop, structuredClone(prop.default), path);
    return required ? this.fail(path, 'required') : undefined;
  }
}

/**
 * Validates `raw` against `schema` at `path`. Returns the value with defaults filled (invalid parts dropped) and
 * every problem found. When `errors` is empty the value conforms to `Infer<typeof schema>`.
 */
export function validate(schema: Schema, raw: unknown, path: string): { value: unknown; errors: FieldError[] } {
  const v = new Validator();
  const value = v.value(schema, raw, path);
  return { value, errors: v.errors };
}
