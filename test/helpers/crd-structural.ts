/**
 * The kube-apiserver's own checks on a CustomResourceDefinition's schema and printer columns, so the fast tier refuses
 * a CRD the server would refuse, without a server. ajv (test/helpers/schemas.ts) only checks that the CRD is
 * well-formed JSON; these are the CRD-specific rules, restated from kubernetes/kubernetes
 * staging/src/k8s.io/apiextensions-apiserver (the same in v1.20 and in current releases unless noted):
 *
 * - pkg/apiserver/schema/validation.go, ValidateStructural: `type` set at the root (object), on every property and
 *   on array items; `items` on every array; no additionalProperties at the root; root `metadata` may restrict only
 *   `name` and `generateName` (anything else, a description included: "must not specify anything other than name and
 *   generateName, but metadata is implicitly specified") and must be `type: object`; root `kind`/`apiVersion` are
 *   strings; inside allOf/anyOf/oneOf/not no type, description, default, nullable, additionalProperties,
 *   x-kubernetes-* extensions, nor `metadata`; x-kubernetes-int-or-string excludes preserve-unknown-fields and
 *   embedded-resource.
 * - pkg/apis/apiextensions/validation/validation.go, ValidateCustomResourceDefinitionOpenAPISchema and
 *   specStandardValidatorV3: properties and additionalProperties (other than `true`) are mutually exclusive; no
 *   uniqueItems, id, additionalItems, patternProperties, definitions, dependencies, $ref, `type: null`, nor an array
 *   of item schemas; no default in top-level metadata/kind/apiVersion; x-kubernetes-preserve-unknown-fields only
 *   `true`; x-kubernetes-map-type only on objects (atomic|granular); x-kubernetes-list-type only on arrays
 *   (atomic|set|map); list-map-keys only with list-type map, which needs keys that are distinct, scalar, required (or
 *   defaulted) properties of object items; set items atomic; x-kubernetes-validations with a non-empty rule, a
 *   one-line message and a supported reason. With the status subresource only some keywords are allowed at the root
 *   (allowedFieldsAtRootSchema), and nullable never is. Printer columns: a known type and format, a JSONPath
 *   starting with `.` (ValidateCustomResourceColumnDefinition).
 *
 * One rule of our own, apart (multiValueColumns): a printer column's JSONPath must select one value. The apiserver's
 * table printer prints only the first result of `[*]`, `..` or a union, so such a column would show one limit of many.
 */

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

const EXTENSIONS = ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string',
  'x-kubernetes-list-map-keys', 'x-kubernetes-list-type', 'x-kubernetes-map-type', 'x-kubernetes-validations'];
const UNSUPPORTED: [string, string][] = [['id', 'id is not supported'], ['additionalItems', 'additionalItems is not supported'],
  ['patternProperties', 'patternProperties is not supported'], ['definitions', 'definitions is not supported'],
  ['dependencies', 'dependencies is not supported'], ['$ref', '$ref is not supported']];
