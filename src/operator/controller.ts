/**
 * The operator's control loop: a TokenPolicy Informer (list and watch over the configured namespaces) feeds a keyed
 * WorkQueue ("namespace/name": events merged, exponential backoff, bounded retries, periodic resync) that runs the
 * Reconciler.
 *
 * - Updates that leave metadata.generation (and deletionTimestamp) unchanged are skipped: they are status writes,
 *   most of them the operator's own, and reconciling them again would loop. The periodic resync repairs anything
 *   else (a child changed behind the operator's back).
 * - With leader election only the replica holding the Lease runs the queue; a standby keeps its informer warm so it
 *   can take over at once. The queue starts only once the informer has synced: the reconciler renders the limits
 *   from ALL cached policies, and a partial cache would publish limits missing some of them. Losing the Lease shuts
 *   the queue down (runs in flight finish); winning it again starts a new queue with every cached key.
 * - stop(): no new work, runs in flight finish, then the Lease is released so another replica takes over at once.
 */
import { objectKey, type KubeClient, type KubeObject } from '../k8s/client.js';
import type { Informer } from '../k8s/informer.js';
import { LeaderElector, type LeaderElectionOptions } from '../k8s/leader.js';
import type { Timers } from '../k8s/timers.js';
import { WorkQueue, type ProcessResult } from '../k8s/workqueue.js';
import type { OperatorMetrics, ReconcileOutcome } from './metrics.js';
import { policiesTargeting } from './targets.js';
import type { OperatorLog, ReconcileResult } from './reconciler.js';

export interface ReconcileFn {
  reconcile(key: string): Promise<ReconcileResult>;
}

/** Where and as whom to hold the Lease: LeaderElectionOptions without the client and the callbacks. */
export type LeaderElectionConfig = Omit<LeaderElectionOptions, 'client' | 'onStartedLeading' | 'onStoppedLeading'>;

export interface ControllerOptions {
  client: KubeClient;
  informer: Informer;
  reconciler: ReconcileFn;
  metrics: OperatorMetrics;
  log: OperatorLog;
  /** Every cached policy is queued again this often; 0 = never. */
  resyncMs: number;
  /** Absent: this replica always leads (a single replica). */
  leaderElection?: LeaderElectionConfig;
  backoff?: { baseMs: number; maxMs: number };
  maxRetries?: number;
  /** Policies reconciled at the same time (different keys). Default 1. */
  concurrency?: number;
  /**
   * Informers on targetRef kinds (Gateways, HTTPRoutes, GRPCRoutes): a target added, changed or deleted requeues the
   * policies that name it, so TargetNotFound clears as soon as the target exists.
   */
  targets?: readonly Informer[];
  /**
   * Informers on the policies' own gateway objects (EnvoyExtensionPolicies, BackendTrafficPolicies): a change of their
   * status (Envoy Gateway's verdict) or their removal requeues the owning policy.
   */
  children?: readonly Informer[];
  timers?: Timers;
  now?: () => number;
}

