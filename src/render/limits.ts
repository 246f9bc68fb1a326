/**
 * The data-plane limits: every accepted policy in the ConfigMaps the ext_proc replicas watch (`tokenmeter extproc
 * --policies-configmap NS/NAME`, through the API; or `--policies` on a mounted copy). The documents (one JSON line per
 * policy, src/render/policy-yaml.ts) are ordered by namespace then name so that a reconcile over the same policies
 * writes the same bytes (no spurious reloads); `version` is a short sha256 of all of them — the version the ext_proc
 * reports as loaded and the operator compares before setting Programmed. The YAML holds the model only (no uid or
 * generation): an edit that leaves the model unchanged does not change the version.
 *
 * Sharding: Kubernetes caps a ConfigMap's data at 1 MiB. The documents are cut, in order and never inside one, into
 * chunks of at most SHARD_MAX_BYTES. The first chunk is `policies.yaml` of the named ConfigMap; each further chunk is
 * `policies.yaml` of a shard ConfigMap named `<name>-<first 10 hex digits of its sha256>` (content-addressed: a
 * shard's name changes whenever its content does, so a published set never changes under a reader), listed in
 * order in the named ConfigMap's `shards` key as `<shard name> <sha256 hex>` lines. The operator writes the shards
 * first, the named ConfigMap next, and deletes shards no longer listed last; a reader loads a version only once every
 * listed shard is present with the listed hash. Without shards (everything fits one ConfigMap) the named ConfigMap is
 * exactly what it was before sharding existed: no `shards` key, the same version.
 */
import { createHash } from 'node:crypto';
import type { TokenPolicy } from '../policy/types.js';
import { byNamespaceName, fitName, sharedMeta, shortHash, type RenderedConfigMap } from './meta.js';
import { policiesToYaml } from './policy-yaml.js';
import type { OperatorSettings } from './settings.js';

export const POLICIES_KEY = 'policies.yaml';
export const VERSION_KEY = 'version';
export const SHARDS_KEY = 'shards';
export const VERSION_ANNOTATION = 'tokenmeter.dev/policies-version';
/** On every shard: the name of the limits ConfigMap it belongs to (the operator prunes shards by it). */
export const SHARD_OF_LABEL = 'tokenmeter.dev/limits-shard-of';
/** ConfigMap data is capped at 1 MiB (1,048,576 bytes) by the API server; keep room for metadata and keys. */
export const LIMITS_MAX_BYTES = 1_000_000;
/** The most policy YAML one ConfigMap (the named one or a shard) carries; leaves room for the shard list. */
export const SHARD_MAX_BYTES = 900_000;

export interface ShardRef {
  name: string;
  /** sha256 hex of the shard's policies.yaml. */
  sha256: string;
}

export interface LimitsRender {
  /** The named ConfigMap: the first chunk, the version and the shard list. */
  configMap: RenderedConfigMap;
  /** Further ConfigMaps, in order (none when everything fits the named one). */
  shards: RenderedConfigMap[];
  /** Short sha256 (16 hex digits) of all the policies' YAML, in order. */
  version: string;
  /** UTF-8 bytes of all the policies' YAML (every chunk). */
  bytes: number;
  /** `namespace/name` of the policies, in the order written. */
  policies: string[];
}

/** policies.yaml for `policies` (any order in, namespace/name order out), all chunks joined. */
export function limitsYaml(policies: readonly TokenPolicy[]): string {
  return policiesToYaml([...policies].sort(byNamespaceName));
}

export function limitsVersion(yaml: string): string {
  return shortHash(yaml, 16);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The rendered YAML of one policy, in bytes: more than SHARD_MAX_BYTES cannot be published. */
export function policyBytes(p: TokenPolicy): number {
  return Buffer.byteLength(policiesToYaml([p]), 'utf8');
}

/** Documents cut into chunks of at most `max` bytes, in order (a document larger than `max` is a chunk alone). */
export function chunkDocuments(docs: readonly string[], max = SHARD_MAX_BYTES): string[] {
  const chunks: string[] = [];
  let current = '';
  let size = 0;
  for (const d of docs) {
    const n = Buffer.byteLength(d, 'utf8');
    if (size > 0 && size + n > max) {
      chunks.push(current);
      [current, size] = ['', 0];
    }
    current += d;
    size += n;
  }
  if (size > 0 || chunks.length === 0) chunks.push(current);
  return chunks;
}

/** The shard list of the named ConfigMap's `shards` key. */
export function formatShards(refs: readonly ShardRef[]): string {
  return refs.map((r) => `${r.name} ${r.sha256}\n`).join('');
}

/** Parses a `shards` value; undefined when malformed. */
export function parseShards(text: string | undefined): ShardRef[] | undefined {
  if (text === undefined || text.trim() === '') return [];
  const refs: ShardRef[] = [];
  for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
    const m = /^\s*(\S+)\s+([0-9a-f]{64})\s*$/.exec(line);
    if (!m) return undefined;
    refs.push({ name: m[1] ?? '', sha256: m[2] ?? '' });
  }
  return refs;
}

/** The limits ConfigMaps for the accepted policies. */
export function renderLimitsConfigMap(policies: readonly TokenPolicy[], s: OperatorSettings): LimitsRender {
  const sorted = [...policies].sort(byNamespaceName);
  const docs = sorted.map((p) => policiesToYaml([p]));
  const yaml = docs.join('');
  const version = limitsVersion(yaml);
  const [first = '', ...rest] = chunkDocuments(docs);
  const { name, namespace } = s.limitsConfigMap;
  const shards: RenderedConfigMap[] = rest.map((chunk) => {
    const sha = sha256Hex(chunk);
    return {
      apiVersion: 'v1', kind: 'ConfigMap',
      // No version annotation: an unchanged shard stays byte-identical (not rewritten) when other chunks change.
      metadata: sharedMeta(fitName(`${name}-${sha.slice(0, 10)}`, 253), namespace, s, { [SHARD_OF_LABEL]: fitName(name, 63) }),
      data: { [POLICIES_KEY]: chunk },
    };
  });
  const refs = shards.map((c) => ({ name: c.metadata.name, sha256: sha256Hex(c.data[POLICIES_KEY] ?? '') }));
  const meta = sharedMeta(name, namespace, s);
  return {
    configMap: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { ...meta, annotations: { [VERSION_ANNOTATION]: version } },
      data: { [POLICIES_KEY]: first, [VERSION_KEY]: version, ...(refs.length > 0 ? { [SHARDS_KEY]: formatShards(refs) } : {}) },
    },
    shards,
    version,
    bytes: Buffer.byteLength(yaml, 'utf8'),
    policies: sorted.map((p) => `${p.namespace ?? ''}/${p.name}`),
  };
}
