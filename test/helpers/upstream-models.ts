/**
 * Upstream-derived validators for the kinds with no schema vendored in test/schemas (see its MANIFEST.md): the
 * compiled JSON-schema validators of the @kubernetes-models packages (devDependencies, MIT; the upstream APIs are
 * Apache-2.0):
 * - @kubernetes-models/gateway-api 2.0.0: GatewayClass, BackendTLSPolicy (gateway.networking.k8s.io/v1) and
 *   ReferenceGrant (v1beta1, the version the operator renders), generated from the sigs.k8s.io/gateway-api Go types;
 * - @kubernetes-models/envoy-gateway 2.0.0: Backend and ClientTrafficPolicy (gateway.envoyproxy.io/v1alpha1), from the
 *   Envoy Gateway Go types;
 * - @kubernetes-models/istio 3.0.1: ServiceEntry, DestinationRule (networking.istio.io/v1), from Istio's CRDs.
 * They check types, enums, required fields, patterns and bounds, but NOT unknown keys (a misspelt `spec.hots` passes)
 * and no CEL rule (e.g. BackendTLSPolicy's "exactly one of caCertificateRefs and wellKnownCACertificates"). So the
 * strict structural key check in test/integration/examples.test.ts stays alongside. Other gaps seen: GatewayClass
 * `spec.description` is not checked at all, and Istio's `ports[].protocol` is a free string. The packages declare
 * engines node>=22 but load and work on Node 20.
 */
import { BackendTLSPolicy, GatewayClass } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { ReferenceGrant } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1';
import { Backend, ClientTrafficPolicy } from '@kubernetes-models/envoy-gateway/gateway.envoyproxy.io/v1alpha1';
import { DestinationRule, ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1';

/**
 * A @kubernetes-models class: built from plain data, `validate()` throws listing the violations. Its constructor is
 * typed for valid data; `never` admits every class here, and modelErrors hands it the unchecked object to judge.
 */
interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  new (data: never): { validate(): void };
}

const MODELS: readonly ModelClass[] = [GatewayClass, BackendTLSPolicy, ReferenceGrant, Backend, ClientTrafficPolicy, ServiceEntry, DestinationRule];

/** `apiVersion/kind` → the model class; built from the classes' own static apiVersion and kind. */
export const UPSTREAM_MODELS: ReadonlyMap<string, ModelClass> = new Map(MODELS.map((m) => [`${m.apiVersion}/${m.kind}`, m]));

interface AjvError { instancePath?: string; message?: string }
const isAjvError = (e: unknown): e is { errors: AjvError[] } =>
  e instanceof Error && Array.isArray((e as { errors?: unknown }).errors);

/**
 * undefined when no model covers the object's apiVersion/kind; [] when it validates; else one line per violation,
 * `data<JSON pointer> <message>` (e.g. `data/spec/resolution must be equal to one of the allowed values`).
 */
export function modelErrors(obj: unknown): string[] | undefined {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const { apiVersion, kind } = obj as { apiVersion?: unknown; kind?: unknown };
  const Model = UPSTREAM_MODELS.get(`${String(apiVersion)}/${String(kind)}`);
  if (!Model) return undefined;
  try {
    new Model(obj as never).validate();
    return [];
  } catch (e) {
    // The thrown ajv ValidationError carries the (localised) errors; its message is them joined by ", ".
    if (!isAjvError(e)) throw e;
    // Deduplicated: a compiled validator can report the same violation twice (e.g. SubjectAltName's `uri`).
    return [...new Set(e.errors.map((x) => `data${x.instancePath ?? ''} ${x.message ?? 'invalid'}`))];
  }
}
