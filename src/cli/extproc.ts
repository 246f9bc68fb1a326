/**
 * `tokenmeter extproc`: wires config, logger, metrics, the counting and metering implementations, the gRPC server and
 * the admin endpoint together, and handles SIGTERM/SIGINT (drain, flush, exit 0).
 */
import type { ExtprocConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createMetrics, metricsOptionsOf, type Metrics } from '../metrics/metrics.js';
import { startAdminServer, type AdminDeps, type AdminServer } from '../admin/server.js';
import { startExtprocServer, type ExtprocServer } from '../extproc/server.js';
import type { EncodingOverrides } from '../tokenize/encodings.js';
import { createDataPlane } from './data-plane.js';
import { createLedger } from './ledger.js';
import { consoleEnabled, startConsoleServer } from '../console/serve.js';

/** How long SIGTERM gives the ledger to write what is queued before spilling it to disk. */
const LEDGER_CLOSE_MS = 5000;

export interface RunningExtproc {
  grpc: ExtprocServer;
  admin: AdminServer;
  metrics: Metrics;
  stop(): Promise<void>;
}

export async function runExtproc(config: ExtprocConfig, logger: Logger): Promise<RunningExtproc> {
  const metrics = createMetrics(metricsOptionsOf(config));
  const plane = createDataPlane(config, logger);
  const ledger = await createLedger(config, logger, metrics);
  // Budgets (YAML policies, stores, the Kubernetes watch) are loaded only when configured: metering alone stays small.
  const budgets = config.policies || config.policiesConfigMap ? await (await import('./budgets.js')).createBudgets(config, logger, metrics) : undefined;
  const grpc = await startExtprocServer({
    config, logger, metrics, counter: plane.counter, createResponseMeter: plane.createResponseMeter, limiter: budgets?.limiter,
    filterFacts: () => budgets?.dataPlane()?.filter, routes: () => budgets?.dataPlane()?.routes,
    ...(ledger ? { ledger: ledger.sink } : {}),
  }, config.grpc.host, config.grpc.port);
  let admin: AdminServer;
  try {
    const deps: AdminDeps = {
      registry: metrics.registry, ready: () => grpc.health.serving,
      maxRequestBodyBytes: config.maxRequestBodyBytes, encodingOverrides: config.encodingOverrides as EncodingOverrides, adminToken: config.adminToken,
      usage: budgets && { policies: () => budgets.matcher().policies, store: budgets.store, now: Date.now },
      ...(budgets ? { loadedPolicies: () => budgets.loaded() } : {}),
      ...(ledger ? { ledger: ledger.query } : {}),
    };
    // Local mode serves the budget console beside the admin API; data-plane pods on Kubernetes do not (`tokenmeter console`).
    admin = consoleEnabled(config)
      ? await startConsoleServer(deps, { userHeader: config.consoleUserHeader }, config.admin.host, config.admin.port)
      : await startAdminServer(deps, config.admin.host, config.admin.port);
  } catch (err) {
    await grpc.shutdown(0);
    await ledger?.close(0);
    await budgets?.close();
    throw err;
  }
  metrics.openStreams.set(0);
  logger.info({ grpc: `${config.grpc.host}:${grpc.port}`, admin: `${config.admin.host}:${admin.port}`, console: consoleEnabled(config) ? `http://${config.admin.host}:${admin.port}/console/` : 'off' }, 'tokenmeter extproc listening');
  let stopping: Promise<void> | undefined;
  return {
    grpc, admin, metrics,
    stop: () => {
      stopping ??= (async () => {
        logger.info({ open_streams: grpc.openStreams(), grace_ms: config.shutdownGraceMs }, 'draining');
        await grpc.shutdown(config.shutdownGraceMs);
        await admin.close();
        await plane.close();
        await ledger?.close(LEDGER_CLOSE_MS);
        await budgets?.close();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}
