/**
 * `tokenmeter console`: the budget console and its read-only admin API on --admin-address, for Kubernetes (its own
 * Deployment in the chart; the data-plane pods serve no UI there) or beside a local ext_proc. It reads the ledger
 * (--ledger-url, or the SQLite file in --data-dir, read-only), the policies (--policies-configmap: the limits the
 * operator publishes; or --policies files) and, with --redis-url, the counters the ext_proc replicas share (live
 * usage including reservations); without Redis, current usage comes from the ledger. Wiring only.
 */
import type { ExtprocConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createMetrics, metricsOptionsOf } from '../metrics/metrics.js';
import { createLedgerQuery } from '../ledger/query.js';
import { openLedgerReader } from '../ledger/reader.js';
import { ledgerTarget } from '../ledger/target.js';
import type { CounterStore } from '../limits/store.js';
import { compileMatcher } from '../policy/match.js';
import { formatPolicyError, policyKey } from '../policy/types.js';
import { startConsoleServer } from '../console/serve.js';
import { policySource } from './budgets.js';

export interface RunningConsole {
  port: number;
  stop(): Promise<void>;
}

export async function runConsole(config: ExtprocConfig, logger: Logger): Promise<RunningConsole> {
  const metrics = createMetrics(metricsOptionsOf(config));
  const reader = openLedgerReader(ledgerTarget(config), { poolSize: Math.min(config.ledgerPool, 4), logger });
  let matcher = compileMatcher([]);
  const source = config.policies || config.policiesConfigMap
    ? await policySource(config, logger, metrics, (set) => {
      for (const e of set.errors) logger.error({ file: e.source, policy: e.policy, field: e.path }, `invalid TokenPolicy: ${formatPolicyError(e)}`);
      matcher = compileMatcher(set.policies);
      logger.info({ policies: set.policies.map(policyKey) }, 'policies loaded');
    })
    : undefined;
  let store: CounterStore | undefined;
  if (config.redisUrl) {
    const { createRedisStore } = await import('../limits/redis-store.js');
    store = createRedisStore({ url: config.redisUrl, commandTimeoutMs: config.redisTimeoutMs, onHealthChange: (healthy, error) => logger[healthy ? 'info' : 'warn']({ err: error }, healthy ? 'redis connected' : 'redis unavailable') });
  }
  const policies = { policies: () => matcher.policies, ...(store ? { store } : {}), now: Date.now };
  const server = await startConsoleServer({
    registry: metrics.registry, ready: () => true, adminToken: config.adminToken, noCounting: true,
    budgets: policies, ...(store ? { usage: { ...policies, store } } : {}), ...(reader ? { ledger: createLedgerQuery(reader) } : {}),
    loadedPolicies: () => ({ source: config.policiesConfigMap ? 'configmap' : config.policies ? 'file' : 'none', version: source?.version ?? null, policies: matcher.policies.map(policyKey) }),
  }, { userHeader: config.consoleUserHeader }, config.admin.host, config.admin.port);
  logger.info({ url: `http://${config.admin.host}:${server.port}/console/`, ledger: reader?.description ?? 'none', counters: store ? 'redis' : 'ledger' }, 'tokenmeter console listening');
  return {
    port: server.port,
    stop: async () => {
      await server.close();
      source?.close();
      await store?.close();
      await reader?.close();
    },
  };
}
