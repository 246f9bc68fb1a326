/**
 * The hand-written examples in manifests/examples, checked as far as this machine can (no cluster, no Envoy binary):
 * - Every YAML file parses, every document of it; every Kubernetes document has apiVersion, kind and metadata.name.
 * - TokenPolicy: what `kubectl apply` meets — the generated CRD on disk (crds/, ajv), pruning, defaulting and every
 *   CEL rule (test/helpers/crd-apiserver.ts, as src/crd/samples.test.ts does) — and the data plane's own parser
 *   (src/policy/parse.ts), which must read the apiserver-defaulted object as the same policy.
 * - Gateway, HTTPRoute: the upstream Gateway API v1.6.1 CRD schemas in test/schemas (`schemaErrors`), plus pruning
 *   and the CRDs' CEL rules. Four HTTPRoute rule-level rules cannot be evaluated by @marcbachmann/cel-js (`has()` on
 *   an indexed selection, `has(self.matches[0].path)`); they only constrain ReplacePrefixMatch rewrites, which the
 *   examples do not use, and the test asserts exactly those four are the ones skipped.
 * - GatewayClass, BackendTLSPolicy (gateway.networking.k8s.io/v1), Backend (gateway.envoyproxy.io/v1alpha1),
 *   ServiceEntry and DestinationRule (networking.istio.io/v1): no CRD YAML of these kinds is vendored in test/schemas,
 *   so two checks. (1) The upstream-derived validators of @kubernetes-models/gateway-api, envoy-gateway and istio
 *   (`modelErrors`, test/helpers/upstream-models.ts): types, enums, required fields, patterns and bounds throughout the
 *   object, but neither unknown keys nor CEL rules. (2) Our hand-written structural check: apiVersion/kind/
 *   metadata.name, no key outside the spec keys the upstream CRDs define (a misspelt key fails), and the required
 *   fields, enums and one-of rules those CRDs declare for the fields the examples use.
 * - envoy/envoy.yaml (a static bootstrap; no Envoy binary here to `--mode validate` it): ext_proc before the router,
 *   its filter entry and the `tokenmeter_ext_proc` cluster equal to what the operator renders for the same settings
 *   (src/render/ext-proc-filter.ts, src/render/envoy.ts), every cluster reference resolving, TLS with SNI to
 *   api.openai.com, the io.tokenmeter access log, and the bootstrap's shape (known top-level keys, known @types).
 * - Cross-references: policies' targetRefs, routes' parentRefs and backendRefs, the TLS policy's target and the
 *   DestinationRule's host resolve within each flavour's files; README.md lists every file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { JSONSchemaProps } from '../../src/crd/index.js';
import { CRD_FILE } from '../../src/crd/index.js';
import { loadConfig } from '../../src/config/config.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { extProcCluster } from '../../src/render/envoy.js';
import { extProcHttpFilter, EXT_PROC_FILTER_NAME, METADATA_NAMESPACE, ROUTER_FILTER_NAME } from '../../src/render/ext-proc-filter.js';
import { resolveSettings } from '../../src/render/settings.js';
import { apiserverVerdict, applyDefaults, celErrors, unknownFields } from '../helpers/crd-apiserver.js';
import { crdValidator, schemaErrors } from '../helpers/schemas.js';
import { modelErrors, UPSTREAM_MODELS } from '../helpers/upstream-models.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'manifests/examples');

type Obj = Record<string, unknown>;
interface Doc { file: string; obj: Obj }

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (Array.isArray(v) || isObj(v) ? (v as Record<string | number, unknown>)[k] : undefined), o);

function files(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

const ALL = files(DIR).map((f) => relative(DIR, f));
const YAML_FILES = ALL.filter((f) => /\.ya?ml$/.test(f));
const KUBE_FILES = YAML_FILES.filter((f) => f !== 'envoy/envoy.yaml');

function docs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => ({ file, obj: d.toJS() as Obj }));
}
const KUBE: Doc[] = KUBE_FILES.flatMap(docs);
const ofKind = (kind: string, dir?: string): Doc[] => KUBE.filter((d) => d.obj.kind === kind && (!dir || d.file.startsWith(`${dir}/`)));

// ---------- the TokenPolicy CRD, as on disk ----------
interface Crd { spec: { versions: { name: string; schema: { openAPIV3Schema: JSONSchemaProps } }[] } }
const tokenPolicySchema = (parse(readFileSync(join(ROOT, CRD_FILE), 'utf8')) as Crd).spec.versions[0]?.schema.openAPIV3Schema as JSONSchemaProps;
const tokenPolicyAjv = crdValidator(join(ROOT, CRD_FILE));
const tokenPolicySchemaCheck = (obj: unknown): string[] =>
  (tokenPolicyAjv(obj) ? [] : (tokenPolicyAjv.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`));

// ---------- Gateway API CRDs: CEL rules and pruning ----------
const UNEVALUABLE = (rule: string): boolean => rule.includes('has(self.matches[0].path)');

function gatewayApiSchema(kind: 'Gateway' | 'HTTPRoute'): JSONSchemaProps {
  const file = kind === 'Gateway' ? 'gateway.networking.k8s.io_gateways.yaml' : 'gateway.networking.k8s.io_httproutes.yaml';
  const crd = parse(readFileSync(join(ROOT, 'test/schemas/gateway-api', file), 'utf8')) as Crd;
  const v1 = crd.spec.versions.find((v) => v.name === 'v1');
  if (!v1) throw new Error(`${file}: no v1`);
  return v1.schema.openAPIV3Schema;
}

/** The schema without the rules cel-js cannot evaluate; `skipped` collects them. */
function evaluable(s: JSONSchemaProps, skipped: string[]): JSONSchemaProps {
  const rules = s['x-kubernetes-validations'] ?? [];
  skipped.push(...rules.filter((r) => UNEVALUABLE(r.rule)).map((r) => r.rule));
  const out: JSONSchemaProps = { ...s, 'x-kubernetes-validations': rules.filter((r) => !UNEVALUABLE(r.rule)) };
  if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, p]) => [k, evaluable(p, skipped)]));
  if (s.items) out.items = evaluable(s.items, skipped);
  return out;
}

