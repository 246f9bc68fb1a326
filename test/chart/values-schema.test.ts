import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, parseDocument, type YAMLMap } from 'yaml';
import { CHART_DIR, ciScenarios, defaultValues, mergeValues, renderChart, schemaProblems } from '../helpers/helm.js';

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  $ref?: string;
  definitions?: Record<string, SchemaNode>;
}

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as SchemaNode;
const resolve = (n: SchemaNode): SchemaNode => (n.$ref ? schema.definitions?.[n.$ref.replace('#/definitions/', '')] ?? {} : n);

/** Values are checked before rendering, so these tests need no renderer. */
describe('values.schema.json rejects bad values with a clear message', () => {
  const rejects = (values: Record<string, unknown>, message: RegExp): void => {
    expect(() => renderChart({ values: [values] })).toThrow(message);
  };

  it('accepts the defaults and every CI scenario', () => {
    expect(schemaProblems(defaultValues())).toEqual([]);
    for (const [name, file] of ciScenarios()) {
      const over = parseDocument(readFileSync(file, 'utf8')).toJS() as Record<string, unknown>;
      expect(schemaProblems(mergeValues(defaultValues(), over)), name).toEqual([]);
    }
  });

  it('an unknown top-level key', () => rejects({ replicas: 3 }, /values don't match values.schema.json:\n {2}\/replicas: unknown key/));
  it('an unknown nested key', () => rejects({ extproc: { autoscaling: { targetCPU: 50 } } }, /\/extproc\/autoscaling\/targetCPU: unknown key/));
  it('a value outside an enum', () => {
    rejects({ gateway: { flavour: 'Nginx' } }, /\/gateway\/flavour: must be one of "EnvoyGateway", "Istio", "Envoy"/);
    rejects({ operator: { logLevel: 'verbose' } }, /\/operator\/logLevel: must be one of "fatal", "error"/);
    rejects({ image: { pullPolicy: 'Sometimes' } }, /\/image\/pullPolicy: must be one of "Always", "IfNotPresent", "Never"/);
  });
  it('rateLimit Off unquoted (YAML reads false)', () => rejects({ gateway: { envoyGateway: { rateLimit: false } } }, /\/gateway\/envoyGateway\/rateLimit: must be string/));
  it('a value of the wrong type', () => {
    rejects({ extproc: { replicas: '3' } }, /\/extproc\/replicas: must be integer/);
    rejects({ crds: { enabled: 'yes' } }, /\/crds\/enabled: must be boolean/);
    rejects({ commonLabels: { team: 7 } }, /\/commonLabels\/team: must be string/);
  });
  it('a malformed duration or Redis URL', () => {
    rejects({ gateway: { messageTimeout: '0.2s' } }, /\/gateway\/messageTimeout: must match pattern/);
    rejects({ redis: { url: 'http://cache:6379' } }, /\/redis\/url: must match pattern/);
  });
  it('free-form maps stay free-form', () => {
    const values = mergeValues(defaultValues(), {
      extproc: { resources: { limits: { memory: '1Gi' } }, affinity: { podAntiAffinity: {} }, extraEnv: [{ name: 'X', value: 'y' }] },
      podSecurityContext: { runAsUser: 1000 }, commonLabels: { team: 'llm' },
    });
    expect(schemaProblems(values)).toEqual([]);
  });
  it('null deletes a default, like Helm', () => {
    expect(mergeValues({ a: { b: 1, c: 2 }, l: [1] }, { a: { b: null }, l: [2] })).toEqual({ a: { c: 2 }, l: [2] });
  });
});

describe('values.yaml and values.schema.json cover each other', () => {
  it('every object of ours in the schema rejects unknown keys', () => {
    const loose: string[] = [];
    const walk = (n: SchemaNode, path: string): void => {
      const r = resolve(n);
      if (!r.properties) return;
      if (r.additionalProperties !== false) loose.push(path || '(top level)');
      for (const [k, v] of Object.entries(r.properties)) walk(v, `${path}.${k}`);
    };
    walk(schema, '');
    expect(loose).toEqual([]);
  });

  it('every key in values.yaml has a comment (`# --` for values, helm-docs style) and a schema entry', () => {
    const doc = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'));
    const problems: string[] = [];
    const walk = (map: YAMLMap, node: SchemaNode, path: string): void => {
      map.items.forEach((pair, i) => {
        const key = isScalar(pair.key) ? String(pair.key.value) : '?';
        const comment = (isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? (i === 0 ? map.commentBefore : undefined) ?? '';
        const sub = resolve(node).properties?.[key];
        const section = sub !== undefined && resolve(sub).properties !== undefined;
        if (!sub) problems.push(`${path}${key}: not in values.schema.json`);
        if (!comment.trim()) problems.push(`${path}${key}: no comment`);
        else if (!section && !comment.includes('-- ')) problems.push(`${path}${key}: comment does not start with "# --"`);
        if (section && sub && isMap(pair.value)) walk(pair.value, sub, `${path}${key}.`);
      });
    };
    if (isMap(doc.contents)) walk(doc.contents, schema, '');
    expect(problems).toEqual([]);
  });

  it('every value the schema describes has a default in values.yaml', () => {
    const missing: string[] = [];
    const walk = (n: SchemaNode, values: Record<string, unknown>, path: string): void => {
      for (const [k, v] of Object.entries(resolve(n).properties ?? {})) {
        if (!(k in values)) missing.push(`${path}${k}`);
        else if (resolve(v).properties) walk(v, values[k] as Record<string, unknown>, `${path}${k}.`);
      }
    };
    walk(schema, defaultValues(), '');
    expect(missing).toEqual([]);
  });
});
