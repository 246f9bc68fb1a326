/**
 * Recent output sizes per model, for the `Observed` output reservation: the p95 of the last N completed requests of
 * that model on this replica. Bounded: N samples per model, at most `maxModels` models (least recently updated
 * evicted). Pure.
 */

export class ObservedOutput {
  private readonly samples = new Map<string, { ring: Float64Array; count: number; next: number; p95?: number }>();

  constructor(private readonly window = 200, private readonly maxModels = 500) {}

  record(model: string, outputTokens: number): void {
    if (!Number.isFinite(outputTokens) || outputTokens < 0) return;
    let s = this.samples.get(model);
    if (s) this.samples.delete(model);
    else {
      if (this.samples.size >= this.maxModels) this.samples.delete(this.samples.keys().next().value as string);
      s = { ring: new Float64Array(this.window), count: 0, next: 0 };
    }
    s.ring[s.next] = outputTokens;
    s.next = (s.next + 1) % this.window;
    s.count = Math.min(this.window, s.count + 1);
    s.p95 = undefined;
    this.samples.set(model, s);
  }

  /** p95 of recent outputs, or undefined with fewer than `minSamples` observations. */
  p95(model: string, minSamples = 10): number | undefined {
    const s = this.samples.get(model);
    if (!s || s.count < minSamples) return undefined;
    if (s.p95 === undefined) {
      const sorted = s.ring.slice(0, s.count).sort();
      s.p95 = sorted[Math.min(s.count - 1, Math.ceil(0.95 * s.count) - 1)];
    }
    return s.p95;
  }
}