// ---------- structural checks for the kinds with no vendored CRD (alongside their upstream-derived validator) ----------
interface Shape { apiVersion: string; specKeys: string[]; check: (spec: Obj) => string[] }

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const isPort = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
const need = (ok: boolean, message: string): string[] => (ok ? [] : [message]);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as unknown[]).filter(isObj) : []);

const SHAPES: Record<string, Shape> = {
  GatewayClass: {
    apiVersion: 'gateway.networking.k8s.io/v1',
    specKeys: ['controllerName', 'description', 'parametersRef'],
    check: (s) => need(typeof s.controllerName === 'string' && /^[a-z0-9.-]+\/[A-Za-z0-9/._~%!$&'()*+,;=:-]+$/.test(s.controllerName), 'spec.controllerName: a domain-prefixed path'),
  },
  Backend: {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    specKeys: ['endpoints', 'type', 'appProtocols', 'fallback', 'tls'],
    check: (s) => [
      ...need(list(s.endpoints).length >= 1 && list(s.endpoints).length === (s.endpoints as unknown[]).length, 'spec.endpoints: at least one'),
      ...list(s.endpoints).flatMap((e, i) => [
        ...need(['fqdn', 'ip', 'unix'].filter((k) => k in e).length === 1, `spec.endpoints[${i}]: exactly one of fqdn, ip, unix`),
        ...(isObj(e.fqdn) ? need(typeof e.fqdn.hostname === 'string' && DNS_NAME.test(e.fqdn.hostname) && isPort(e.fqdn.port), `spec.endpoints[${i}].fqdn: hostname and port required`) : []),
      ]),
    ],
  },
  BackendTLSPolicy: {
    apiVersion: 'gateway.networking.k8s.io/v1',
    specKeys: ['targetRefs', 'validation', 'options'],
    check: (s) => {
      const refs = list(s.targetRefs);
      const v = isObj(s.validation) ? s.validation : {};
      return [
        ...need(refs.length >= 1 && refs.length <= 16, 'spec.targetRefs: 1 to 16 entries'),
        ...refs.flatMap((r, i) => need(typeof r.group === 'string' && typeof r.kind === 'string' && typeof r.name === 'string', `spec.targetRefs[${i}]: group, kind and name required`)),
        ...need(typeof v.hostname === 'string' && DNS_NAME.test(v.hostname), 'spec.validation.hostname: required, a DNS name'),
        ...need(('caCertificateRefs' in v) !== ('wellKnownCACertificates' in v), 'spec.validation: exactly one of caCertificateRefs and wellKnownCACertificates'),
        ...need(!('wellKnownCACertificates' in v) || v.wellKnownCACertificates === 'System', 'spec.validation.wellKnownCACertificates: System'),
      ];
    },
  },
  ClientTrafficPolicy: {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    // Only the keys the example uses (the CRD has many more): an example gaining one extends this list on purpose.
    specKeys: ['targetRefs', 'connection', 'http2'],
    check: (s) => [
      ...need(list(s.targetRefs).length >= 1 && list(s.targetRefs).every((r) => r.group === 'gateway.networking.k8s.io' && r.kind === 'Gateway' && typeof r.name === 'string'),
        'spec.targetRefs: Gateways'),
      ...need(Object.keys(isObj(s.connection) ? s.connection : {}).every((k) => ['bufferLimit', 'connectionLimit', 'socketBufferLimit', 'maxAcceptPerSocketEvent'].includes(k)), 'spec.connection: unknown field'),
      ...need(Object.keys(isObj(s.http2) ? s.http2 : {}).every((k) => ['initialStreamWindowSize', 'initialConnectionWindowSize', 'maxConcurrentStreams', 'onInvalidMessage'].includes(k)), 'spec.http2: unknown field'),
    ],
  },
  ServiceEntry: {
    apiVersion: 'networking.istio.io/v1',
    specKeys: ['hosts', 'addresses', 'ports', 'location', 'resolution', 'endpoints', 'workloadSelector', 'exportTo', 'subjectAltNames'],
    check: (s) => [
      ...need(Array.isArray(s.hosts) && s.hosts.length > 0, 'spec.hosts: required'),
      ...need(s.location === undefined || ['MESH_EXTERNAL', 'MESH_INTERNAL'].includes(s.location as string), 'spec.location: MESH_EXTERNAL | MESH_INTERNAL'),
      ...need(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'].includes(s.resolution as string), 'spec.resolution: NONE | STATIC | DNS | DNS_ROUND_ROBIN'),
      ...list(s.ports).flatMap((p, i) => need(isPort(p.number) && typeof p.name === 'string'
        && ['HTTP', 'HTTPS', 'GRPC', 'HTTP2', 'MONGO', 'TCP', 'TLS'].includes(p.protocol as string), `spec.ports[${i}]: number, name and protocol`)),
    ],
  },
  DestinationRule: {
    apiVersion: 'networking.istio.io/v1',
    specKeys: ['host', 'trafficPolicy', 'subsets', 'exportTo', 'workloadSelector'],
    check: (s) => [
      ...need(typeof s.host === 'string' && s.host.length > 0, 'spec.host: required'),
      ...list(at(s, 'trafficPolicy', 'portLevelSettings')).flatMap((p, i) => [
        ...need(isPort(at(p, 'port', 'number')), `spec.trafficPolicy.portLevelSettings[${i}].port.number: required`),
        ...need(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'].includes(at(p, 'tls', 'mode') as string), `spec.trafficPolicy.portLevelSettings[${i}].tls.mode`),
      ]),
    ],
  },
};

function structuralErrors(obj: Obj): string[] {
  const shape = SHAPES[obj.kind as string];
  if (!shape) return [`no structural check for ${String(obj.kind)}`];
  const spec = isObj(obj.spec) ? obj.spec : {};
  return [
    ...need(obj.apiVersion === shape.apiVersion, `apiVersion: expected ${shape.apiVersion}`),
    ...need(typeof at(obj, 'metadata', 'name') === 'string' && DNS_NAME.test(at(obj, 'metadata', 'name') as string), 'metadata.name: a DNS name'),
    ...Object.keys(obj).filter((k) => !['apiVersion', 'kind', 'metadata', 'spec'].includes(k)).map((k) => `${k}: unknown top-level field`),
    ...Object.keys(spec).filter((k) => !shape.specKeys.includes(k)).map((k) => `spec.${k}: unknown field`),
    ...shape.check(spec),
  ];
}

// ---------------------------------------------------------------------------------------------------------------

describe('manifests/examples: files', () => {
  it('every YAML file parses, every document; Kubernetes documents have apiVersion, kind, metadata.name', () => {
    expect(YAML_FILES.length).toBeGreaterThanOrEqual(9);
    for (const file of YAML_FILES) {
      const parsed = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
      expect(parsed.flatMap((d) => d.errors.map((e) => `${file}: ${e.message}`))).toEqual([]);
      expect(parsed.every((d) => isObj(d.toJS())), file).toBe(true);
    }
    for (const { file, obj } of KUBE) {
      expect([typeof obj.apiVersion, typeof obj.kind, typeof at(obj, 'metadata', 'name')], file).toEqual(['string', 'string', 'string']);
    }
  });

  it('every Kubernetes kind is checked by a vendored schema or, declared, by an upstream-derived validator and structurally', () => {
    const kinds = [...new Set(KUBE.map((d) => d.obj.kind as string))].sort();
    expect(kinds).toEqual(['Backend', 'BackendTLSPolicy', 'ClientTrafficPolicy', 'DestinationRule', 'Gateway', 'GatewayClass', 'HTTPRoute', 'ServiceEntry', 'TokenPolicy']);
  });

  it('README.md lists every file', () => {
    const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
    expect(ALL.filter((f) => f !== 'README.md' && !readme.includes(`\`${f}\``))).toEqual([]);
  });
});

describe('TokenPolicy examples', () => {
  const policies = ofKind('TokenPolicy');
  const named = policies.map((p) => [`${p.file} ${String((p.obj.metadata as Obj).name)}`, p] as const);

  it('are the six samples (seven policies: the composed budget is two)', () => {
    expect(named.map(([n]) => n)).toEqual([
      'tokenpolicy-dry-run.yaml dry-run', 'tokenpolicy-monthly-usd.yaml monthly-usd', 'tokenpolicy-plans.yaml plans',
      'tokenpolicy-team-and-user.yaml team-budget', 'tokenpolicy-team-and-user.yaml user-budget',
      'tokenpolicy-tenant-budget.yaml tenant-budget', 'tokenpolicy-weighted-output.yaml weighted-output',
    ]);
  });

  it.each(named)('%s passes the generated CRD schema, pruning and every CEL rule', (_f, p) => {
    const v = apiserverVerdict(p.obj, tokenPolicySchema, tokenPolicySchemaCheck);
    expect({ schema: v.schema, unknown: v.unknown, apiserver: v.apiserver }).toEqual({ schema: [], unknown: [], apiserver: [] });
  });

  it.each(named)('%s parses in the data plane, the same with the apiserver defaults', (_f, p) => {
    const raw = parsePolicies(stringify(p.obj), p.file);
    expect(raw.errors).toEqual([]);
    expect(raw.policies).toHaveLength(1);
    const defaulted = apiserverVerdict(p.obj, tokenPolicySchema, tokenPolicySchemaCheck).object;
    expect(parsePolicies(stringify(defaulted), p.file)).toEqual(raw);
  });

  it('every file parses as written, all its documents', () => {
    for (const file of [...new Set(policies.map((p) => p.file))]) {
      const r = parsePolicies(readFileSync(join(DIR, file), 'utf8'), file);
      expect(r.errors, file).toEqual([]);
      expect(r.policies.length, file).toBe(policies.filter((p) => p.file === file).length);
    }
  });

  it('say what their file names promise; every sample admits uncapped requests (Observed)', () => {
    const byName = new Map(policies.map((p) => [String((p.obj.metadata as Obj).name), parsePolicies(stringify(p.obj)).policies[0]]));
    const [dryRun, usd, tenant, weighted, plans, team, user] = ['dry-run', 'monthly-usd', 'tenant-budget', 'weighted-output', 'plans', 'team-budget', 'user-budget'].map((n) => byName.get(n));
    expect(tenant?.subject).toMatchObject({ from: 'Header', header: 'x-tenant-id' });
    expect(tenant?.limits.find((l) => l.name === 'daily')).toMatchObject({ kind: 'tokens', tokens: 1_000_000 });
    expect(weighted?.limits[0]).toMatchObject({ count: 'Weighted' });
    const w = weighted?.limits[0]?.kind === 'tokens' ? weighted.limits[0].weights : undefined;
    expect((w?.output ?? 0) > (w?.input ?? 0)).toBe(true);
    expect(usd?.limits.map((l) => `${l.kind} ${l.window.text}`)).toContain('cost Month');
    expect(dryRun?.enforcement.mode).toBe('DryRun');
    expect(plans?.tiers?.plans.map((t) => t.name)).toEqual(['free', 'pro', 'enterprise']);
    expect(plans?.overrides?.map((o) => [o.subject, o.exempt])).toEqual([['acme', false], ['globex', false], ['nightly-eval', true]]);
    expect([team?.subject, user?.subject]).toMatchObject([{ header: 'x-team-id' }, { header: 'x-user-id' }]);
    expect([...byName.values()].map((p) => p?.reservation.output)).toEqual(Array(7).fill('Observed'));
  });

  it('load together as one policy set (no duplicate names)', () => {
    const all = parsePolicies(policies.map((p) => stringify(p.obj)).join('---\n'));
    expect(all.errors).toEqual([]);
    expect(all.policies).toHaveLength(7);
  });
});

describe('Gateway API objects (upstream v1.6.1 schemas)', () => {
  const gatewayApi = [...ofKind('Gateway'), ...ofKind('HTTPRoute')];

  it.each(gatewayApi.map((d) => [`${d.file} ${String(d.obj.kind)}`, d] as const))('%s: schema, pruning and CEL rules', (_n, d) => {
    const kind = d.obj.kind as 'Gateway' | 'HTTPRoute';
    const skipped: string[] = [];
    const schema = evaluable(gatewayApiSchema(kind), skipped);
    expect(schemaErrors(d.obj as { apiVersion: string; kind: string })).toEqual([]);
    expect(unknownFields(d.obj, schema)).toEqual([]);
    expect(celErrors(applyDefaults(d.obj, schema), schema)).toEqual([]);
    expect(skipped).toHaveLength(kind === 'HTTPRoute' ? 4 : 0);
  });
});

describe('kinds with no vendored CRD: upstream-derived validator (@kubernetes-models) and our unknown-key check', () => {
  const others = KUBE.filter((d) => SHAPES[d.obj.kind as string]);

  /** The first example of `kind`, deep-copied, its spec changed by `change`. */
  function variant(kind: string, change: (spec: Obj) => void): Obj {
    const doc = ofKind(kind)[0];
    if (!doc) throw new Error(`no ${kind} example`);
    const obj = structuredClone(doc.obj);
    change(obj.spec as Obj);
    return obj;
  }

  it('every structurally checked kind has an upstream-derived validator for the same apiVersion', () => {
    expect(Object.entries(SHAPES).filter(([kind, shape]) => !UPSTREAM_MODELS.has(`${shape.apiVersion}/${kind}`)).map(([kind]) => kind)).toEqual([]);
  });

  it.each(others.map((d) => [`${d.file} ${String(d.obj.kind)}`, d] as const))('%s', (_n, d) => {
    // modelErrors is undefined (and fails here) if no validator covers the document's apiVersion/kind.
    expect({ upstream: modelErrors(d.obj), structural: structuralErrors(d.obj) }).toEqual({ upstream: [], structural: [] });
  });

  it('the structural check catches a misspelt key, a missing field and a bad enum', () => {
    expect(structuralErrors({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'x' }, spec: { hots: 'a' } }))
      .toEqual(['spec.hots: unknown field', 'spec.host: required']);
    expect(structuralErrors({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'BackendTLSPolicy', metadata: { name: 'x' }, spec: { targetRefs: [{ kind: 'Backend', name: 'b' }], validation: { hostname: 'h' } } }))
      .toEqual(['spec.targetRefs[0]: group, kind and name required', 'spec.validation: exactly one of caCertificateRefs and wellKnownCACertificates']);
    expect(structuralErrors({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'x' }, spec: { hosts: ['h'], resolution: 'dns' } }))
      .toEqual(['spec.resolution: NONE | STATIC | DNS | DNS_ROUND_ROBIN']);
  });

  it('why the structural check stays: the upstream validator lets through a misspelt key and a CEL-only rule', () => {
    const misspelt = variant('DestinationRule', (s) => { s.exportTO = ['.']; });
    expect({ upstream: modelErrors(misspelt), structural: structuralErrors(misspelt) }).toEqual({ upstream: [], structural: ['spec.exportTO: unknown field'] });
    const both = variant('BackendTLSPolicy', (s) => { (s.validation as Obj).caCertificateRefs = [{ group: '', kind: 'ConfigMap', name: 'ca' }]; });
    expect({ upstream: modelErrors(both), structural: structuralErrors(both) })
      .toEqual({ upstream: [], structural: ['spec.validation: exactly one of caCertificateRefs and wellKnownCACertificates'] });
  });

  // Each a real violation of the upstream API in a field the structural check does not look at (it passes them all).
  const caught: [string, Obj, string[]][] = [
    ['GatewayClass parametersRef without its required name',
      variant('GatewayClass', (s) => { s.parametersRef = { group: 'gateway.envoyproxy.io', kind: 'EnvoyProxy' }; }),
      ['data/spec/parametersRef must have required property name']],
    ['BackendTLSPolicy subjectAltNames type DNS (upstream: Hostname | URI)',
      variant('BackendTLSPolicy', (s) => { (s.validation as Obj).subjectAltNames = [{ type: 'DNS', hostname: 'api.openai.com' }]; }),
      ['data/spec/validation/subjectAltNames/0/type must be equal to one of the allowed values']],
    ['BackendTLSPolicy caCertificateRefs entry without its required name',
      variant('BackendTLSPolicy', (s) => { s.validation = { hostname: 'api.openai.com', caCertificateRefs: [{ group: '', kind: 'ConfigMap' }] }; }),
      ['data/spec/validation/caCertificateRefs/0 must have required property name']],
    ['Backend: an unknown appProtocol, an ip endpoint without port, tls.insecureSkipVerify a string',
      variant('Backend', (s) => { s.appProtocols = ['h2']; s.endpoints = [{ ip: { address: '10.0.0.1' } }]; s.tls = { insecureSkipVerify: 'yes' }; }),
      ['data/spec/appProtocols/0 must be equal to one of the allowed values', 'data/spec/endpoints/0/ip must have required property port',
        'data/spec/tls/insecureSkipVerify must be boolean']],
    ['ServiceEntry: targetPort a port name, endpoint port a string',
      variant('ServiceEntry', (s) => {
        (s.ports as Obj[])[0] = { ...(s.ports as Obj[])[0], targetPort: 'https' };
        s.endpoints = [{ address: 'api.openai.com', ports: { tls: '443' } }];
      }),
      ['data/spec/endpoints/0/ports/tls must be integer', 'data/spec/ports/0/targetPort must be integer']],
    ['DestinationRule: loadBalancer.simple misspelt, connectionPool maxConnections a string, tls.sni a number',
      variant('DestinationRule', (s) => {
        const tp = s.trafficPolicy as Obj;
        tp.loadBalancer = { simple: 'ROUND_ROBBIN' };
        tp.connectionPool = { tcp: { maxConnections: 'ten' } };
        ((tp.portLevelSettings as Obj[])[0]?.tls as Obj).sni = 443;
      }),
      ['data/spec/trafficPolicy/connectionPool/tcp/maxConnections must be integer',
        'data/spec/trafficPolicy/loadBalancer/simple must be equal to one of the allowed values',
        'data/spec/trafficPolicy/portLevelSettings/0/tls/sni must be string']],
  ];

  it.each(caught)('the upstream validator catches what the structural check was not written for: %s', (_n, obj, errors) => {
    expect({ upstream: modelErrors(obj), structural: structuralErrors(obj) }).toEqual({ upstream: errors, structural: [] });
  });
});

describe('cross-references', () => {
  const names = (kind: string, dir: string): string[] => ofKind(kind, dir).map((d) => `${String(at(d.obj, 'metadata', 'namespace'))}/${String(at(d.obj, 'metadata', 'name'))}`);

  it.each(['envoy-gateway', 'istio'])('every TokenPolicy targetRef resolves to a %s object in its namespace', (dir) => {
    for (const p of ofKind('TokenPolicy')) {
      for (const ref of list(at(p.obj, 'spec', 'targetRefs'))) {
        expect(names(ref.kind as string, dir), `${p.file} → ${String(ref.kind)} ${String(ref.name)}`).toContain(`${String(at(p.obj, 'metadata', 'namespace'))}/${String(ref.name)}`);
      }
    }
  });

  it.each(['envoy-gateway', 'istio'])('%s: routes attach to the Gateway listener, the Gateway to its class', (dir) => {
    const gateway = ofKind('Gateway', dir)[0]?.obj;
    const listeners = list(at(gateway, 'spec', 'listeners')).map((l) => l.name);
    for (const r of ofKind('HTTPRoute', dir)) {
      for (const ref of list(at(r.obj, 'spec', 'parentRefs'))) {
        expect([ref.name, at(r.obj, 'metadata', 'namespace')]).toEqual([at(gateway, 'metadata', 'name'), at(gateway, 'metadata', 'namespace')]);
        expect(listeners).toContain(ref.sectionName);
      }
      expect(list(at(r.obj, 'spec', 'rules')).flatMap((rule) => list(rule.filters).map((f) => at(f, 'urlRewrite', 'hostname')))).toEqual(['api.openai.com']);
    }
    expect(at(gateway, 'spec', 'gatewayClassName')).toBe(dir === 'istio' ? 'istio' : 'eg');
  });

  it('envoy-gateway: HTTPRoute → Backend api.openai.com:443 ← BackendTLSPolicy (System CAs, hostname api.openai.com)', () => {
    expect(ofKind('GatewayClass', 'envoy-gateway').map((d) => at(d.obj, 'metadata', 'name'))).toEqual(['eg']);
    const backends = ofKind('Backend', 'envoy-gateway').map((d) => d.obj);
    const refs = ofKind('HTTPRoute', 'envoy-gateway').flatMap((r) => list(at(r.obj, 'spec', 'rules')).flatMap((rule) => list(rule.backendRefs)));
    expect(refs.map((b) => [b.group, b.kind])).toEqual([['gateway.envoyproxy.io', 'Backend']]);
    const backend = backends.find((b) => at(b, 'metadata', 'name') === refs[0]?.name);
    expect(at(backend, 'spec', 'endpoints', 0, 'fqdn')).toEqual({ hostname: 'api.openai.com', port: 443 });
    const tls = ofKind('BackendTLSPolicy', 'envoy-gateway')[0]?.obj;
    expect(at(tls, 'spec', 'targetRefs', 0)).toEqual({ group: 'gateway.envoyproxy.io', kind: 'Backend', name: at(backend, 'metadata', 'name') });
    expect(at(tls, 'spec', 'validation')).toEqual({ wellKnownCACertificates: 'System', hostname: 'api.openai.com' });
  });

  it('envoy-gateway: the Gateway buffers request bodies up to the ext_proc\'s --max-request-body (Envoy Gateway\'s 32 KiB default answers 413 to larger prompts)', () => {
    const quantity = (v: unknown): number => {
      const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(String(v));
      return m ? Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ''] ?? 1) : NaN;
    };
    const gateway = ofKind('Gateway', 'envoy-gateway')[0]?.obj;
    const [ctp] = ofKind('ClientTrafficPolicy', 'envoy-gateway').map((d) => d.obj);
    expect(at(ctp, 'metadata', 'namespace')).toBe(at(gateway, 'metadata', 'namespace'));
    expect(at(ctp, 'spec', 'targetRefs')).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: at(gateway, 'metadata', 'name') }]);
    const { config } = loadConfig(['extproc'], {});
    expect(quantity(at(ctp, 'spec', 'connection', 'bufferLimit'))).toBeGreaterThanOrEqual(config.maxRequestBodyBytes);
    expect(quantity(at(ctp, 'spec', 'http2', 'initialStreamWindowSize'))).toBeGreaterThanOrEqual(config.maxRequestBodyBytes);
  });

  it('istio: HTTPRoute → Hostname api.openai.com:443, a ServiceEntry host whose port the DestinationRule originates TLS on', () => {
    const refs = ofKind('HTTPRoute', 'istio').flatMap((r) => list(at(r.obj, 'spec', 'rules')).flatMap((rule) => list(rule.backendRefs)));
    expect(refs).toEqual([{ group: 'networking.istio.io', kind: 'Hostname', name: 'api.openai.com', port: 443 }]);
    const se = ofKind('ServiceEntry', 'istio')[0]?.obj;
    expect(at(se, 'spec', 'hosts')).toContain('api.openai.com');
    expect(list(at(se, 'spec', 'ports')).map((p) => p.number)).toContain(443);
    const dr = ofKind('DestinationRule', 'istio')[0]?.obj;
    expect(at(dr, 'spec', 'host')).toBe('api.openai.com');
    expect(at(dr, 'spec', 'trafficPolicy', 'portLevelSettings', 0)).toMatchObject({ port: { number: 443 }, tls: { mode: 'SIMPLE', sni: 'api.openai.com' } });
    expect(at(ofKind('Gateway', 'istio')[0]?.obj, 'spec', 'infrastructure', 'labels')).toEqual(resolveSettings({ flavour: 'Istio' }).istio.workloadSelector);
  });
});

