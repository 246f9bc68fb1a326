/**
 * Reads that many requests share: the console's listing of a policy's subjects (all of them, grouped; per sort, the
 * sorted order) is built once and reused by every request for that policy until the data changes — the live-update
 * feed's version moves (a ledger write, a policy change) — or `maxAgeMs` passes (counters also move with requests in
 * flight). 50 open pages refetching after one change cost one build; a page turning or a search costs a filter and a
 * slice. Concurrent requests wait for the same build; a failed build is not kept.
 */
export interface SnapshotCacheOptions {
  maxAgeMs: number;
  /** The data's version (the change feed's); undefined: age alone decides. */
  version?: () => number;
  now?: () => number;
  /** Policies kept at most (oldest dropped). */
  maxEntries?: number;
}

interface Entry<T> {
  version: number;
  at: number;
  value: Promise<T>;
}

export class SnapshotCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly now: () => number;

  constructor(private readonly opts: SnapshotCacheOptions) {
    this.now = opts.now ?? Date.now;
  }

  get(key: string, build: () => Promise<T>): Promise<T> {
    const version = this.opts.version?.() ?? 0;
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.version === version && now - hit.at < this.opts.maxAgeMs) return hit.value;
    const value = build();
    const entry: Entry<T> = { version, at: now, value };
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > (this.opts.maxEntries ?? 100)) this.entries.delete(this.entries.keys().next().value as string);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return value;
  }
}
