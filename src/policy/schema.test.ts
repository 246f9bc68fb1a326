import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Infer, Schema } from './schema-dialect.js';
import { SPEC_SCHEMA } from './schema.js';
import { describeValue, validate } from './validate.js';

function walk(s: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(s, path);
  if (s.type === 'array') walk(s.items, `${path}[]`, visit);
  if (s.type === 'object') for (const [k, v] of Object.entries(s.properties)) walk(v, `${path}.${k}`, visit);
}

describe('SPEC_SCHEMA (the CRD source)', () => {
  it('describes every field, and is plain JSON', () => {
    const undescribed: string[] = [];
    walk(SPEC_SCHEMA, 'spec', (s, path) => {
      if (s.description.trim() === '') undescribed.push(path);
    });
    expect(undescribed).toEqual([]);
    expect(JSON.parse(JSON.stringify(SPEC_SCHEMA))).toEqual(SPEC_SCHEMA);
  });

  it('has valid patterns, and defaults that validate', () => {
    walk(SPEC_SCHEMA, 'spec', (s, path) => {
      if (s.type === 'string' && s.pattern !== undefined) expect(() => new RegExp(s.pattern ?? ''), path).not.toThrow();
      if (s.default !== undefined) expect(validate(s, s.default, path).errors, path).toEqual([]);
    });
  });
});

describe('validate', () => {
  it('fills defaults, nested ones included, and treats null as absent', () => {
    const { value, errors } = validate(SPEC_SCHEMA, { limits: [{ name: 'a', tokens: 1, window: '1m' }], match: null }, 'spec');
    expect(errors).toEqual([]);
    expect(value).toEqual({
      targetRefs: [], hosts: [], match: { paths: [], models: [] },
      limits: [{ name: 'a', tokens: 1, window: '1m', perModel: false }],
      reservation: { output: 'MaxTokens', defaultMaxTokens: 4096, minOutputTokens: 256 },
      enforcement: { mode: 'Enforce', failureMode: 'Open' },
      pricing: [],
      overrides: [],
    });
  });

  it.each([
    ['x', '"x"'], [3, '3'], [true, 'true'], [null, 'null'], [[1], 'a list'], [{ a: 1 }, 'a mapping'], [undefined, 'null'],
  ])('describes %s as %s', (v, want) => {
    expect(describeValue(v)).toBe(want);
  });
});

describe('Infer (types of the validated spec, checked at compile time)', () => {
  type Spec = Infer<typeof SPEC_SCHEMA>;
  type RawLimit = Spec['limits'][number];

  it('maps every field to its type; defaulted and required fields are present', () => {
    expectTypeOf<RawLimit['window']>().toEqualTypeOf<string>();
    expectTypeOf<RawLimit['tokens']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<RawLimit['perModel']>().toEqualTypeOf<boolean>();
    expectTypeOf<RawLimit['count']>().toEqualTypeOf<'Input' | 'Output' | 'Total' | 'Weighted' | undefined>();
    expectTypeOf<NonNullable<RawLimit['weights']>['reasoning']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<NonNullable<Spec['subject']>['onMissing']>().toEqualTypeOf<'Reject' | 'Shared'>();
    expectTypeOf<Spec['reservation']['defaultMaxTokens']>().toEqualTypeOf<number>();
    expectTypeOf<Spec['match']['models']>().toEqualTypeOf<string[]>();
    expectTypeOf<Spec['targetRefs'][number]['kind']>().toEqualTypeOf<'Gateway' | 'HTTPRoute' | 'GRPCRoute'>();
    expectTypeOf<Spec['targetRefs'][number]['sectionName']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<Spec['pricing'][number]['cachedInput']>().toEqualTypeOf<number | undefined>();
  });
});
