/**
 * Coalescing for work many callers need done "at least once after I asked": at most one run in flight and one
 * queued behind it; every caller gets the result of a run that started after its call. The reconciler publishes
 * the shared objects (the limits ConfigMap holding every policy, ReferenceGrants, the ServiceMonitor) this way, so
 * 1,000 policy reconciles in a burst publish a handful of times instead of 1,000, and each still sees its own
 * verdict in what was published.
 */
export interface CoalescedOptions {
  /**
   * A run starts no sooner than this after the previous run started (default 0). Callers arriving meanwhile share
   * the delayed run: in a burst each run then carries more callers' changes, and fewer runs are made.
   */
  minIntervalMs?: number;
  now?: () => number;
}

export class Coalesced<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  /** The run in `running` is still waiting out minIntervalMs: a caller arriving now is served by it. */
  private delayed = false;
  private readonly minIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly run: () => Promise<T>, opts: CoalescedOptions = {}) {
    this.minIntervalMs = opts.minIntervalMs ?? 0;
    this.now = opts.now ?? (() => performance.now());
  }

  /** A run is in flight (or about to start). */
  busy(): boolean {
    return this.running !== undefined;
  }

  request(): Promise<T> {
    if (this.running && this.delayed) return this.running;
    if (!this.running) {
      const start = (): Promise<T> => {
        this.delayed = false;
        this.lastStart = this.now();
        return this.run();
      };
      const wait = this.lastStart + this.minIntervalMs - this.now();
      this.delayed = wait > 0;
      const started = wait > 0 ? new Promise<void>((r) => setTimeout(r, wait)).then(start) : start();
      this.running = started;
      const clear = (): void => { if (this.running === started) this.running = undefined; };
      started.then(clear, clear);
      return started;
    }
    this.queued ??= this.running.then(() => undefined, () => undefined).then(() => {
      this.queued = undefined;
      return this.request();
    });
    return this.queued;
  }
}
