/**
 * The small JSON-Schema subset the TokenPolicy spec is described in (`schema.ts`). It is deliberately the subset a
 * Kubernetes structural schema (CRD openAPIV3Schema) accepts, so the CRD generator can emit it almost verbatim; the
 * only extension is `x-tokenmeter-expected`, a human phrase for pattern errors, which the generator drops.
 *
 * `Infer<S>` gives the TypeScript type of a value that passed `validate()` (defaults applied), so code reading the
 * validated spec is checked against the schema at compile time: one source of truth.
 */

interface Described {
  description: string;
}

export interface StringSchema extends Described {
  type: 'string';
  enum?: readonly string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  default?: string;
  /** Completes "expected …, got X" when `pattern` fails. */
  'x-tokenmeter-expected'?: string;
}

export interface NumberSchema extends Described {
  type: 'number' | 'integer';
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  default?: number;
}

export interface BooleanSchema extends Described {
  type: 'boolean';
  default?: boolean;
}

export interface ArraySchema extends Described {
  type: 'array';
  items: Schema;
  minItems?: number;
  maxItems?: number;
  default?: readonly never[];
}

export interface ObjectSchema extends Described {
  type: 'object';
  properties: Readonly<Record<string, Schema>>;
  required?: readonly string[];
  /** An object default is `{}`: the properties' own defaults then fill it. */
  default?: Readonly<Record<string, never>>;
}

export type Schema = StringSchema | NumberSchema | BooleanSchema | ArraySchema | ObjectSchema;

type RequiredKeys<S> = S extends { required: readonly (infer R)[] } ? R : never;
type DefaultedKeys<P> = { [K in keyof P]: P[K] extends { default: unknown } ? K : never }[keyof P];

type InferObject<S extends { properties: object }> = {
  -readonly [K in keyof S['properties'] as K extends RequiredKeys<S> | DefaultedKeys<S['properties']> ? K : never]:
  Infer<S['properties'][K]>;
} & {
  -readonly [K in keyof S['properties'] as K extends RequiredKeys<S> | DefaultedKeys<S['properties']> ? never : K]?:
  Infer<S['properties'][K]>;
};

/** The type of a validated value of schema S (properties with a default or listed in `required` are present). */
export type Infer<S> = S extends { type: 'string'; enum: readonly (infer E)[] }
  ? E
  : S extends { type: 'string' }
    ? string
    : S extends { type: 'number' | 'integer' }
      ? number
      : S extends { type: 'boolean' }
        ? boolean
        : S extends { type: 'array'; items: infer I }
          ? Infer<I>[]
          : S extends { type: 'object'; properties: object }
            ? InferObject<S>
            : never;