/** allowedFieldsAtRootSchema, as JSON keywords. */
const ROOT_WITH_STATUS = new Set(['description', 'type', 'format', 'title', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'multipleOf', 'required', 'items', 'properties',
  'externalDocs', 'example', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-validations']);
/** The same list as upstream prints it (Go field names; 1.20's ends before XValidations). */
const ROOT_WITH_STATUS_GO = 'Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern ' +
  'MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations';
const REASONS = new Set(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate']);
const COLUMN_TYPES = new Set(['integer', 'number', 'string', 'boolean', 'date']);
const COLUMN_FORMATS = new Set(['int32', 'int64', 'float', 'double', 'byte', 'date', 'date-time', 'password']);
const JUNCTORS = ['allOf', 'anyOf', 'oneOf'] as const;

type Level = 'root' | 'item' | 'field';

/** A keyword's value as the apiserver would quote it. */
const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** A value as field.Error prints it (Go's %q for strings, %#v for string slices; objects by their type name). */
function goValue(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[]string{${v.map((x) => JSON.stringify(String(x))).join(', ')}}`;
  if (typeof v === 'object') return '"object"';
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v) ?? 'null';
}

function isIntOrString(list: unknown): boolean {
  return Array.isArray(list) && list.length === 2 && JSON.stringify(list) === JSON.stringify([{ type: 'integer' }, { type: 'string' }]);
}

class Checker {
  readonly errors: string[] = [];

  /** One error as apimachinery's field.Error prints it: `path: Forbidden: detail`, `path: Invalid value: "x": detail`. */
  err(path: string, kind: 'Forbidden' | 'Required' | 'Invalid' | 'Unsupported value', detail: string, value?: unknown): void {
    const word = kind === 'Required' ? 'Required value' : kind === 'Invalid' ? `Invalid value: ${goValue(value)}` : kind;
    this.errors.push(`${path}: ${word}: ${detail}`);
  }

  /** One node of the structural part (properties, items, additionalProperties), and everything under it. */
  node(s: Node, path: string, level: Level, meta: 'top' | 'inside' | undefined): void {
    const type = typeof s.type === 'string' ? s.type : '';
    for (const [k, why] of UNSUPPORTED) if (s[k] !== undefined) this.err(`${path}.${k}`, 'Forbidden', why);
    if (s.uniqueItems === true) this.err(`${path}.uniqueItems`, 'Forbidden', 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic');
    if (type === 'null') this.err(`${path}.type`, 'Forbidden', 'type cannot be set to null, use nullable as an alternative');
    if (Array.isArray(s.items)) this.err(`${path}.items`, 'Forbidden', 'items must be a schema object and not an array');
    if (meta === 'top' && s.default !== undefined) this.err(`${path}.default`, 'Forbidden', `must not be set in top-level ${path.slice(path.lastIndexOf('[') + 1, -1)}`);
    const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
    const intOrString = s['x-kubernetes-int-or-string'] === true;
    const embedded = s['x-kubernetes-embedded-resource'] === true;
    if (s['x-kubernetes-preserve-unknown-fields'] === false) this.err(`${path}.x-kubernetes-preserve-unknown-fields`, 'Invalid', 'must be true or undefined', false);
    if (intOrString && preserve) this.err(`${path}.x-kubernetes-preserve-unknown-fields`, 'Invalid', 'must be false if x-kubernetes-int-or-string is true', true);
    if (intOrString && embedded) this.err(`${path}.x-kubernetes-embedded-resource`, 'Invalid', 'must be false if x-kubernetes-int-or-string is true', true);
    if (embedded && type !== 'object') this.err(`${path}.type`, type ? 'Invalid' : 'Required', 'must be object if x-kubernetes-embedded-resource is true', type);
    else if (!type && !intOrString && !preserve) {
      const where = { root: 'at the root', item: 'for specified array items', field: 'for specified object fields' }[level];
      this.err(`${path}.type`, 'Required', `must not be empty ${where}`);
    }
    if (level === 'root' && type && type !== 'object') this.err(`${path}.type`, 'Invalid', 'must be object at the root', type);
    if (type === 'array' && s.items === undefined) this.err(`${path}.items`, 'Required', 'must be specified');
    const props = isNode(s.properties) ? s.properties : {};
    const additional = s.additionalProperties;
    if (additional !== undefined) {
      if (level === 'root') this.err(`${path}.additionalProperties`, 'Forbidden', 'must not be used at the root');
      if (Object.keys(props).length > 0 && additional !== true) this.err(`${path}.additionalProperties`, 'Forbidden', 'additionalProperties and properties are mutual exclusive');
      if (isNode(additional)) this.node(additional, `${path}.additionalProperties`, 'field', meta && 'inside');
    }
    this.extensions(s, path, type, props);
    const resourceRoot = level === 'root' || embedded;
    for (const [k, v] of Object.entries(props)) {
      if (!isNode(v)) continue;
      const p = `${path}.properties[${k}]`;
      const isMeta = resourceRoot && ['metadata', 'kind', 'apiVersion'].includes(k);
      this.node(v, p, 'field', isMeta ? (level === 'root' ? 'top' : 'inside') : meta);
      if (resourceRoot && (k === 'kind' || k === 'apiVersion') && v.type !== 'string') this.err(`${p}.type`, 'Invalid', 'must be string', v.type);
      if (k === 'metadata' && resourceRoot) this.metadata(v, p, level === 'root');
    }
    if (isNode(s.items)) this.node(s.items, `${path}.items`, 'item', meta);
    // The IntOrString exceptions: `anyOf: [{type: integer}, {type: string}]`, directly or as allOf[0].anyOf.
    const anyOf = isIntOrString(s.anyOf) ? [] : s.anyOf;
    const allOf = Array.isArray(s.allOf) && isNode(s.allOf[0]) && isIntOrString(s.allOf[0].anyOf)
      ? [{ ...s.allOf[0], anyOf: undefined }, ...(s.allOf as unknown[]).slice(1)] : s.allOf;
    for (const [j, list] of [['allOf', allOf], ['anyOf', anyOf], ['oneOf', s.oneOf]] as const) {
      (Array.isArray(list) ? (list as unknown[]) : []).forEach((n, i) => isNode(n) && this.nested(n, `${path}.${j}[${i}]`, s, path, level === 'root'));
    }
    if (isNode(s.not)) this.nested(s.not, `${path}.not`, s, path, level === 'root');
  }

  /** validateStructuralMetadataInvariants: at the root, only name and generateName may be said about metadata. */
  metadata(s: Node, path: string, root: boolean): void {
    if (s.type !== 'object') this.err(`${path}.type`, 'Invalid', 'must be object', s.type ?? '');
    if (!root) return;
    const props = isNode(s.properties) ? Object.keys(s.properties) : [];
    const onlyNames = props.length > 0 && props.every((k) => k === 'name' || k === 'generateName');
    const rest = Object.keys(s).filter((k) => k !== 'type' && k !== 'default' && !(k === 'properties' && (onlyNames || props.length === 0)));
    if (rest.length > 0) this.err(path, 'Forbidden', 'must not specify anything other than name and generateName, but metadata is implicitly specified');
  }

  /** A schema under allOf/anyOf/oneOf/not: value validation only, every field it names also in the structural part. */
  nested(s: Node, path: string, structural: Node | undefined, sPath: string, complete: boolean): void {
    const forbid = (k: string, detail: string): void => { if (s[k] !== undefined && s[k] !== false && s[k] !== '') this.err(`${path}.${k}`, 'Forbidden', detail); };
    forbid('type', 'must be empty to be structural');
    forbid('additionalProperties', 'must be undefined to be structural');
    forbid('default', 'must be undefined to be structural');
    forbid('title', 'must be empty to be structural');
    forbid('description', 'must be empty to be structural');
    forbid('nullable', 'must be false to be structural');
    forbid('externalDocs', 'must be undefined to be structural');
    for (const x of EXTENSIONS) forbid(x, x === 'x-kubernetes-list-type' || x === 'x-kubernetes-map-type' ? 'must be undefined to be structural'
      : x === 'x-kubernetes-list-map-keys' || x === 'x-kubernetes-validations' ? 'must be empty to be structural' : 'must be false to be structural');
    const props = isNode(s.properties) ? s.properties : {};
    if ('metadata' in props) this.err(`${path}.properties[metadata]`, 'Forbidden', 'must not be specified in a nested context');
    const known = structural && isNode(structural.properties) ? structural.properties : {};
    for (const [k, v] of Object.entries(props)) {
      // validateStructuralCompleteness (complete.go): the field must exist in the structural schema too. Upstream
      // checks this only for the junctors of the root schema (it does not walk down the structural properties).
      if (complete && !(k in known)) this.err(`${sPath}.properties[${k}]`, 'Required', `because it is defined in ${path}.properties[${k}]`);
      if (isNode(v)) this.nested(v, `${path}.properties[${k}]`, isNode(known[k]) ? known[k] : undefined, `${sPath}.properties[${k}]`, complete && k in known);
    }
    if (isNode(s.items)) {
      if (complete && !isNode(structural?.items)) this.err(`${sPath}.items`, 'Required', `because it is defined in ${path}.items`);
      this.nested(s.items, `${path}.items`, isNode(structural?.items) ? structural.items : undefined, `${sPath}.items`, complete && isNode(structural?.items));
    }
    for (const j of JUNCTORS) (Array.isArray(s[j]) ? (s[j] as unknown[]) : []).forEach((n, i) => isNode(n) && this.nested(n, `${path}.${j}[${i}]`, structural, sPath, complete));
    if (isNode(s.not)) this.nested(s.not, `${path}.not`, structural, sPath, complete);
  }

  extensions(s: Node, path: string, type: string, props: Node): void {
    const mapType = s['x-kubernetes-map-type'];
    if (mapType !== undefined && type !== 'object') this.err(`${path}.type`, type ? 'Invalid' : 'Required', 'must be object if x-kubernetes-map-type is specified', type);
    if (mapType !== undefined && mapType !== 'atomic' && mapType !== 'granular') this.err(`${path}.x-kubernetes-map-type`, 'Unsupported value', `"${text(mapType)}": supported values: "atomic", "granular"`);
    const listType = s['x-kubernetes-list-type'];
    if (listType !== undefined && type !== 'array') this.err(`${path}.type`, type ? 'Invalid' : 'Required', 'must be array if x-kubernetes-list-type is specified', type);
    if (listType !== undefined && !['atomic', 'set', 'map'].includes(text(listType))) this.err(`${path}.x-kubernetes-list-type`, 'Unsupported value', `"${text(listType)}": supported values: "atomic", "map", "set"`);
    const keys = Array.isArray(s['x-kubernetes-list-map-keys']) ? (s['x-kubernetes-list-map-keys'] as unknown[]).map(String) : [];
    if (keys.length > 0 && listType !== 'map') this.err(`${path}.x-kubernetes-list-type`, listType === undefined ? 'Required' : 'Invalid', 'must be map if x-kubernetes-list-map-keys is non-empty', listType);
    const items = isNode(s.items) ? s.items : undefined;
    if (listType === 'map') {
      if (keys.length === 0) this.err(`${path}.x-kubernetes-list-map-keys`, 'Required', 'must not be empty if x-kubernetes-list-type is map');
      if (!items) this.err(`${path}.items`, 'Required', 'must have a schema if x-kubernetes-list-type is map');
      else if (items.type !== 'object') this.err(`${path}.items.type`, 'Invalid', "must be object if parent array's x-kubernetes-list-type is map", items.type);
      else {
        const itemProps = isNode(items.properties) ? items.properties : {};
        const required = Array.isArray(items.required) ? items.required : [];
        keys.forEach((k, i) => {
          const p = itemProps[k];
          if (!isNode(p)) this.err(`${path}.x-kubernetes-list-map-keys`, 'Invalid', 'entries must all be names of item properties', keys);
          else {
            if (p.type === 'array' || p.type === 'object') this.err(`${path}.items.properties[${k}].type`, 'Invalid', "must be a scalar type if parent array's x-kubernetes-list-type is map", items.type);
            if (!required.includes(k) && p.default === undefined) this.err(`${path}.items.properties[${k}].default`, 'Required', 'this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property');
            if (p.nullable === true) this.err(`${path}.items.properties[${k}].nullable`, 'Forbidden', 'this property is in x-kubernetes-list-map-keys, so it cannot be nullable');
          }
          if (keys.indexOf(k) !== i) this.err(`${path}.x-kubernetes-list-map-keys`, 'Invalid', 'must not contain duplicate entries', keys);
        });
      }
    }
    if ((listType === 'set' || listType === 'map') && items?.nullable === true) this.err(`${path}.items.nullable`, 'Forbidden', `cannot be nullable when x-kubernetes-list-type is ${text(listType)}`);
    if (listType === 'set' && items?.type === 'object' && items['x-kubernetes-map-type'] !== 'atomic') this.err(`${path}.items.x-kubernetes-map-type`, 'Invalid', 'must be atomic as item of a list with x-kubernetes-list-type=set', items['x-kubernetes-list-type']);
    if (listType === 'set' && items?.type === 'array' && (items['x-kubernetes-list-type'] ?? 'atomic') !== 'atomic') this.err(`${path}.items.x-kubernetes-list-type`, 'Invalid', 'must be atomic as item of a list with x-kubernetes-list-type=set', items['x-kubernetes-list-type']);
    const rules = Array.isArray(s['x-kubernetes-validations']) ? (s['x-kubernetes-validations'] as unknown[]) : [];
    rules.forEach((r, i) => {
      const rule = isNode(r) ? r : {};
      const at = `${path}.x-kubernetes-validations[${i}]`;
      const message = typeof rule.message === 'string' ? rule.message : '';
      if (typeof rule.rule !== 'string' || !rule.rule.trim()) this.err(`${at}.rule`, 'Required', 'rule is not specified');
      else if (message && !message.trim()) this.err(`${at}.message`, 'Invalid', 'message must be non-empty if specified', message);
      else if (/[\n\r]/.test(message.trim())) this.err(`${at}.message`, 'Invalid', 'message must not contain line breaks', message);
      else if (/[\n\r]/.test(rule.rule.trim()) && !message.trim()) this.err(`${at}.message`, 'Required', 'message must be specified if rule contains line breaks');
      if (rule.reason !== undefined && !REASONS.has(text(rule.reason))) this.err(`${at}.reason`, 'Unsupported value', `"${text(rule.reason)}": supported values: ${[...REASONS].sort().map((r) => `"${r}"`).join(', ')}`);
      if (typeof rule.fieldPath === 'string' && !validFieldPath(rule.fieldPath, props)) this.err(`${at}.fieldPath`, 'Invalid', 'fieldPath must be a valid path', rule.fieldPath);
    });
  }
}

/** A `.a.b` field path (cel.ValidFieldPath, dot form only: what this project uses) naming properties that exist. */
function validFieldPath(path: string, props: Node): boolean {
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(path)) return false;
  let here: Node = props;
  for (const part of path.slice(1).split('.')) {
    const next = here[part];
    if (!isNode(next)) return false;
    here = isNode(next.properties) ? next.properties : {};
  }
  return true;
}

/** The errors the apiserver would report for one CRD version's openAPIV3Schema (empty: accepted). */
export function structuralErrors(schema: unknown, opts: { statusSubresource?: boolean } = {}): string[] {
  const c = new Checker();
  const root = 'openAPIV3Schema';
  if (!isNode(schema)) return [`${root}: Required: must be specified`];
  if (opts.statusSubresource) {
    if (schema.type !== undefined && schema.type !== 'object') c.err(`${root}.type`, 'Invalid', 'only "object" is allowed as the type at the root of the schema if the status subresource is enabled', schema.type);
    const extra = Object.keys(schema).filter((k) => !ROOT_WITH_STATUS.has(k));
    if (extra.length > 0) c.err(root, 'Invalid', `only [${ROOT_WITH_STATUS_GO}] fields are allowed at the root of the schema if the status subresource is enabled`, schema);
  }
  if (schema.nullable === true) c.err(`${root}.nullable`, 'Forbidden', 'nullable cannot be true at the root');
  c.node(schema, root, 'root', undefined);
  return c.errors;
}

type Column = { name?: string; type?: string; format?: string; jsonPath?: string };

/** ValidateCustomResourceColumnDefinition. */
export function printerColumnErrors(columns: readonly Column[]): string[] {
  return columns.flatMap((col, i) => {
    const at = `additionalPrinterColumns[${i}]`;
    const out: string[] = [];
    if (!col.name) out.push(`${at}.name: Required value`);
    if (!col.type || !COLUMN_TYPES.has(col.type)) out.push(`${at}.type: ${col.type ? `Invalid value: "${col.type}"` : 'Required value'}: must be one of boolean,date,integer,number,string`);
    if (col.format && !COLUMN_FORMATS.has(col.format)) out.push(`${at}.format: Invalid value: "${col.format}": must be one of ${[...COLUMN_FORMATS].sort().join(',')}`);
    const path = col.jsonPath ?? '';
    if (!path.startsWith('.')) out.push(`${at}.JSONPath: Invalid value: "${path}": must be a simple json path starting with .`);
    return out;
  });
}

/**
 * Our rule (not the apiserver's: Gateway API's own Gateway CRD breaks it): columns whose JSONPath selects several
 * values (`[*]`, `..`, unions, slices), of which the apiserver's table printer shows only the first. A filter such as
 * `[?(@.type=="Ready")]` on a list-map keyed by type selects one.
 */
export function multiValueColumns(columns: readonly Column[]): string[] {
  return columns.filter((c) => /\[\*\]|\.\.|\[[^\]]*[,:][^\]]*\]/.test((c.jsonPath ?? '').replace(/\[\?\([^)]*\)\]/g, '[?]')))
    .map((c) => `${c.name ?? ''}: "${c.jsonPath ?? ''}" selects several values and kubectl shows only the first`);
}

/** Every check above on a whole CustomResourceDefinition object (all versions). */
export function crdErrors(crd: unknown): string[] {
  const versions = isNode(crd) && isNode(crd.spec) && Array.isArray(crd.spec.versions) ? (crd.spec.versions as unknown[]) : [];
  return versions.flatMap((v, i) => {
    const version = isNode(v) ? v : {};
    const schema = isNode(version.schema) ? version.schema.openAPIV3Schema : undefined;
    const status = isNode(version.subresources) && version.subresources.status !== undefined;
    const columns = Array.isArray(version.additionalPrinterColumns) ? (version.additionalPrinterColumns as Node[]) : [];
    return [...structuralErrors(schema, { statusSubresource: status }), ...printerColumnErrors(columns)].map((e) => `spec.versions[${i}].${e}`);
  });
}