export class Controller {
  private readonly opts: ControllerOptions;
  private readonly elector: LeaderElector | undefined;
  private queue: WorkQueue | undefined;
  private leading = false;
  private running = false;
  private stopping: Promise<void> | undefined;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    const le = opts.leaderElection;
    this.elector = le && new LeaderElector({
      client: opts.client, namespace: le.namespace, name: le.name, identity: le.identity,
      ...(le.leaseDurationMs === undefined ? {} : { leaseDurationMs: le.leaseDurationMs }),
      ...(le.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: le.renewDeadlineMs }),
      ...(le.retryPeriodMs === undefined ? {} : { retryPeriodMs: le.retryPeriodMs }),
      ...(opts.timers ? { timers: opts.timers } : {}),
      onStartedLeading: () => this.startedLeading(),
      onStoppedLeading: () => this.stoppedLeading(),
      onNewLeader: (identity) => opts.log.info({ leader: identity }, 'Lease holder changed'),
      onError: (err) => opts.log.warn({ err }, 'leader election: Lease read or write failed'),
    });
    opts.metrics.setDepthSource(() => this.queue?.depth() ?? 0);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const enqueue = (obj: KubeObject): void => this.queue?.add(objectKey(obj));
    this.opts.informer.addHandlers({
      onAdd: enqueue,
      onUpdate: (old, obj) => {
        const same = old.metadata.generation === obj.metadata.generation && old.metadata.deletionTimestamp === obj.metadata.deletionTimestamp;
        if (!same) enqueue(obj);
      },
      onDelete: enqueue,
    });
    this.opts.informer.start();
    for (const t of this.opts.targets ?? []) {
      const requeue = (target: KubeObject): void => {
        for (const key of policiesTargeting(this.opts.informer.list(), target)) this.queue?.add(key);
      };
      // Status writes (the gateway controller's) do not change what resolves: only spec changes requeue.
      t.addHandlers({ onAdd: requeue, onUpdate: (old, obj) => { if (old.metadata.generation !== obj.metadata.generation) requeue(obj); }, onDelete: requeue });
      t.start();
    }
    for (const c of this.opts.children ?? []) {
      const requeueOwner = (child: KubeObject): void => {
        const owner = (child.metadata.ownerReferences ?? []).find((r) => r.kind === 'TokenPolicy');
        if (owner && child.metadata.namespace) this.queue?.add(`${child.metadata.namespace}/${owner.name}`);
      };
      // Additions are the operator's own applies (and the initial list, whose owners the TokenPolicy informer queues).
      c.addHandlers({
        onUpdate: (old, obj) => { if (JSON.stringify(old.status) !== JSON.stringify(obj.status)) requeueOwner(obj); },
        onDelete: requeueOwner,
      });
      c.start();
    }
    if (this.elector) this.elector.start();
    else this.startedLeading();
  }

  /** Synced and running: leading (queue running) or standing by. */
  ready(): boolean {
    return this.running && this.stopping === undefined && this.opts.informer.hasSynced();
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once nothing is waiting or in flight (for tests). */
  async idle(): Promise<void> {
    await this.queue?.idle();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const queue = this.queue;
      this.queue = undefined;
      await queue?.shutdown();
      if (this.elector) await this.elector.stop();
      else this.stoppedLeading();
      this.opts.informer.stop();
      for (const t of [...(this.opts.targets ?? []), ...(this.opts.children ?? [])]) t.stop();
      this.running = false;
    })();
    return this.stopping;
  }

  private startedLeading(): void {
    this.leading = true;
    this.opts.metrics.leader.set(1);
    this.opts.log.info('leading: starting the work queue once the informer has synced');
    this.opts.informer.waitForSync().then(() => {
      if (!this.leading || this.stopping !== undefined || this.queue) return;
      this.queue = this.newQueue();
      this.queue.start();
      for (const key of this.opts.informer.keys()) this.queue.add(key);
    }, (err: unknown) => this.opts.log.error({ err }, 'waiting for the informer failed'));
  }

  private stoppedLeading(): void {
    if (!this.leading) return;
    this.leading = false;
    this.opts.metrics.leader.set(0);
    const queue = this.queue;
    this.queue = undefined;
    if (queue) {
      this.opts.log.warn('lost the Lease: stopping the work queue');
      void queue.shutdown();
    }
  }

  private newQueue(): WorkQueue {
    const { log, metrics, resyncMs } = this.opts;
    const now = this.opts.now ?? Date.now;
    return new WorkQueue({
      concurrency: this.opts.concurrency ?? 1,
      process: async (key): Promise<ProcessResult> => {
        const started = now();
        let outcome: ReconcileOutcome = 'error';
        try {
          const result = await this.opts.reconciler.reconcile(key);
          outcome = result.requeueAfterMs === undefined ? 'success' : 'requeue';
          metrics.lastSuccess.set(now() / 1000);
          return result.requeueAfterMs === undefined ? undefined : { requeueAfterMs: result.requeueAfterMs };
        } finally {
          metrics.reconciles.inc({ result: outcome });
          metrics.reconcileDuration.observe({ result: outcome }, (now() - started) / 1000);
        }
      },
      backoff: this.opts.backoff ?? { baseMs: 500, maxMs: 300_000 },
      maxRetries: this.opts.maxRetries ?? 15,
      onRetry: (key, err, attempt, delayMs) => log.warn({ key, err, attempt, delay_ms: delayMs }, 'reconcile failed; retrying'),
      onDrop: (key, err, attempts) => {
        metrics.reconciles.inc({ result: 'dropped' });
        log.error({ key, err, attempts }, 'reconcile failed too often; dropped until the policy changes or the next resync');
      },
      ...(resyncMs > 0 ? { resync: { periodMs: resyncMs, keys: () => this.opts.informer.keys() } } : {}),
      ...(this.opts.timers ? { timers: this.opts.timers } : {}),
    });
  }
}
