/**
 * The operator's Prometheus metrics, on a private registry: reconciles by result, reconcile duration, work queue
 * depth (read when scraped), last successful reconcile, and whether this replica leads.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type ReconcileOutcome = 'success' | 'requeue' | 'error' | 'dropped';

export interface OperatorMetrics {
  registry: Registry;
  reconciles: Counter<'result'>;
  reconcileDuration: Histogram<'result'>;
  lastSuccess: Gauge;
  leader: Gauge;
  /** What the queue depth gauge reads at scrape time. */
  setDepthSource(read: () => number): void;
}

export function createOperatorMetrics(opts: { processMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'tokenmeter_operator_' });
  const registers = [registry];
  let depth = (): number => 0;
  new Gauge({
    name: 'tokenmeter_operator_queue_depth', help: 'TokenPolicy keys waiting in the work queue (0 on a standby replica).', registers,
    collect() {
      this.set(depth());
    },
  });
  return {
    registry,
    reconciles: new Counter({
      name: 'tokenmeter_operator_reconciles_total', help: 'TokenPolicy reconciles by result (success, requeue: asked to look again later, error: retried with backoff, dropped: retries exhausted).',
      labelNames: ['result'], registers,
    }),
    reconcileDuration: new Histogram({
      name: 'tokenmeter_operator_reconcile_duration_seconds', help: 'Time to reconcile one TokenPolicy, by result.',
      labelNames: ['result'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
    }),
    lastSuccess: new Gauge({ name: 'tokenmeter_operator_last_successful_sync_timestamp_seconds', help: 'Unix time of the last reconcile that succeeded.', registers }),
    leader: new Gauge({ name: 'tokenmeter_operator_leader', help: '1 while this replica holds the Lease and runs the work queue.', registers }),
    setDepthSource: (read) => {
      depth = read;
    },
  };
}
