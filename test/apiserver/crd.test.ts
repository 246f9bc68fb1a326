/**
 * The TokenPolicy CRD and samples against a real kube-apiserver (v1.20.2; see test/helpers/kube-apiserver.ts):
 * - the apiserver refuses what the fast tier's CRD rules (test/helpers/crd-structural.ts) refuse, in the same words,
 *   for every case 1.20 can judge — the CRD before this fix (root metadata with a description) first;
 * - the generated CRD (CEL stripped: 1.20 has no x-kubernetes-validations) is accepted by `kubectl apply
 *   --server-side`, and with its CEL rules it is refused for exactly that field (the documented gap);
 * - good samples and the examples are accepted and stored with the defaults the fast tier's emulation applies;
 * - bad samples the schema alone must reject are rejected by server-side apply at the expected fields (unknown fields
 *   included; a plain create prunes them silently on 1.20, which has no field validation); the samples only CEL
 *   rejects are accepted here — CEL, its cost budget and messageExpression/fieldPath/reason are the fast tier's
 *   (cel-js evaluator in test/helpers/crd-apiserver.ts), this server cannot speak for them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CRD_FILE, CRD_NAME, openApiSchema, tokenPolicyCrd, type JSONSchemaProps } from '../../src/crd/index.js';
import type { KubeClient, KubeObject } from '../../src/k8s/client.js';
import { apiserverVerdict } from '../helpers/crd-apiserver.js';
import { STRUCTURAL_CASES } from '../helpers/crd-structural-cases.js';
import { crdErrors, structuralErrors } from '../helpers/crd-structural.js';
import { ROOT } from '../helpers/helm.js';
import { describeApiServer, startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.js';
import { stripCel, yamlObjects } from '../helpers/kube-objects.js';
import { crdValidator } from '../helpers/schemas.js';

const SAMPLES = join(ROOT, 'test', 'fixtures', 'tokenpolicies');
const EXAMPLES = join(ROOT, 'manifests', 'examples');
const SSA = { fieldManager: 'tokenmeter-test', force: true };
const NS = 'samples';

/** The expectations a bad sample states in `# key: line` comments (see src/crd/samples.test.ts). */
function expectations(text: string): Record<'schema' | 'unknown' | 'apiserver', string[]> {
  const out = { schema: [] as string[], unknown: [] as string[], apiserver: [] as string[] };
  for (const m of text.matchAll(/^# (schema|unknown|apiserver): (.*)$/gm)) out[m[1] as keyof typeof out].push(m[2] ?? '');
  return out;
}

/** `/spec/limits/0/tokens type` → `spec.limits[0].tokens`. */
function fieldOf(schemaLine: string): string {
  return (schemaLine.split(' ')[0] ?? '').slice(1).split('/').map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : `${i ? '.' : ''}${p}`)).join('');
}

