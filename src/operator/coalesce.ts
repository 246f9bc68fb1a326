/**
 * Coalescing for work many callers need done "at least once after I asked": at most one run in flight and one
 * queued behind it; every caller gets the result of a run that started after its call. The reconciler publishes
 * the shared objects (the limits ConfigMap holding every policy, ReferenceGrants, the ServiceMonitor) this way, so
 * 1,000 policy reconciles in a burst publish a handful of times instead of 1,000, and each still sees its own
 * verdict in what was published.
 */
export class Coalesced<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  constructor(private readonly run: () => Promise<T>) {}

  /** A run is in flight. */
  busy(): boolean {
    return this.running !== undefined;
  }

  request(): Promise<T> {
    if (!this.running) {
      const started = this.run();
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
