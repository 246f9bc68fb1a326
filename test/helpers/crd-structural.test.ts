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
import { STRUCTURAL_CASES, obj, str } from './crd-structural-cases.js';

const SCHEMAS = fileURLToPath(new URL('../schemas/', import.meta.url));

describe('the apiserver CRD rules', () => {
  const upstream = ['envoy-gateway', 'gateway-api', 'istio', 'prometheus-operator'].flatMap((d) =>
    readdirSync(join(SCHEMAS, d)).filter((f) => f.endsWith('.yaml')).map((f) => `${d}/${f}`));

  it.each(upstream)('accept the upstream CRD %s', (file) => {
    const crds = parseAllDocuments(readFileSync(join(SCHEMAS, file), 'utf8')).map((d) => d.toJS() as unknown).filter((d) => (d as { kind?: string } | null)?.kind === 'CustomResourceDefinition');
    expect(crds.length).toBeGreaterThan(0);
    for (const crd of crds) expect(crdErrors(crd)).toEqual([]);
  });


  it.each(STRUCTURAL_CASES)('refuse %s', (_what, schema, error, opts) => {
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
      'additionalPrinterColumns[0].type: Invalid value: "text": must be one of boolean,date,integer,number,string',
      'additionalPrinterColumns[0].JSONPath: Invalid value: "spec.x": must be a simple json path starting with .',
    ]);
  });
});
