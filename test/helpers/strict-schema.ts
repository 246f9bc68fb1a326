/**
 * What ajv cannot check on a CRD schema (see test/schemas/MANIFEST.md: CRD schemas set no additionalProperties, so
 * a misspelt field passes `schemaErrors`): unknown fields — as the API server prunes them — and the
 * `x-kubernetes-validations` CEL rules, evaluated with @marcbachmann/cel-js on `self` (transition rules, which
 * need `oldSelf`, are skipped). Use beside `schemaErrors` from ./schemas.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { evaluate } from '@marcbachmann/cel-js';
import { parse } from 'yaml';

const DIR = fileURLToPath(new URL('../schemas/', import.meta.url));

const CRDS: Record<string, string> = {
  'gateway.envoyproxy.io/v1alpha1/EnvoyExtensionPolicy': 'envoy-gateway/gateway.envoyproxy.io_envoyextensionpolicies.yaml',
  'gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy': 'envoy-gateway/gateway.envoyproxy.io_backendtrafficpolicies.yaml',
  'networking.istio.io/v1alpha3/EnvoyFilter': 'istio/envoyfilters.networking.istio.io.yaml',
  'monitoring.coreos.com/v1/ServiceMonitor': 'prometheus-operator/monitoring.coreos.com_servicemonitors.yaml',
};

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

interface CrdDoc {
  spec: { versions: { name: string; schema?: { openAPIV3Schema: Schema } }[] };
}

const cache = new Map<string, Schema>();

function schemaFor(apiVersion: string, kind: string): Schema {
  const key = `${apiVersion}/${kind}`;
  const file = CRDS[key];
  if (!file) throw new Error(`no CRD schema for ${key}`);
  let s = cache.get(key);
  if (!s) {
    const doc = parse(readFileSync(`${DIR}${file}`, 'utf8')) as CrdDoc;
    const version = apiVersion.split('/')[1];
    s = doc.spec.versions.find((v) => v.name === version)?.schema?.openAPIV3Schema;
    if (!s) throw new Error(`${file}: no schema for ${version ?? ''}`);
    cache.set(key, s);
  }
  return s;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function cel(schema: Schema, value: unknown, path: string, errors: string[]): void {
  for (const v of schema['x-kubernetes-validations'] ?? []) {
    if (v.rule.includes('oldSelf')) continue;
    try {
      if (evaluate(v.rule, { self: value }) !== true) errors.push(`${path || '/'}: ${v.message ?? v.rule}`);
    } catch (e) {
      errors.push(`${path || '/'}: CEL rule could not be evaluated (${(e as Error).message}): ${v.rule}`);
    }
  }
}

function walk(schema: Schema, value: unknown, path: string, errors: string[]): void {
  cel(schema, value, path, errors);
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => walk(schema.items as Schema, item, `${path}/${i}`, errors));
    return;
  }
  if (!isObj(value)) return;
  const props = schema.properties;
  const extra = schema.additionalProperties;
  for (const [k, v] of Object.entries(value)) {
    const p = props?.[k];
    if (p) walk(p, v, `${path}/${k}`, errors);
    else if (isObj(extra)) walk(extra, v, `${path}/${k}`, errors);
    else if (props && extra !== true && !schema['x-kubernetes-preserve-unknown-fields']) errors.push(`${path}/${k}: unknown field`);
  }
}

/** Unknown fields and failed CEL rules of a custom resource (empty = the API server would accept it unchanged). */
export function strictSchemaErrors(obj: { apiVersion: string; kind: string }): string[] {
  const errors: string[] = [];
  const schema = schemaFor(obj.apiVersion, obj.kind);
  // apiVersion, kind and metadata are the API server's (some CRD schemas, e.g. Istio's, do not list them).
  const { apiVersion: _apiVersion, kind: _kind, metadata: _metadata, ...rest } = obj as Record<string, unknown>;
  walk(schema, rest, '', errors);
  return errors;
}
