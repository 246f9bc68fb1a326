/**
 * A keyed work queue for level-based reconciling (client-go's workqueue semantics, in one small class):
 * - a key added while it is already waiting is merged (processed once);
 * - a key added while it is being processed is processed again after the current run ends — one key is never
 *   processed concurrently;
 * - a run that throws is retried after an exponential backoff per key (baseMs·2^(n-1), at most maxMs); after
 *   maxRetries failed retries the key is dropped and reported (a later add() starts afresh);
 * - a run may ask to be requeued ({ requeue: true }: with the key's backoff; { requeueAfterMs }: after that delay);
 * - an optional periodic resync re-adds every key a hook returns;
 * - shutdown() stops intake and waits for in-flight runs (and, with drain, for the keys already waiting).
 * Time comes from injectable Timers, so the logic is tested with a manual clock.
 */
import { backoffDelay, realTimers, type TimerHandle, type Timers } from './timers.js';

export type ProcessResult = void | { requeue: true } | { requeueAfterMs: number };

export interface WorkQueueOptions {
  /** Reconciles one key. Throwing is a failure (retried with backoff). */
  process: (key: string) => Promise<ProcessResult>;
  /** Keys processed at the same time (different keys only). Default 1. */
  concurrency?: number;
  /** Per-key failure backoff. Default 100 ms … 5 min. */
  backoff?: { baseMs: number; maxMs: number };
  /** Failed retries before a key is dropped. Default 10. */
  maxRetries?: number;
  /** A key dropped after maxRetries failed retries (attempts = maxRetries + 1). */
  onDrop?: (key: string, err: unknown, attempts: number) => void;
  /** A failure that will be retried after delayMs. */
  onRetry?: (key: string, err: unknown, attempt: number, delayMs: number) => void;
  /** Periodic resync: every periodMs, add() every key that keys() returns. */
  resync?: { periodMs: number; keys: () => Iterable<string> };
  timers?: Timers;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly waiting = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; handle: TimerHandle }>();
  private readonly failureCounts = new Map<string, number>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly timers: Timers;
  private resyncTimer: TimerHandle | undefined;
  private started = false;
  private shuttingDown = false;
  private draining = false;

  constructor(private readonly options: WorkQueueOptions) {
    this.timers = options.timers ?? realTimers;
  }

  start(): void {
    if (this.started || this.shuttingDown) return;
    this.started = true;
    this.scheduleResync();
    this.pump();
  }

  /** Queues a key; merges with a waiting one; re-queues after the current run if it is being processed. */
  add(key: string): void {
    if (this.shuttingDown || this.waiting.has(key)) return;
    this.waiting.add(key);
    if (!this.processing.has(key)) this.ready.push(key);
    this.pump();
  }

  /** Adds the key after delayMs (an earlier pending delayed add of the same key wins). */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.timers.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.timers.clearTimeout(pending.handle);
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, handle });
  }

  /** Adds the key after its next backoff delay (counts as a failure for the backoff). */
  addRateLimited(key: string): void {
    const n = (this.failureCounts.get(key) ?? 0) + 1;
    this.failureCounts.set(key, n);
    this.addAfter(key, this.backoffFor(n));
  }

  /** Resets the key's backoff. */
  forget(key: string): void {
    this.failureCounts.delete(key);
  }

  /** Keys waiting to be processed now (not counting those in flight or delayed). */
  depth(): number {
    return this.ready.length;
  }

  delayedCount(): number {
    return this.delayed.size;
  }

  inFlight(): number {
    return this.processing.size;
  }

  failures(key: string): number {
    return this.failureCounts.get(key) ?? 0;
  }

  /** Resolves when nothing is waiting or in flight (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops intake (add() is ignored from now on), cancels delayed keys and the resync, and resolves once the runs in
   * flight have finished — with drain, once the keys already waiting have been processed too.
   */
  async shutdown(options: { drain?: boolean } = {}): Promise<void> {
    this.shuttingDown = true;
    this.draining = options.drain === true;
    for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    if (this.resyncTimer !== undefined) this.timers.clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    if (!this.draining) {
      this.ready.length = 0;
      this.waiting.clear();
    }
    this.pump();
    await this.idle();
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 1;
    const canRun = this.started && (!this.shuttingDown || this.draining);
    while (canRun && this.processing.size < concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      this.waiting.delete(key);
      this.processing.add(key);
      void this.run(key);
    }
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.options.process(key);
      if (result && 'requeue' in result) this.addRateLimited(key);
      else {
        this.forget(key);
        if (result && 'requeueAfterMs' in result) this.addAfter(key, result.requeueAfterMs);
      }
    } catch (err) {
      this.failed(key, err);
    } finally {
      this.processing.delete(key);
      if (this.waiting.has(key)) this.ready.push(key);
      this.pump();
    }
  }

  private failed(key: string, err: unknown): void {
    const n = (this.failureCounts.get(key) ?? 0) + 1;
    const maxRetries = this.options.maxRetries ?? 10;
    if (n > maxRetries) {
      this.forget(key);
      this.options.onDrop?.(key, err, n);
      return;
    }
    this.failureCounts.set(key, n);
    const delay = this.backoffFor(n);
    this.options.onRetry?.(key, err, n, delay);
    this.addAfter(key, delay);
  }

  private backoffFor(n: number): number {
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 100, maxMs: 300_000 };
    return backoffDelay(n, baseMs, maxMs);
  }

  private scheduleResync(): void {
    const resync = this.options.resync;
    if (!resync || this.shuttingDown) return;
    this.resyncTimer = this.timers.setTimeout(() => {
      for (const key of resync.keys()) this.add(key);
      this.scheduleResync();
    }, resync.periodMs);
  }

  private isIdle(): boolean {
    return this.processing.size === 0 && (this.ready.length === 0 || (this.shuttingDown && !this.draining));
  }
}
