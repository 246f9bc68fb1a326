/**
 * Recent output sizes, for the `Observed` output reservation, on this replica: the p95 of the last N completed
 * requests per model, and of the last M per (subject, model), so a subject whose answers run long reserves more than
 * one whose answers are short. Bounded: N (200) samples per model for at most `maxModels` (500) models, M (32) per
 * (subject, model) for at most `maxSubjects` (10,000) pairs, least recently updated evicted. Pure.
 */

interface Ring {
  ring: Uint32Array;
  count: number;
  next: number;
  p95?: number;
}

const MAX_SAMPLE = 0xffffffff;

/** A bounded map of sample rings, least recently updated evicted first. */
class Rings {
  private readonly rings = new Map<string, Ring>();

  constructor(private readonly size: number, private readonly maxKeys: number) {}

  record(key: string, value: number): void {
    let s = this.rings.get(key);
    if (s) this.rings.delete(key);
    else {
      if (this.rings.size >= this.maxKeys) this.rings.delete(this.rings.keys().next().value as string);
      s = { ring: new Uint32Array(this.size), count: 0, next: 0 };
    }
    s.ring[s.next] = Math.min(MAX_SAMPLE, Math.round(value));
    s.next = (s.next + 1) % this.size;
    s.count = Math.min(this.size, s.count + 1);
    s.p95 = undefined;
    this.rings.set(key, s);
  }

  p95(key: string, minSamples: number): number | undefined {
    const s = this.rings.get(key);
    if (!s || s.count < minSamples) return undefined;
    if (s.p95 === undefined) {
      const sorted = s.ring.slice(0, s.count).sort();
      s.p95 = sorted[Math.min(s.count - 1, Math.ceil(0.95 * s.count) - 1)];
    }
    return s.p95;
  }
}

export class ObservedOutput {
  private readonly models: Rings;
  private readonly subjects: Rings;

  constructor(window = 200, maxModels = 500, subjectWindow = 32, maxSubjects = 10_000) {
    this.models = new Rings(window, maxModels);
    this.subjects = new Rings(subjectWindow, maxSubjects);
  }

  /** One completed request of `model` produced `outputTokens`; `subjects` are the subject keys it was reserved for. */
  record(model: string, outputTokens: number, subjects: readonly string[] = []): void {
    if (!Number.isFinite(outputTokens) || outputTokens < 0) return;
    this.models.record(model, outputTokens);
    for (const s of subjects) this.subjects.record(`${s}\u0000${model}`, outputTokens);
  }

  /** p95 of recent outputs of `model`, or undefined with fewer than `minSamples` observations. */
  p95(model: string, minSamples = 10): number | undefined {
    return this.models.p95(model, minSamples);
  }

  /** p95 of this subject's recent outputs of `model` (10 samples at least), else of the model's, else undefined. */
  p95For(subject: string, model: string): number | undefined {
    return this.subjects.p95(`${subject}\u0000${model}`, 10) ?? this.models.p95(model, 10);
  }
}