describeApiServer('TokenPolicy CRD and samples on kube-apiserver 1.20', () => {
  let api: KubeApiServer;
  let admin: KubeClient;
  let dir: string;

  beforeAll(async () => {
    api = await startKubeApiServer();
    admin = api.client();
    dir = mkdtempSync(join(tmpdir(), 'tm-crd-'));
    await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const crdFor = (name: string, schema: unknown, status = false): KubeObject => ({
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `${name}s.calibration.example.com` },
    spec: {
      group: 'calibration.example.com', scope: 'Namespaced', names: { kind: name[0]?.toUpperCase() + name.slice(1), plural: `${name}s` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema }, ...(status ? { subresources: { status: {} } } : {}) }],
    },
  });

  it('refuses the CRD as it was (root metadata with a description), in the words the fast tier\'s rule uses', async () => {
    const before = tokenPolicyCrd();
    const props = before.spec.versions[0]?.schema.openAPIV3Schema.properties ?? {};
    props.metadata = { description: 'Standard object metadata.', type: 'object' };
    const file = join(dir, 'before.yaml');
    writeFileSync(file, JSON.stringify(stripCel(before)));
    const r = await api.kubectl(['apply', '--server-side', '-f', file]);
    expect(r.code).not.toBe(0);
    const detail = 'properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified';
    expect(r.stderr).toContain(`The CustomResourceDefinition "${CRD_NAME}" is invalid`);
    expect(r.stderr).toContain(`openAPIV3Schema.${detail}`);
    expect(crdErrors(before)).toEqual([`spec.versions[0].openAPIV3Schema.${detail}`]);
  });

  // The rules 1.20 does not have: CEL (x-kubernetes-validations) fields, introduced in 1.23-1.28.
  const judged = STRUCTURAL_CASES.filter(([, schema]) => !JSON.stringify(schema).includes('x-kubernetes-validations'));

  it.each(judged)('agrees with the fast tier\'s CRD rules: refuses %s', async (what, schema, line, opts) => {
    expect(structuralErrors(schema, opts)).toContain(line);
    const name = `c${Math.abs([...what].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7)).toString(36)}`;
    // A raw POST: client-node's serializer would drop keys it maps to other names ($ref, x-kubernetes-*) from a CRD.
    const r = await api.request('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { method: 'POST', body: JSON.stringify(crdFor(name, schema, opts?.statusSubresource)) });
    const message = String((r.body as { message?: string }).message ?? '');
    expect(r.status, `${what}: ${message}`).toBe(422);
    // Same field, kind and detail; 1.20 prefixes a one-version CRD's schema with spec.validation (current releases:
    // spec.versions[0].schema). An invalid value is compared apart: Go prints some (a whole schema) its own way.
    // 1.20 lists the root keywords allowed with the status subresource without XValidations (CEL came later).
    const at = line.replace(/(^|in )openAPIV3Schema/g, '$1spec.validation.openAPIV3Schema').replace(' XValidations]', ']');
    const invalid = /^(\S+): Invalid value: ("[^"]*"|\[\]string\{[^}]*\}|\S+): (.*)$/.exec(at);
    if (invalid) {
      expect(message, what).toContain(`${invalid[1] ?? ''}: Invalid value: `);
      expect(message, what).toContain(`: ${invalid[3] ?? ''}`);
    } else {
      expect(message, what).toContain(at);
    }
  });

  it('accepts the generated CRD with its CEL rules stripped (kubectl apply --server-side), and refuses exactly those rules', async () => {
    // kubectl 1.20 validates against the server's CRD schema, which has no x-kubernetes-validations: each error is
    // an unknown field (kubectl prints its name as "") where the CRD has CEL rules, and nothing else.
    const withCel = await api.kubectl(['apply', '--server-side', '-f', join(ROOT, CRD_FILE)]);
    expect(withCel.code).not.toBe(0);
    const errors = [...withCel.stderr.matchAll(/ValidationError\(CustomResourceDefinition\.spec\.versions\[0\]\.schema\.openAPIV3Schema\.([^)]*)\): ([^,\]]*)/g)];
    expect(errors.length).toBeGreaterThan(0);
    for (const [, path, error] of errors) {
      expect(error).toMatch(/^unknown field "[^"]*" in io\.k8s\.apiextensions-apiserver\.pkg\.apis\.apiextensions\.v1\.JSONSchemaProps$/);
      let node: unknown = openApiSchema();
      for (const part of (path ?? '').split('.')) node = (node as Record<string, unknown>)[part];
      expect((node as Record<string, unknown>)['x-kubernetes-validations'], path).toBeDefined();
    }
    const file = join(dir, 'crd.yaml');
    writeFileSync(file, JSON.stringify(stripCel(parse(readFileSync(join(ROOT, CRD_FILE), 'utf8')))));
    const r = await api.kubectl(['apply', '--server-side', '-f', file]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`customresourcedefinition.apiextensions.k8s.io/${CRD_NAME} serverside-applied`);
    const wait = await api.kubectl(['wait', '--for=condition=Established', `crd/${CRD_NAME}`, '--timeout=30s']);
    expect(wait.code, wait.stderr).toBe(0);
    const stored = await admin.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: CRD_NAME });
    const conditions = (stored?.status as { conditions: { type: string; status: string }[] }).conditions;
    expect(conditions.filter((c) => c.status === 'True').map((c) => c.type).sort()).toEqual(['Established', 'NamesAccepted']);
  }, 60_000);

  it('accepts every good sample and example, stored with the defaults the fast tier emulates', async () => {
    const files = [
      ...readdirSync(join(SAMPLES, 'good')).map((f) => join(SAMPLES, 'good', f)),
      ...readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).map((f) => join(EXAMPLES, f)),
    ].filter((f) => f.endsWith('.yaml')).sort();
    for (const ns of new Set(files.flatMap(yamlObjects).map((o) => o.metadata.namespace ?? NS))) {
      if (!(await admin.get({ apiVersion: 'v1', kind: 'Namespace', name: ns }))) await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    }
    // kubectl -n refuses objects naming another namespace: one call per namespace, as a user would.
    const byNamespace = new Map<string, string[]>();
    for (const f of files) {
      const ns = yamlObjects(f)[0]?.metadata.namespace ?? NS;
      byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), f]);
    }
    for (const [ns, group] of byNamespace) {
      const r = await api.kubectl(['apply', '--server-side', '-n', ns, ...group.flatMap((f) => ['-f', f])]);
      expect(r.stderr).toBe('');
    }
    const validate = crdValidator(join(ROOT, CRD_FILE));
    const schemaCheck = (o: unknown): string[] => (validate(o) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`));
    const policies = files.flatMap(yamlObjects).filter((o) => o.kind === 'TokenPolicy');
    expect(policies.length).toBeGreaterThanOrEqual(9);
    for (const p of policies) {
      const stored = await admin.get({ apiVersion: p.apiVersion, kind: p.kind, namespace: p.metadata.namespace ?? NS, name: p.metadata.name });
      expect(stored, p.metadata.name).toBeDefined();
      const emulated = apiserverVerdict(p, openApiSchema(), schemaCheck).object as { spec?: unknown };
      expect(stored?.spec, p.metadata.name).toEqual(emulated.spec);
    }
  }, 60_000);

  it('kubectl explain shows every field of the schema with its description (tiers, overrides and the reservation modes included)', async () => {
    // Every object node once: explain prints its own description and each field's name and description under FIELDS.
    const objects: [string, JSONSchemaProps][] = [];
    const walk = (path: string, s: JSONSchemaProps): void => {
      const node = s.type === 'array' && s.items ? s.items : s;
      if (node.properties && path !== 'metadata') objects.push([path, node]);
      for (const [k, p] of Object.entries(node.properties ?? {})) if (path !== 'metadata') walk(path ? `${path}.${k}` : k, p);
    };
    walk('', openApiSchema());
    expect(objects.map(([p]) => p)).toEqual(expect.arrayContaining(['spec.tiers', 'spec.tiers.selector', 'spec.tiers.plans', 'spec.tiers.plans.limits', 'spec.overrides', 'spec.overrides.limits']));
    const flat = (t: string): string => t.replace(/\s+/g, ' ');
    // The apiserver publishes a new CRD's OpenAPI a moment after it is established.
    const explain = async (path: string): Promise<string> => {
      for (let i = 0; ; i++) {
        const r = await api.kubectl(['explain', `tokenpolicies${path ? `.${path}` : ''}`, '--api-version=tokenmeter.dev/v1alpha1']);
        if (r.code === 0) return flat(r.stdout);
        if (i >= 50) throw new Error(`kubectl explain ${path}: ${r.stderr}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    };
    const missing: string[] = [];
    for (const [path, node] of objects) {
      const out = await explain(path);
      if (path && !out.includes(flat(node.description ?? '?'))) missing.push(`${path}: description`);
      for (const [k, p] of Object.entries(node.properties ?? {})) {
        // The root's apiVersion, kind and metadata are described by the apiserver itself.
        if (!path && ['apiVersion', 'kind', 'metadata'].includes(k)) continue;
        if (!out.includes(` ${k} <`, out.indexOf('FIELDS:'))) missing.push(`${path}.${k}: not listed`);
        else if (!out.includes(flat(p.description ?? '?'))) missing.push(`${path}.${k}: description`);
      }
    }
    expect(missing).toEqual([]);
  }, 120_000);

  const bad = readdirSync(join(SAMPLES, 'bad')).filter((f) => f.endsWith('.yaml')).sort()
    .map((f) => ({ file: f, text: readFileSync(join(SAMPLES, 'bad', f), 'utf8') }));
  // What 1.20 enforces without CEL: the structural schema (types, enums, bounds, required), list-map uniqueness, and
  // (server-side apply) fields the schema does not declare.
  const structural = (s: { text: string }): boolean => {
    const e = expectations(s.text);
    return e.schema.length > 0 || e.unknown.length > 0 || e.apiserver.some((l) => / Duplicate value: /.test(l));
  };

  it.each(bad.filter(structural).map((s) => [s.file, s] as const))('rejects %s at the expected fields', async (file, s) => {
    const obj = parse(s.text) as KubeObject;
    const e = expectations(s.text);
    let message = '';
    try {
      await admin.apply({ ...obj, metadata: { name: file.replace('.yaml', ''), namespace: NS } }, SSA);
    } catch (err) {
      message = (err as Error).message;
    }
    // Server-side apply first builds a typed object from the schema (wrong types, unknown fields, duplicate list-map
    // keys fail there: "failed to create typed patch object: .spec.limit: field not declared in schema"); then
    // validation ("is invalid: spec.limits: Invalid value: 0: ..."). 1.20's validation names list items without
    // their index (spec.targetRefs.kind), so fields are compared without indices.
    expect(message).toMatch(/is invalid|failed to create typed patch object/);
    const noIndex = (f: string): string => f.replace(/\[\d+\]/g, '');
    const fields = [...e.schema.map(fieldOf), ...e.unknown, ...e.apiserver.filter((l) => / Duplicate value: /.test(l)).map((l) => (l.split(': ')[0] ?? '').replace(/\[\d+\]$/, ''))];
    expect(fields.length).toBeGreaterThan(0);
    for (const f of fields) expect(noIndex(message), f).toContain(noIndex(f));
  });

  it('takes the samples only CEL (or the data plane) rejects: the fast tier\'s CEL evaluator is what speaks for those', async () => {
    const rest = bad.filter((s) => !structural(s));
    expect(rest.length).toBeGreaterThanOrEqual(15);
    for (const s of rest) {
      const obj = parse(s.text) as KubeObject;
      await admin.apply({ ...obj, metadata: { name: s.file.replace('.yaml', ''), namespace: NS } }, SSA);
      expect(await admin.get({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: NS, name: s.file.replace('.yaml', '') }), s.file).toBeDefined();
      // The sample says who refuses it: a CEL rule (an apiserver: line), or only the data plane (a gap: line).
      const e = expectations(s.text);
      expect(e.apiserver.length > 0 || /^# gap: /m.test(s.text), s.file).toBe(true);
    }
  }, 60_000);

  it('prunes a field the schema does not know when it is created without server-side apply (1.20 has no field validation)', async () => {
    const s = bad.find((b) => expectations(b.text).unknown.length > 0);
    if (!s) throw new Error('no bad sample with an unknown field');
    const obj = parse(s.text) as KubeObject & { spec: Record<string, unknown> };
    // Valid apart from the unknown field (the sample misspells `limits`).
    const stored = await admin.create({ ...obj, metadata: { name: 'pruned', namespace: NS }, spec: { ...obj.spec, limits: [{ name: 'a', tokens: 1, window: '1m' }] } });
    for (const field of expectations(s.text).unknown) {
      let node: unknown = stored;
      for (const p of field.split('.')) node = (node as Record<string, unknown> | undefined)?.[p];
      expect(node, field).toBeUndefined();
    }
  });
});
