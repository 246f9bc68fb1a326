/**
 * Operator mode policy source (`tokenmeter extproc --policies-configmap NS/NAME`): the limits ConfigMap the operator
 * publishes (src/render/limits.ts), watched through the Kubernetes API rather than mounted as a volume. The kubelet
 * refreshes mounted ConfigMaps on its sync period plus cache TTL (up to about a minute); an API watch delivers an
 * edit in milliseconds, so every replica enforces a changed limit well within 2 s. RBAC: get, list and watch on
 * configmaps in that one namespace (a Role, not a ClusterRole).
 *
 * A list-and-watch Informer on ConfigMaps in the namespace (reconnects, 410 relist) picks the one name and its shards
 * (`<name>-…`, listed in its `shards` key; src/render/limits.ts). A published set is loaded once every listed shard is
 * there with the listed sha256 — until then the current policies stay — and its policies text (the chunks joined) is
 * parsed with the local-mode parser; invalid content keeps the previous policies (the errors are reported through
 * onChange with `kept`). A deleted ConfigMap keeps the current policies too: losing
 * every limit because an object was removed by accident would be worse than enforcing the last good ones.
 */
import type { KubeClient, KubeObject } from '../k8s/client.js';
import { Informer } from '../k8s/informer.js';
import { POLICIES_KEY, SHARDS_KEY, VERSION_KEY, limitsVersion, parseShards, sha256Hex } from '../render/limits.js';
import type { PolicySet } from './file-source.js';
import { PolicyParseCache } from './parse-cache.js';
import { policyKey } from './types.js';

export interface ConfigMapSourceOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  /** A new set was loaded (errors non-empty: the content was invalid and `policies` are the previous ones). */
  onChange: (set: PolicySet, version: string | undefined) => void;
  /** The ConfigMap was deleted (the current policies are kept). */
  onDeleted?: () => void;
  /** Informer failures (retried) and handler errors. */
  onError?: (err: unknown, context: string) => void;
  /** How long start-up waits for the first list before serving with what it has (none). Default 10 s. */
  syncTimeoutMs?: number;
}

export interface ConfigMapPolicySource {
  readonly current: PolicySet;
  /** data.version of the loaded content; undefined until a valid one was loaded. */
  readonly version: string | undefined;
  /** Whether the first list completed before start-up went on. */
  readonly synced: boolean;
  close(): void;
}

/** The policies text a published set spans, once the named ConfigMap and every shard it lists are present. */
function assemble(main: Record<string, string>, objects: ReadonlyMap<string, Record<string, string>>): { text?: string; error?: string; waiting?: string } {
  const first = main[POLICIES_KEY];
  if (first === undefined) return { error: 'missing' };
  const refs = parseShards(main[SHARDS_KEY]);
  if (!refs) return { error: `data.${SHARDS_KEY} is not a list of "<name> <sha256>" lines` };
  let text = first;
  for (const r of refs) {
    const chunk = objects.get(r.name)?.[POLICIES_KEY];
    // Not there yet, or not the listed content: wait for the watch to deliver it (the current policies stay).
    if (chunk === undefined || sha256Hex(chunk) !== r.sha256) return { waiting: r.name };
    text += chunk;
  }
  return { text };
}

/** Lists and watches the ConfigMap (and its shards); resolves after the first list (or syncTimeoutMs) with the initial set. */
export async function watchConfigMapPolicies(opts: ConfigMapSourceOptions): Promise<ConfigMapPolicySource> {
  const source = `configmap ${opts.namespace}/${opts.name}`;
  let current: PolicySet = { policies: [], errors: [], kept: [], files: [] };
  let version: string | undefined;
  let lastText: string | undefined;
  let started = false;
  const parser = new PolicyParseCache();
  /** data of the named ConfigMap and of every ConfigMap that may be one of its shards. */
  const objects = new Map<string, Record<string, string>>();
  const relevant = (name: string): boolean => name === opts.name || name.startsWith(`${opts.name}-`);

  const reload = (): void => {
    const data = objects.get(opts.name);
    if (!data) return;
    const got = assemble(data, objects);
    if (got.waiting !== undefined) return;
    if (got.text === undefined) {
      const errors = [{ source, policy: '', path: got.error === 'missing' ? `data.${POLICIES_KEY}` : '', message: got.error ?? 'invalid' }];
      current = { policies: current.policies, errors, kept: current.policies.map(policyKey), files: [source] };
      lastText = undefined;
      if (started) opts.onChange(current, version);
      return;
    }
    if (got.text === lastText) return;
    lastText = got.text;
    const parsed = parser.parse(got.text, source);
    if (parsed.errors.length > 0) {
      current = { policies: current.policies, errors: parsed.errors, kept: current.policies.map(policyKey), files: [source] };
    } else {
      current = { policies: parsed.policies, errors: [], kept: [], files: [source] };
      version = data[VERSION_KEY] ?? limitsVersion(got.text);
    }
    if (started) opts.onChange(current, version);
  };

  const load = (obj: KubeObject): void => {
    if (!relevant(obj.metadata.name)) return;
    objects.set(obj.metadata.name, (obj as { data?: Record<string, string> }).data ?? {});
    reload();
  };

  const informer = new Informer({
    client: opts.client, resource: { apiVersion: 'v1', kind: 'ConfigMap' }, namespaces: [opts.namespace],
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  informer.addHandlers({
    onAdd: load,
    onUpdate: (_old, obj) => load(obj),
    onDelete: (obj) => {
      if (!relevant(obj.metadata.name)) return;
      objects.delete(obj.metadata.name);
      if (obj.metadata.name !== opts.name) return;
      lastText = undefined;
      opts.onDeleted?.();
    },
  });
  informer.start();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, opts.syncTimeoutMs ?? 10_000);
  });
  await Promise.race([informer.waitForSync(), timedOut]);
  clearTimeout(timer);
  started = true;
  return {
    get current(): PolicySet {
      return current;
    },
    get version(): string | undefined {
      return version;
    },
    synced: informer.hasSynced(),
    close: () => informer.stop(),
  };
}
