/**
 * The ext_proc server of the ledger crossover bench (bench/ledger-crossover.ts), run in a bench server process
 * (server-child.ts, kinds `ledger-toggle-sqlite` and `ledger-toggle-postgres URL`): wired from the same modules as
 * `tokenmeter extproc` (src/cli/extproc.ts runExtproc: the data plane, the ledger and the gRPC server, from one
 * loadConfig) for metering with the ledger on, without budgets and without the admin server (the bench sends no
 * admin requests). It keeps the SessionDeps object it gives the server: every session reads `deps.ledger` when it
 * settles, so setting or deleting it switches the ledger on or off for the requests that settle from then on. With it
 * off nothing of the ledger runs per request (no record, no id, no queue); the store stays open (SQLite's worker
 * thread until it retires after 10 s idle; PostgreSQL's pool).
 */
import type { ExtprocConfig } from '../src/config/config.js';
import { createMetrics, metricsOptionsOf } from '../src/metrics/metrics.js';
import { createLogger } from '../src/log/logger.js';
import { createDataPlane } from '../src/cli/data-plane.js';
import { createLedger } from '../src/cli/ledger.js';
import { startExtprocServer } from '../src/extproc/server.js';
import type { SessionDeps } from '../src/extproc/deps.js';

export interface LedgerToggleServer {
  port: number;
  /** Switches the ledger on (true) or off for the requests that settle from now on. */
  setLedger(on: boolean): void;
  /** Stops the server and writes what the ledger holds. */
  stop(): Promise<void>;
}

export async function startLedgerToggle(config: ExtprocConfig): Promise<LedgerToggleServer> {
  const logger = createLogger('silent');
  const metrics = createMetrics(metricsOptionsOf(config));
  const plane = createDataPlane(config, logger);
  const ledger = await createLedger(config, logger, metrics);
  if (!ledger) throw new Error('ledger toggle server: the config names no ledger (--ledger-url none)');
  const deps: SessionDeps = { config, logger, metrics, counter: plane.counter, createResponseMeter: plane.createResponseMeter, ledger: ledger.sink };
  const grpc = await startExtprocServer(deps, config.grpc.host, config.grpc.port);
  metrics.openStreams.set(0);
  return {
    port: grpc.port,
    setLedger: (on) => {
      if (on) deps.ledger = ledger.sink;
      else delete deps.ledger;
    },
    stop: async () => {
      await grpc.shutdown(0);
      await plane.close();
      await ledger.close(5000);
    },
  };
}
