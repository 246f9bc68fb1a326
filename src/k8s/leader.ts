/**
 * Leader election with a coordination.k8s.io/v1 Lease (client-go's leaderelection, over the KubeClient):
 * - every retryPeriod a candidate reads the Lease; it takes it when there is none (create), when it is released
 *   (empty holderIdentity), or when the holder has not renewed it for leaseDuration — measured on this replica's
 *   clock from when it last saw the record change, so clock skew between replicas does not matter;
 * - writes are PUTs with the resourceVersion read (optimistic concurrency): of two candidates one gets 409 Conflict;
 * - the leader renews every retryPeriod; when no renewal has succeeded for renewDeadline (errors, conflicts, a hung
 *   API server), or the Lease names another holder, it stops leading (onStoppedLeading) and becomes a candidate;
 * - stop() releases the Lease (holderIdentity cleared) so another replica takes over at once.
 * Requires renewDeadline < leaseDuration, so a leader steps down before anyone else may take over.
 */
import { isConflict, type KubeClient, type KubeObject } from './client.js';
import { formatMicroTime, realTimers, type TimerHandle, type Timers } from './timers.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export type Lease = KubeObject<LeaseSpec>;

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  /** Unique per replica (pod name plus a random suffix). */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  /** The holder changed (including to this replica). */
  onNewLeader?: (identity: string) => void;
  onError?: (err: unknown) => void;
  timers?: Timers;
}

type Attempt = 'ok' | 'held' | 'failed';

export class LeaderElector {
  private readonly timers: Timers;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private running = false;
  private lease: Lease | undefined;
  private observedKey = '';
  private observedAt = 0;
  private observedHolder = '';
  private tickTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly options: LeaderElectionOptions) {
    this.timers = options.timers ?? realTimers;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseDurationMs || this.retryPeriodMs >= this.renewDeadlineMs) {
      throw new RangeError('leader election needs retryPeriod < renewDeadline < leaseDuration');
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  /** Stops campaigning; when leading, releases the Lease and calls onStoppedLeading. */
  async stop(): Promise<void> {
    this.running = false;
    this.clearTimers();
    await this.inFlight;
    if (this.lease?.spec?.holderIdentity === this.options.identity) await this.release();
    this.stepDown();
  }

  private tick(): void {
    this.inFlight = this.attempt().then((result) => {
      if (!this.running) return;
      if (result === 'ok') this.renewed();
      else if (result === 'held' && this.leading) this.stepDown();
      this.tickTimer = this.timers.setTimeout(() => this.tick(), this.retryPeriodMs);
    });
  }

  private renewed(): void {
    if (this.deadlineTimer !== undefined) this.timers.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = this.timers.setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.leading) this.stepDown();
    }, this.renewDeadlineMs);
    if (!this.leading) {
      this.leading = true;
      this.options.onStartedLeading();
    }
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.leading = false;
    if (this.deadlineTimer !== undefined) this.timers.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.options.onStoppedLeading();
  }

  /** One read-and-maybe-write of the Lease. */
  private async attempt(): Promise<Attempt> {
    const { client, namespace, name, identity } = this.options;
    try {
      const now = this.timers.now();
      const current = await client.get<Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name });
      if (!current) {
        this.lease = await client.create<Lease>(this.leaseObject(undefined, now));
        this.observe(this.lease, now);
        return 'ok';
      }
      this.observe(current, now);
      const holder = current.spec?.holderIdentity ?? '';
      const durationMs = (current.spec?.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
      if (holder && holder !== identity && now < this.observedAt + durationMs) return 'held';
      this.lease = await client.replace<Lease>(this.leaseObject(current, now));
      this.observe(this.lease, now);
      return 'ok';
    } catch (err) {
      // 409: another candidate wrote first; we will see who on the next read.
      if (!isConflict(err)) this.options.onError?.(err);
      return 'failed';
    }
  }

  private leaseObject(current: Lease | undefined, now: number): Lease {
    const { namespace, name, identity } = this.options;
    const spec = current?.spec ?? {};
    const ours = spec.holderIdentity === identity;
    const metadata = current ? { ...current.metadata } : { name, namespace };
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata,
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime: ours && spec.acquireTime ? spec.acquireTime : formatMicroTime(now),
        renewTime: formatMicroTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (current && !ours ? 1 : 0),
      },
    };
  }

  /** Remembers when this replica last saw the Lease record change (the base of expiry). */
  private observe(lease: Lease, now: number): void {
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}|${lease.metadata.resourceVersion ?? ''}`;
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAt = now;
    }
    const holder = spec.holderIdentity ?? '';
    if (holder && holder !== this.observedHolder) this.options.onNewLeader?.(holder);
    this.observedHolder = holder;
  }

  private async release(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    const now = this.timers.now();
    const spec: LeaseSpec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: formatMicroTime(now) };
    try {
      this.lease = await this.options.client.replace<Lease>({ ...lease, spec });
    } catch (err) {
      this.options.onError?.(err); // the Lease then simply expires
    }
  }

  private clearTimers(): void {
    if (this.tickTimer !== undefined) this.timers.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
  }
}
