/**
 * Good and bad TokenPolicy samples (test/fixtures/tokenpolicies) through what `kubectl apply` would meet — the
 * generated schema (ajv), pruning, defaulting and the CEL rules (cel-js) — and through the data plane's own parser.
 * Each bad sample states, in `# key: line` comments, every line it expects from each:
 *   schema:    an ajv error on the generated openAPIV3Schema, `instancePath keyword`
 *   unknown:   a field the apiserver prunes (kubectl's strict field validation refuses it)
 *   apiserver: a CEL rule failure or list-map duplicate, exactly as kubectl prints it
 *   parse:     a parsePolicies error, `path: message`
 *   gap:       why the CRD and the data plane disagree on this sample (reported, never silent)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePolicies } from '../policy/parse.js';
import { crdValidator } from '../../test/helpers/schemas.js';
import { apiserverVerdict, celErrors, type Verdict } from '../../test/helpers/crd-apiserver.js';
import { CRD_FILE, openApiSchema, type JSONSchemaProps } from './index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = `${ROOT}test/fixtures/tokenpolicies/`;
const schema = openApiSchema();
const validate = crdValidator(`${ROOT}${CRD_FILE}`);

function schemaCheck(obj: unknown): string[] {
  return validate(obj) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`);
}

interface Sample {
  file: string;
  text: string;
  expect: Record<'schema' | 'unknown' | 'apiserver' | 'parse' | 'gap', string[]>;
}

function samples(kind: 'good' | 'bad'): Sample[] {
  return readdirSync(`${DIR}${kind}`).filter((f) => f.endsWith('.yaml')).sort().map((file) => {
    const text = readFileSync(`${DIR}${kind}/${file}`, 'utf8');
    const expect: Sample['expect'] = { schema: [], unknown: [], apiserver: [], parse: [], gap: [] };
    for (const m of text.matchAll(/^# (schema|unknown|apiserver|parse|gap): (.*)$/gm)) expect[m[1] as keyof Sample['expect']].push(m[2] ?? '');
    return { file, text, expect };
  });
}

function verdict(text: string): Verdict {
  return apiserverVerdict(parse(text) as unknown, schema, schemaCheck);
}

function parseErrors(text: string): string[] {
  return parsePolicies(text).errors.map((e) => `${e.path}: ${e.message}`);
}

const sorted = (xs: string[]): string[] => [...xs].sort();
const good = samples('good');
const bad = samples('bad');

describe('good TokenPolicy samples', () => {
  it('there are some', () => expect(good.length).toBeGreaterThanOrEqual(5));

  it('carry no status, nor do the examples: what users apply must not fight the operator, which alone writes status', () => {
    const examples = readdirSync(`${ROOT}manifests/examples`).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(`${ROOT}manifests/examples/${f}`, 'utf8'));
    const withStatus = [...good.map((s) => s.text), ...examples].flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown> | null))
      .filter((d) => d && 'status' in d).map((d) => JSON.stringify((d as { metadata?: unknown }).metadata));
    expect(withStatus).toEqual([]);
  });

  it.each(good.map((s) => [s.file, s] as const))('%s passes the schema, pruning and every CEL rule', (_f, s) => {
    const v = verdict(s.text);
    expect({ schema: v.schema, unknown: v.unknown, apiserver: v.apiserver }).toEqual({ schema: [], unknown: [], apiserver: [] });
  });

  it.each(good.map((s) => [s.file, s] as const))('%s parses in the data plane, the same with the apiserver defaults', (_f, s) => {
    const raw = parsePolicies(s.text);
    expect(raw.errors).toEqual([]);
    expect(raw.policies).toHaveLength(1);
    // The stored object has the CRD's defaults filled in: the data plane must read it as the same policy.
    expect(parsePolicies(stringify(verdict(s.text).object))).toEqual(raw);
  });
});

describe('bad TokenPolicy samples', () => {
  it('there are some', () => expect(bad.length).toBeGreaterThanOrEqual(20));

  it.each(bad.map((s) => [s.file, s] as const))('%s: exactly the expected errors', (_f, s) => {
    const v = verdict(s.text);
    expect({ schema: sorted(v.schema), unknown: sorted(v.unknown), apiserver: sorted(v.apiserver), parse: sorted(parseErrors(s.text)) })
      .toEqual({ schema: sorted(s.expect.schema), unknown: sorted(s.expect.unknown), apiserver: sorted(s.expect.apiserver), parse: sorted(s.expect.parse) });
  });

  it.each(bad.map((s) => [s.file, s] as const))('%s is rejected by the CRD and by the data plane, or says why not', (_f, s) => {
    const v = verdict(s.text);
    const crdRejects = v.schema.length + v.unknown.length + v.apiserver.length > 0;
    const parseRejects = parseErrors(s.text).length > 0;
    // A gap must be a real disagreement; without one, both must refuse the sample.
    if (s.expect.gap.length > 0) expect(crdRejects && parseRejects).toBe(false);
    else expect({ crdRejects, parseRejects }).toEqual({ crdRejects: true, parseRejects: true });
  });

  it('every CEL rule of the CRD fails on at least one bad sample', () => {
    const fired = new Set<string>();
    const walk = (s: JSONSchemaProps): void => {
      for (const r of s['x-kubernetes-validations'] ?? []) fired.add(r.rule);
      Object.values(s.properties ?? {}).forEach(walk);
      if (s.items) walk(s.items);
    };
    walk(schema);
    const all = [...fired];
    const used = new Set<string>();
    for (const s of bad) {
      const obj = verdict(s.text).object;
      for (const rule of all) {
        const only = strip(schema, rule);
        if (celErrors(obj, only).length > 0) used.add(rule);
      }
    }
    expect(all.filter((r) => !used.has(r))).toEqual([]);
  });
});

/** A copy of the schema keeping only the CEL rule `rule` (to see which rule a sample trips). */
function strip(s: JSONSchemaProps, rule: string): JSONSchemaProps {
  const out: JSONSchemaProps = { ...s, 'x-kubernetes-validations': (s['x-kubernetes-validations'] ?? []).filter((r) => r.rule === rule) };
  delete out['x-kubernetes-list-type'];
  if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, p]) => [k, strip(p, rule)]));
  if (s.items) out.items = strip(s.items, rule);
  return out;
}
