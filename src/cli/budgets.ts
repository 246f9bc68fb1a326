/**
 * Token budgets for `tokenmeter extproc --policies PATH` or `--policies-configmap NS/NAME`: the policy source (watched
 * files, or the operator's limits ConfigMap watched through the API), the counter store (memory, or Redis with
 * --redis-url) and the Limiter the sessions call. Either source swaps the matcher the Limiter reads; streams in
 * flight keep the reservations they made. Wiring only.
 */
import type { LoadedPolicies } from '../admin/policies-api.js';
import type { ExtprocConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { limiterEvents } from '../extproc/admission.js';
import { Limiter } from '../limits/limiter.js';
import { createMemoryStore } from '../limits/memory-store.js';
import { ObservedOutput } from '../limits/observed.js';
import type { CounterStore } from '../limits/store.js';
import { watchPolicies, type PolicySet } from '../policy/file-source.js';
import { compileMatcher, type PolicyMatcher } from '../policy/match.js';
import { policyErrorsToError } from '../policy/parse.js';
import { formatPolicyError, policyKey } from '../policy/types.js';
import { userAgent } from './version.js';
import type { DataPlaneDoc } from '../envoy/data-plane.js';

const REDIS_STARTUP_WAIT_MS = 5000;

export interface Budgets {
  limiter: Limiter;
  store: CounterStore;
  matcher(): PolicyMatcher;
  /** What GET /v1/policies reports. */
  loaded(): LoadedPolicies;
  /** The operator's data-plane document (ConfigMap source), undefined in local mode or before it is published. */
  dataPlane(): DataPlaneDoc | undefined;
  close(): Promise<void>;
}

export async function createBudgets(config: ExtprocConfig, logger: Logger, metrics: Metrics): Promise<Budgets | undefined> {
  if (!config.policies && !config.policiesConfigMap) return undefined;
  let matcher = compileMatcher([]);
  const apply = (set: PolicySet, initial: boolean): void => {
    for (const e of set.errors) logger.error({ file: e.source, policy: e.policy, field: e.path }, `invalid TokenPolicy: ${formatPolicyError(e)}`);
    if (set.kept.length > 0) logger.warn({ kept: set.kept }, 'kept the previous version of policies whose files are now invalid');
    matcher = compileMatcher(set.policies);
    metrics.policiesLoaded.set(set.policies.length);
    if (!initial) metrics.policyReloads.inc({ result: set.errors.length > 0 ? 'invalid' : 'ok' });
    logger.info({ policies: set.policies.map(policyKey), files: set.files.length }, initial ? 'policies loaded' : 'policies reloaded');
  };
  const source = await policySource(config, logger, metrics, apply);
  let store: CounterStore;
  if (config.redisUrl) {
    // Loaded only when configured (ioredis is ~20 MB of RSS an in-memory deployment never needs).
    const { createRedisStore } = await import('../limits/redis-store.js');
    const redis = createRedisStore({ url: config.redisUrl, commandTimeoutMs: config.redisTimeoutMs, onHealthChange: (healthy, error) => logger[healthy ? 'info' : 'warn']({ err: error }, healthy ? 'redis connected' : 'redis unavailable') });
    // Serve only once the first connection is up (bounded): a replica that starts answering before it can reach
    // Redis would apply failureMode to its first requests for no reason.
    if (!(await redis.waitReady(REDIS_STARTUP_WAIT_MS))) logger.warn({ wait_ms: REDIS_STARTUP_WAIT_MS }, 'redis not reachable at start-up; serving with each policy\'s failureMode until it is');
    store = redis;
  } else {
    store = createMemoryStore();
  }
  const limiter = new Limiter({
    store, matcher: () => matcher, observed: new ObservedOutput(), reservationTtlMs: config.reservationTtlMs,
    events: limiterEvents(metrics, logger, store.kind),
  });
  return {
    limiter, store, matcher: () => matcher,
    dataPlane: () => source.dataPlane,
    loaded: () => ({
      source: config.policiesConfigMap ? 'configmap' : 'file',
      version: source.version ?? null,
      policies: matcher.policies.map(policyKey),
    }),
    close: async () => {
      source.close();
      await store.close();
    },
  };
}

export type Apply = (set: PolicySet, initial: boolean) => void;

export interface Source {
  /** The limits version loaded (ConfigMap source only). */
  readonly version?: string | undefined;
  /** The data-plane document (ConfigMap source only). */
  readonly dataPlane?: DataPlaneDoc | undefined;
  close(): void;
}

/** The policies of --policies-configmap (the operator's limits, watched through the API) or --policies (files). */
export function policySource(config: ExtprocConfig, logger: Logger, metrics: Metrics, apply: Apply): Promise<Source> {
  return config.policiesConfigMap ? configMapSource(config, logger, metrics, apply) : fileSource(config, logger, apply);
}

async function fileSource(config: ExtprocConfig, logger: Logger, apply: Apply): Promise<Source> {
  const watcher = await watchPolicies({
    path: config.policies,
    onChange: (set) => apply(set, false),
    onError: (err) => logger.error({ err }, 'policy reload failed; keeping the current policies'),
  });
  if (watcher.current.errors.length > 0 && watcher.current.policies.length === 0) {
    watcher.close();
    throw policyErrorsToError(watcher.current.errors);
  }
  apply(watcher.current, true);
  return watcher;
}

async function configMapSource(config: ExtprocConfig, logger: Logger, metrics: Metrics, apply: Apply): Promise<Source> {
  const ref = config.policiesConfigMap as { namespace: string; name: string };
  const setVersion = (version: string | undefined): void => {
    if (version === undefined) return;
    metrics.policiesVersion.reset();
    metrics.policiesVersion.set({ version }, 1);
  };
  // Loaded only when configured: the Kubernetes client is ~65 MB of RSS a file-based deployment never needs.
  const [{ kubeClientFor }, { watchConfigMapPolicies }] = await Promise.all([import('../k8s/client-node.js'), import('../policy/configmap-source.js')]);
  const source = await watchConfigMapPolicies({
    client: kubeClientFor(config.kubeconfig, { userAgent: userAgent('extproc') }), namespace: ref.namespace, name: ref.name,
    onChange: (set, version) => {
      apply(set, false);
      setVersion(version);
      if (set.errors.length === 0) logger.info({ version, configmap: `${ref.namespace}/${ref.name}` }, 'limits version loaded');
    },
    onDeleted: () => logger.warn({ configmap: `${ref.namespace}/${ref.name}` }, 'limits ConfigMap deleted; keeping the current policies'),
    onError: (err, context) => logger.warn({ err, context, configmap: `${ref.namespace}/${ref.name}` }, 'limits ConfigMap watch: retrying'),
  });
  if (!source.synced) logger.error({ configmap: `${ref.namespace}/${ref.name}` }, 'could not list the limits ConfigMap at start-up; serving without budgets until it can');
  else if (source.version === undefined && source.current.errors.length === 0) logger.warn({ configmap: `${ref.namespace}/${ref.name}` }, 'limits ConfigMap not found yet; serving without budgets until the operator publishes it');
  apply(source.current, true);
  setVersion(source.version);
  return source;
}
