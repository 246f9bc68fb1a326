/**
 * Validating rendered Kubernetes objects against the real upstream schemas in test/schemas (see its MANIFEST.md):
 * CRD openAPIV3Schema for custom kinds, the standalone-strict JSON schemas for core kinds. ajv 8 with the Kubernetes
 * formats registered and RE2's `(?i)` prefix turned into the `i` flag, as the manifest prescribes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

const DIR = fileURLToPath(new URL('../schemas/', import.meta.url));

const CRD_FILES: Record<string, string> = {
  'gateway.envoyproxy.io/EnvoyExtensionPolicy': 'envoy-gateway/gateway.envoyproxy.io_envoyextensionpolicies.yaml',
  'gateway.envoyproxy.io/BackendTrafficPolicy': 'envoy-gateway/gateway.envoyproxy.io_backendtrafficpolicies.yaml',
  'gateway.networking.k8s.io/Gateway': 'gateway-api/gateway.networking.k8s.io_gateways.yaml',
  'gateway.networking.k8s.io/HTTPRoute': 'gateway-api/gateway.networking.k8s.io_httproutes.yaml',
  'networking.istio.io/EnvoyFilter': 'istio/envoyfilters.networking.istio.io.yaml',
  'monitoring.coreos.com/ServiceMonitor': 'prometheus-operator/monitoring.coreos.com_servicemonitors.yaml',
  'monitoring.coreos.com/PodMonitor': 'prometheus-operator/monitoring.coreos.com_podmonitors.yaml',
  'monitoring.coreos.com/PrometheusRule': 'prometheus-operator/monitoring.coreos.com_prometheusrules.yaml',
};

const CORE_FILES: Record<string, string> = {
  ConfigMap: 'configmap-v1.json', Secret: 'secret-v1.json', Service: 'service-v1.json', ServiceAccount: 'serviceaccount-v1.json',
  Deployment: 'deployment-apps-v1.json', HorizontalPodAutoscaler: 'horizontalpodautoscaler-autoscaling-v2.json',
  PodDisruptionBudget: 'poddisruptionbudget-policy-v1.json', NetworkPolicy: 'networkpolicy-networking-v1.json',
  Role: 'role-rbac-v1.json', RoleBinding: 'rolebinding-rbac-v1.json', ClusterRole: 'clusterrole-rbac-v1.json',
  ClusterRoleBinding: 'clusterrolebinding-rbac-v1.json', Lease: 'lease-coordination-v1.json',
  CustomResourceDefinition: 'customresourcedefinition-apiextensions-v1.json', Namespace: 'namespace-v1.json',
};

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** RE2's leading `(?i)` (case-insensitive; also after `^`) is not JavaScript syntax: turn it into the `i` flag. */
const re2Compatible = Object.assign(
  (pattern: string, flags: string): RegExp => {
    if (pattern.startsWith('(?i)')) return new RegExp(pattern.slice(4), `${flags}i`);
    if (pattern.startsWith('^(?i)')) return new RegExp(`^${pattern.slice(5)}`, `${flags}i`);
    return new RegExp(pattern, flags);
  },
  { code: 'new RegExp' },
);

function newAjv(): Ajv {
  const ajv = new Ajv({
    strict: false, allErrors: true, validateFormats: true,
    code: { regExp: re2Compatible },
  });
  addFormats(ajv);
  for (const f of ['int32', 'int64', 'double', 'float', 'byte', 'int-or-string', 'quantity', 'date-time']) ajv.addFormat(f, true);
  return ajv;
}

const cache = new Map<string, ValidateFunction>();

interface CrdDoc {
  spec: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: object } }[] };
}

/** A validator for a CRD file's version (default: the first served version with a schema). */
export function crdValidator(file: string, version?: string): ValidateFunction {
  const key = `${file}@${version ?? ''}`;
  let v = cache.get(key);
  if (!v) {
    const path = file.startsWith('/') ? file : `${DIR}${file}`;
    const doc = parse(readFileSync(path, 'utf8')) as CrdDoc;
    const ver = doc.spec.versions.find((x) => (version ? x.name === version : x.schema !== undefined));
    if (!ver?.schema) throw new Error(`${file}: no schema for version ${version ?? '(any)'}`);
    v = newAjv().compile(ver.schema.openAPIV3Schema);
    cache.set(key, v);
  }
  return v;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  [k: string]: unknown;
}

/** The schema errors of a rendered object (empty = valid). Throws for a kind with no schema here. */
export function schemaErrors(obj: KubeObject): string[] {
  const group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
  const version = obj.apiVersion.split('/').at(-1);
  let validate: ValidateFunction;
  const crd = CRD_FILES[`${group}/${obj.kind}`];
  if (crd) validate = crdValidator(crd, version);
  else if (obj.kind === 'PersistentVolumeClaim') validate = pvcValidator();
  else {
    const core = CORE_FILES[obj.kind];
    if (!core) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
    const key = `core:${core}`;
    let v = cache.get(key);
    if (!v) {
      v = newAjv().compile(JSON.parse(readFileSync(`${DIR}kubernetes-json-schema/v1.32.0-standalone-strict/${core}`, 'utf8')) as object);
      cache.set(key, v);
    }
    validate = v;
  }
  return validate(obj) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/**
 * PersistentVolumeClaim, from the vendored Deployment schema: its pod volumes' `ephemeral.volumeClaimTemplate` holds
 * the upstream ObjectMeta and PersistentVolumeClaimSpec schemas (the same definitions a PVC object uses; no PVC file
 * is vendored, see test/schemas/MANIFEST.md). apiVersion v1, kind PersistentVolumeClaim, no unknown top-level keys.
 */
function pvcValidator(): ValidateFunction {
  let v = cache.get('core:pvc');
  if (!v) {
    type Props = { properties: Record<string, Props>; items: Props };
    const deployment = JSON.parse(readFileSync(`${DIR}kubernetes-json-schema/v1.32.0-standalone-strict/deployment-apps-v1.json`, 'utf8')) as Props;
    const template = deployment.properties.spec?.properties.template?.properties.spec?.properties.volumes?.items.properties.ephemeral?.properties.volumeClaimTemplate;
    if (!template) throw new Error('deployment-apps-v1.json: no ephemeral.volumeClaimTemplate schema');
    v = newAjv().compile({
      type: 'object', additionalProperties: false, required: ['apiVersion', 'kind', 'metadata', 'spec'],
      properties: {
        apiVersion: { const: 'v1' }, kind: { const: 'PersistentVolumeClaim' },
        metadata: template.properties.metadata, spec: template.properties.spec,
      },
    });
    cache.set('core:pvc', v);
  }
  return v;
}
