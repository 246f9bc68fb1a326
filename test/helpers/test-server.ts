/**
 * Starts a real ext_proc gRPC server on 127.0.0.1:0 for a test, with an Envoy emulator client, captured log lines
 * and the server's private metrics registry.
 */
import { Writable } from 'node:stream';
import { loadConfig, type ExtprocConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { startExtprocServer, type ExtprocServer } from '../../src/extproc/server.js';
import type { SessionDeps } from '../../src/extproc/deps.js';
import { createDataPlane } from '../../src/cli/data-plane.js';
import { createEnvoyClient, FUNCTIONAL_TIMEOUT_MS } from '../envoy/emulator.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';

export interface TestServer {
  client: ExternalProcessorClient;
  server: ExtprocServer;
  metrics: Metrics;
  config: ExtprocConfig;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startTestServer(opts: { args?: string[]; deps?: Partial<SessionDeps> } = {}): Promise<TestServer> {
  // Functional tests give the processor FUNCTIONAL_TIMEOUT_MS per reply: the server's own decision deadline (Envoy's
  // message timeout, --message-timeout) is the same unless a test sets it to measure Envoy's 200 ms.
  const timeout = opts.args?.includes('--message-timeout') ? [] : ['--message-timeout', String(FUNCTIONAL_TIMEOUT_MS / 1000)];
  const { config } = loadConfig(['extproc', '--log-level', 'debug', ...timeout, ...(opts.args ?? [])], {});
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const metrics = opts.deps?.metrics ?? createMetrics({ maxModelLabels: config.maxModelLabels, processMetrics: false });
  const plane = createDataPlane(config, logger);
  const server = await startExtprocServer({
    config, logger, metrics, counter: plane.counter, createResponseMeter: plane.createResponseMeter, ...opts.deps,
  }, '127.0.0.1', 0);
  const client = createEnvoyClient(`127.0.0.1:${server.port}`);
  return {
    client, server, metrics, config, logs,
    close: async () => {
      client.close();
      await server.shutdown(1000);
      await plane.close();
    },
  };
}

/** Waits until `pred` holds (log lines and metrics are written when a stream closes, just after the last reply). */
export async function eventually<T>(fn: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const json = await metrics.registry.getSingleMetric(name)?.get();
  let sum = 0;
  for (const v of json?.values ?? []) {
    const l = v.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
  }
  return sum;
}
