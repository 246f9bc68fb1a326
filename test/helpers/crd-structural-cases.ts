/**
 * Schemas the kube-apiserver refuses, each with the error line test/helpers/crd-structural.ts must give: the fast
 * tier checks the checker with them (crd-structural.test.ts), and the real-apiserver tier sends those that 1.20 can
 * judge to kube-apiserver to confirm it says the same (test/apiserver/crd.test.ts).
 */
export const obj = (props: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'object', properties: props, ...extra });
export const str = { type: 'string' };

/** [what, openAPIV3Schema, the error line, options]. */
export type StructuralCase = [string, unknown, string, { statusSubresource?: boolean }?];

export const STRUCTURAL_CASES: StructuralCase[] = [
  ['a description on root metadata', obj({ metadata: { type: 'object', description: 'Standard object metadata.' } }),
    'openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified'],
  ['labels in root metadata', obj({ metadata: obj({ name: str, labels: obj({}) }) }),
    'openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified'],
  ['root metadata without type', obj({ metadata: {} }), 'openAPIV3Schema.properties[metadata].type: Invalid value: "": must be object'],
  ['a field without type', obj({ spec: obj({ a: { description: 'x' } }) }), 'openAPIV3Schema.properties[spec].properties[a].type: Required value: must not be empty for specified object fields'],
  ['items without type', obj({ xs: { type: 'array', items: { description: 'x' } } }), 'openAPIV3Schema.properties[xs].items.type: Required value: must not be empty for specified array items'],
  ['a root without type', { properties: {} }, 'openAPIV3Schema.type: Required value: must not be empty at the root'],
  ['an array without items', obj({ xs: { type: 'array' } }), 'openAPIV3Schema.properties[xs].items: Required value: must be specified'],
  ['kind not a string', obj({ kind: { type: 'integer' } }), 'openAPIV3Schema.properties[kind].type: Invalid value: "integer": must be string'],
  ['additionalProperties: false beside properties', obj({ spec: obj({ a: str }, { additionalProperties: false }) }),
    'openAPIV3Schema.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive'],
  ['additionalProperties at the root', { type: 'object', additionalProperties: str }, 'openAPIV3Schema.additionalProperties: Forbidden: must not be used at the root'],
  ['uniqueItems', obj({ xs: { type: 'array', items: str, uniqueItems: true } }),
    'openAPIV3Schema.properties[xs].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic'],
  ['$ref', obj({ a: { type: 'object', $ref: '#/x' } }), 'openAPIV3Schema.properties[a].$ref: Forbidden: $ref is not supported'],
  ['a default in top-level metadata', obj({ kind: { type: 'string', default: 'X' } }), 'openAPIV3Schema.properties[kind].default: Forbidden: must not be set in top-level kind'],
  ['x-kubernetes-list-type on an object', obj({ a: obj({}, { 'x-kubernetes-list-type': 'map' }) }), 'openAPIV3Schema.properties[a].type: Invalid value: "object": must be array if x-kubernetes-list-type is specified'],
  ['list-map-keys without list-type map', obj({ xs: { type: 'array', items: obj({ k: str }, { required: ['k'] }), 'x-kubernetes-list-map-keys': ['k'] } }),
    'openAPIV3Schema.properties[xs].x-kubernetes-list-type: Required value: must be map if x-kubernetes-list-map-keys is non-empty'],
  ['a list-map key neither required nor defaulted', obj({ xs: { type: 'array', items: obj({ k: str }), 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'] } }),
    'openAPIV3Schema.properties[xs].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property'],
  ['a list-map key that is no property', obj({ xs: { type: 'array', items: obj({ k: str }, { required: ['k'] }), 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['j'] } }),
    'openAPIV3Schema.properties[xs].x-kubernetes-list-map-keys: Invalid value: []string{"j"}: entries must all be names of item properties'],
  ['set items that are granular objects', obj({ xs: { type: 'array', items: obj({}), 'x-kubernetes-list-type': 'set' } }),
    'openAPIV3Schema.properties[xs].items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set'],
  ['a type inside anyOf', obj({ a: { type: 'string', anyOf: [{ type: 'string' }] } }), 'openAPIV3Schema.properties[a].anyOf[0].type: Forbidden: must be empty to be structural'],
  ['a field only inside a root allOf', obj({}, { allOf: [{ properties: { b: { minLength: 1 } } }] }),
    'openAPIV3Schema.properties[b]: Required value: because it is defined in openAPIV3Schema.allOf[0].properties[b]'],
  ['a CEL rule with an unknown reason', obj({ a: obj({ b: str }, { 'x-kubernetes-validations': [{ rule: 'true', reason: 'Nope' }] }) }),
    'openAPIV3Schema.properties[a].x-kubernetes-validations[0].reason: Unsupported value: "Nope": supported values: "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"'],
  ['a CEL rule whose fieldPath names no field', obj({ a: obj({ b: str }, { 'x-kubernetes-validations': [{ rule: 'true', message: 'm', fieldPath: '.c' }] }) }),
    'openAPIV3Schema.properties[a].x-kubernetes-validations[0].fieldPath: Invalid value: ".c": fieldPath must be a valid path'],
  ['x-kubernetes-preserve-unknown-fields: false', obj({ a: obj({}, { 'x-kubernetes-preserve-unknown-fields': false }) }),
    'openAPIV3Schema.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined'],
  ['a default at the root with the status subresource', obj({}, { default: {} }),
    'openAPIV3Schema: Invalid value: "object": only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled',
    { statusSubresource: true }],
];
