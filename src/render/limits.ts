/**
 * The data-plane limits: every accepted policy in one ConfigMap the ext_proc replicas watch (`tokenmeter extproc
 * --policies-configmap NS/NAME`, through the API; or `--policies` on a mounted copy). `policies.yaml` is the multi-document TokenPolicy YAML,
 * ordered by namespace then name so that a reconcile over the same policies writes the same bytes (no spurious
 * reloads); `version` is a short sha256 of it — the version the ext_proc reports as loaded and the operator compares
 * before setting Programmed. The YAML holds the model only (no uid or generation): an edit that leaves the model
 * unchanged does not change the version.
 */
import type { TokenPolicy } from '../policy/types.js';
import { byNamespaceName, sharedMeta, shortHash, type RenderedConfigMap } from './meta.js';
import { policiesToYaml } from './policy-yaml.js';
import type { OperatorSettings } from './settings.js';

export const POLICIES_KEY = 'policies.yaml';
export const VERSION_KEY = 'version';
export const VERSION_ANNOTATION = 'tokenmeter.dev/policies-version';
/** ConfigMap data is capped at 1 MiB by the API server; keep room for metadata. */
export const LIMITS_MAX_BYTES = 1_000_000;

export interface LimitsRender {
  configMap: RenderedConfigMap;
  /** Short sha256 (16 hex digits) of policies.yaml. */
  version: string;
  /** UTF-8 bytes of policies.yaml; above LIMITS_MAX_BYTES the API server would reject the ConfigMap. */
  bytes: number;
  /** `namespace/name` of the policies, in the order written. */
  policies: string[];
}

/** policies.yaml for `policies` (any order in, namespace/name order out). */
export function limitsYaml(policies: readonly TokenPolicy[]): string {
  return policiesToYaml([...policies].sort(byNamespaceName));
}

export function limitsVersion(yaml: string): string {
  return shortHash(yaml, 16);
}

/** The limits ConfigMap for the accepted policies. */
export function renderLimitsConfigMap(policies: readonly TokenPolicy[], s: OperatorSettings): LimitsRender {
  const sorted = [...policies].sort(byNamespaceName);
  const yaml = policiesToYaml(sorted);
  const version = limitsVersion(yaml);
  const meta = sharedMeta(s.limitsConfigMap.name, s.limitsConfigMap.namespace, s);
  return {
    configMap: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { ...meta, annotations: { [VERSION_ANNOTATION]: version } },
      data: { [POLICIES_KEY]: yaml, [VERSION_KEY]: version },
    },
    version,
    bytes: Buffer.byteLength(yaml, 'utf8'),
    policies: sorted.map((p) => `${p.namespace ?? ''}/${p.name}`),
  };
}
