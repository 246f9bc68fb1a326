/**
 * The apiserver's CRD rules (crd-structural.ts) hold for the upstream CRDs real clusters accept (no false alarms) and
 * each one refuses the schema the apiserver refuses, with its words.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { crdErrors, multiValueColumns, printerColumnErrors, structuralErrors } from './crd-structural.js';

const SCHEMAS = fileURLToPath(new URL('../schemas/', import.meta.url));
const obj = (props: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'object', properties: props, ...extra });
const str = { type: 'string' };

describe('the apiserver CRD rules', () => {
  const upstream = ['envoy-gateway', 'gateway-api', 'istio', 'prometheus-operator'].flatMap((d) =>
    readdirSync(join(SCHEMAS, d)).filter((f) => f.endsWith('.yaml')).map((f) => `${d}/${f}`));

  it.each(upstream)('accept the upstream CRD %s', (file) => {
    const crds = parseAllDocuments(readFileSync(join(SCHEMAS, file), 'utf8')).map((d) => d.toJS() as unknown).filter((d) => (d as { kind?: string } | null)?.kind === 'CustomResourceDefinition');
    expect(crds.length).toBeGreaterThan(0);
    for (const crd of crds) expect(crdErrors(crd)).toEqual([]);
  });

  const cases: [string, unknown, string, { statusSubresource?: boolean }?][] = [
    ['a description on root metadata', obj({ metadata: { type: 'object', description: 'Standard object metadata.' } }),
      'openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified'],
    ['labels in root metadata', obj({ metadata: obj({ name: str, labels: obj({}) }) }),
      'openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified'],
    ['root metadata without type', obj({ metadata: {} }), 'openAPIV3Schema.properties[metadata].type: Invalid: must be object'],
    ['a field without type', obj({ spec: obj({ a: { description: 'x' } }) }), 'openAPIV3Schema.properties[spec].properties[a].type: Required: must not be empty for specified object fields'],
    ['items without type', obj({ xs: { type: 'array', items: { description: 'x' } } }), 'openAPIV3Schema.properties[xs].items.type: Required: must not be empty for specified array items'],
    ['a root without type', { properties: {} }, 'openAPIV3Schema.type: Required: must not be empty at the root'],
    ['an array without items', obj({ xs: { type: 'array' } }), 'openAPIV3Schema.properties[xs].items: Required: must be specified'],
    ['kind not a string', obj({ kind: { type: 'integer' } }), 'openAPIV3Schema.properties[kind].type: Invalid: must be string'],
    ['additionalProperties: false beside properties', obj({ spec: obj({ a: str }, { additionalProperties: false }) }),
      'openAPIV3Schema.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive'],
    ['additionalProperties at the root', { type: 'object', additionalProperties: str }, 'openAPIV3Schema.additionalProperties: Forbidden: must not be used at the root'],
    ['uniqueItems', obj({ xs: { type: 'array', items: str, uniqueItems: true } }),
      'openAPIV3Schema.properties[xs].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic'],
    ['$ref', obj({ a: { type: 'object', $ref: '#/x' } }), 'openAPIV3Schema.properties[a].$ref: Forbidden: $ref is not supported'],
    ['a default in top-level metadata', obj({ kind: { type: 'string', default: 'X' } }), 'openAPIV3Schema.properties[kind].default: Forbidden: must not be set in top-level kind'],
    ['x-kubernetes-list-type on an object', obj({ a: obj({}, { 'x-kubernetes-list-type': 'map' }) }), 'openAPIV3Schema.properties[a].type: Invalid: must be array if x-kubernetes-list-type is specified'],
    ['list-map-keys without list-type map', obj({ xs: { type: 'array', items: obj({ k: str }, { required: ['k'] }), 'x-kubernetes-list-map-keys': ['k'] } }),
      'openAPIV3Schema.properties[xs].x-kubernetes-list-type: Required: must be map if x-kubernetes-list-map-keys is non-empty'],
    ['a list-map key neither required nor defaulted', obj({ xs: { type: 'array', items: obj({ k: str }), 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'] } }),
      'openAPIV3Schema.properties[xs].items.properties[k].default: Required: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property'],
    ['a list-map key that is no property', obj({ xs: { type: 'array', items: obj({ k: str }, { required: ['k'] }), 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['j'] } }),
      'openAPIV3Schema.properties[xs].x-kubernetes-list-map-keys: Invalid: entries must all be names of item properties'],
    ['set items that are granular objects', obj({ xs: { type: 'array', items: obj({}), 'x-kubernetes-list-type': 'set' } }),
      'openAPIV3Schema.properties[xs].items.x-kubernetes-map-type: Invalid: must be atomic as item of a list with x-kubernetes-list-type=set'],
    ['a type inside anyOf', obj({ a: { type: 'string', anyOf: [{ type: 'string' }] } }), 'openAPIV3Schema.properties[a].anyOf[0].type: Forbidden: must be empty to be structural'],
    ['a field only inside allOf', obj({ a: obj({}, { allOf: [{ properties: { b: {} } }] }) }),
      'openAPIV3Schema.properties[a].allOf[0].properties[b]: Required: must not be specified in a nested context without being specified at the structural level as well'],
    ['a CEL rule with an unknown reason', obj({ a: obj({ b: str }, { 'x-kubernetes-validations': [{ rule: 'true', reason: 'Nope' }] }) }),
      'openAPIV3Schema.properties[a].x-kubernetes-validations[0].reason: Unsupported value: "Nope"'],
    ['a CEL rule whose fieldPath names no field', obj({ a: obj({ b: str }, { 'x-kubernetes-validations': [{ rule: 'true', message: 'm', fieldPath: '.c' }] }) }),
      'openAPIV3Schema.properties[a].x-kubernetes-validations[0].fieldPath: Invalid: fieldPath must be a valid path'],
    ['x-kubernetes-preserve-unknown-fields: false', obj({ a: obj({}, { 'x-kubernetes-preserve-unknown-fields': false }) }),
      'openAPIV3Schema.properties[a].x-kubernetes-preserve-unknown-fields: Invalid: must be true or undefined'],
    ['a list type at the root with the status subresource', obj({}, { default: {} }),
      'openAPIV3Schema: Invalid: only description, type, format, title, maximum, exclusiveMaximum, minimum, exclusiveMinimum, maxLength, minLength, pattern, maxItems, minItems, uniqueItems, multipleOf, required, items, properties, externalDocs, example, x-kubernetes-preserve-unknown-fields, x-kubernetes-validations are allowed at the root of the schema if the status subresource is enabled (found default)',
      { statusSubresource: true }],
  ];

  it.each(cases)('refuse %s', (_what, schema, error, opts) => {
    expect(structuralErrors(schema, opts)).toContain(error);
  });

  it('allow what the apiserver allows: root metadata restricting name, maps, int-or-string, nested value validation', () => {
    expect(structuralErrors(obj({ metadata: obj({ name: { type: 'string', maxLength: 63 } }), apiVersion: str, kind: str }))).toEqual([]);
    expect(structuralErrors(obj({ labels: { type: 'object', additionalProperties: str } }))).toEqual([]);
    expect(structuralErrors(obj({ port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] } }))).toEqual([]);
    expect(structuralErrors(obj({ a: obj({ b: str, c: str }, { oneOf: [{ required: ['b'] }, { required: ['c'] }] }) }))).toEqual([]);
    expect(structuralErrors(obj({ xs: { type: 'array', items: obj({ k: str }, { required: ['k'] }), 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'] } }))).toEqual([]);
  });

  it('printer columns: a known type, a JSONPath; and (our rule) one value per column', () => {
    expect(printerColumnErrors([{ name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' }])).toEqual([]);
    expect(multiValueColumns([{ name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' }])).toEqual([]);
    expect(multiValueColumns([{ name: 'Limits', type: 'string', jsonPath: '.spec.limits[*].name' }, { name: 'A', jsonPath: '.spec..name' }, { name: 'B', jsonPath: '.spec.xs[0:2]' }]))
      .toEqual(['Limits: ".spec.limits[*].name" selects several values and kubectl shows only the first',
        'A: ".spec..name" selects several values and kubectl shows only the first', 'B: ".spec.xs[0:2]" selects several values and kubectl shows only the first']);
    expect(printerColumnErrors([{ name: 'X', type: 'text', jsonPath: 'spec.x' }])).toEqual([
      'additionalPrinterColumns[0].type: Invalid: must be one of boolean,date,integer,number,string',
      'additionalPrinterColumns[0].JSONPath: Invalid: must be a simple json path starting with .',
    ]);
  });
});