describe('envoy/envoy.yaml (static bootstrap)', () => {
  const text = readFileSync(join(DIR, 'envoy/envoy.yaml'), 'utf8');
  const boot = parse(text) as Obj;
  const listeners = list(at(boot, 'static_resources', 'listeners'));
  const clusters = list(at(boot, 'static_resources', 'clusters'));
  const hcm = at(listeners[0], 'filter_chains', 0, 'filters', 0, 'typed_config') as Obj;
  const filters = list(hcm.http_filters);
  const settings = resolveSettings({ flavour: 'Envoy', envoy: { clusterName: 'tokenmeter_ext_proc' } });

  /** Every object in the tree with the path to it. */
  const walk = (v: unknown, path = ''): [string, Obj][] => {
    if (Array.isArray(v)) return v.flatMap((x, i) => walk(x, `${path}[${i}]`));
    if (!isObj(v)) return [];
    return [[path, v], ...Object.entries(v).flatMap(([k, x]) => walk(x, path ? `${path}.${k}` : k))];
  };

  it('is one document with bootstrap top-level fields, a listener on :10000 with the HTTP connection manager', () => {
    expect(parseAllDocuments(text)).toHaveLength(1);
    expect(Object.keys(boot).sort()).toEqual(['admin', 'static_resources']);
    expect(Object.keys(boot.static_resources as Obj).sort()).toEqual(['clusters', 'listeners']);
    expect(listeners).toHaveLength(1);
    expect(at(listeners[0], 'address', 'socket_address')).toEqual({ address: '0.0.0.0', port_value: 10000 });
    expect(at(listeners[0], 'filter_chains', 0, 'filters', 0, 'name')).toBe('envoy.filters.network.http_connection_manager');
  });

  it('every typed_config names a known Envoy v3 type; durations are proto JSON durations', () => {
    const KNOWN = new Set([
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
      'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
      'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
      'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    ]);
    const typed = walk(boot).filter(([, o]) => '@type' in o);
    expect(typed.length).toBeGreaterThanOrEqual(6);
    expect(typed.filter(([, o]) => !KNOWN.has(o['@type'] as string)).map(([p]) => p)).toEqual([]);
    expect(walk(boot).filter(([p]) => p.endsWith('typed_config')).filter(([, o]) => !('@type' in o)).map(([p]) => p)).toEqual([]);
    const durations = walk(boot).flatMap(([p, o]) => Object.entries(o).filter(([k]) => /timeout$/.test(k)).map(([k, v]) => [`${p}.${k}`, v]));
    expect(durations.length).toBeGreaterThanOrEqual(4);
    expect(durations.filter(([, v]) => typeof v !== 'string' || !/^\d+(\.\d+)?s$/.test(v))).toEqual([]);
  });

  it('ext_proc comes right before the router, which is last', () => {
    expect(filters.map((f) => f.name)).toEqual([EXT_PROC_FILTER_NAME, ROUTER_FILTER_NAME]);
  });

  it('the ext_proc filter is exactly what the operator renders for the same settings', () => {
    expect(filters[0]).toEqual(extProcHttpFilter(settings, 'tokenmeter_ext_proc'));
    expect(filters[0]?.typed_config).toMatchObject({
      message_timeout: '0.2s', allow_mode_override: true, failure_mode_allow: true,
      processing_mode: { request_header_mode: 'SEND', request_body_mode: 'BUFFERED', response_header_mode: 'SEND', response_body_mode: 'STREAMED' },
      metadata_options: { receiving_namespaces: { untyped: [METADATA_NAMESPACE] } },
    });
  });

  it('the tokenmeter_ext_proc cluster is the rendered HTTP/2 STRICT_DNS cluster on tokenmeter.tokenmeter-system:50051', () => {
    expect(clusters.find((c) => c.name === 'tokenmeter_ext_proc')).toEqual(extProcCluster(settings));
    expect(at(extProcCluster(settings), 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address'))
      .toEqual({ address: 'tokenmeter.tokenmeter-system.svc.cluster.local', port_value: 50051 });
  });

  it('every cluster reference resolves; cluster names are unique and match their load_assignment', () => {
    const defined = clusters.map((c) => c.name as string);
    expect(new Set(defined).size).toBe(defined.length);
    for (const c of clusters) expect(at(c, 'load_assignment', 'cluster_name')).toBe(c.name);
    // Routes name a cluster; gRPC services (the ext_proc) name one through envoy_grpc.
    const used = walk(boot).flatMap(([p, o]) => [p.endsWith('.route') ? o.cluster : undefined, p.endsWith('.envoy_grpc') ? o.cluster_name : undefined])
      .filter((n): n is string => typeof n === 'string');
    expect(used.sort()).toEqual(['openai', 'tokenmeter_ext_proc']);
    expect(used.filter((n) => !defined.includes(n))).toEqual([]);
    expect(defined.filter((n) => !used.includes(n))).toEqual([]);
  });

  it('routes /v1 to api.openai.com:443 over TLS with SNI and certificate verification, Host rewritten', () => {
    const route = at(hcm, 'route_config', 'virtual_hosts', 0, 'routes', 0, 'route') as Obj;
    expect(route).toMatchObject({ cluster: 'openai', host_rewrite_literal: 'api.openai.com' });
    const openai = clusters.find((c) => c.name === 'openai');
    expect(at(openai, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address')).toEqual({ address: 'api.openai.com', port_value: 443 });
    const tls = at(openai, 'transport_socket') as Obj;
    expect(tls.name).toBe('envoy.transport_sockets.tls');
    expect(at(tls, 'typed_config', 'sni')).toBe('api.openai.com');
    expect(at(tls, 'typed_config', 'common_tls_context', 'validation_context', 'trusted_ca', 'filename')).toMatch(/^\/etc\/ssl\/certs\//);
    expect(at(tls, 'typed_config', 'common_tls_context', 'validation_context', 'match_typed_subject_alt_names')).toEqual([{ san_type: 'DNS', matcher: { exact: 'api.openai.com' } }]);
  });

  it('the access log prints the io.tokenmeter dynamic metadata', () => {
    const format = at(hcm, 'access_log', 0, 'typed_config', 'log_format', 'json_format') as Obj;
    expect(Object.values(format)).toContain(`%DYNAMIC_METADATA(${METADATA_NAMESPACE})%`);
  });
});
