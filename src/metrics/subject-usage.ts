/**
 * `tokenmeter_budget_subject_usage_ratio{policy, limit, subject}`: the share of a limit a subject has used in the
 * current window (live reservations included, as the limiter saw it at the subject's latest request), exported only
 * while it is at or above a threshold, so Alertmanager can name the tenant about to run out without a series per
 * subject. At most `maxSeries` series exist at once: a subject crossing the threshold while the cap is reached is
 * counted in `tokenmeter_budget_subject_usage_overflow_total` instead (and appears once another drops out). A series
 * is removed when the subject's usage falls below the threshold or its window ends (checked at every scrape).
 */
import { createHash } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CounterUsage } from '../limits/limiter.js';

/** One counter's usage as the limiter reports it after a reserve. */
export type SubjectUsage = CounterUsage;

export interface SubjectUsageOptions {
  /** Share (0–1] from which a subject gets a series. */
  threshold: number;
  maxSeries: number;
  registers: Registry[];
  now?: () => number;
}

/** Label values longer than this are replaced by their hash (subjects are bounded in count here, not in size). */
const MAX_LABEL = 128;

interface Entry {
  labels: { policy: string; limit: string; subject: string };
  windowEndMs: number;
}

export class SubjectUsageMetric {
  readonly gauge: Gauge<'policy' | 'limit' | 'subject'>;
  readonly overflow: Counter;
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly opts: SubjectUsageOptions) {
    this.now = opts.now ?? Date.now;
    const prune = (): void => this.prune();
    this.gauge = new Gauge({
      name: 'tokenmeter_budget_subject_usage_ratio',
      help: `Share of a limit a subject has used in the current window, only for subjects at or above ${opts.threshold} (at most ${opts.maxSeries} series).`,
      labelNames: ['policy', 'limit', 'subject'], registers: opts.registers,
      collect: prune,
    });
    this.overflow = new Counter({
      name: 'tokenmeter_budget_subject_usage_overflow_total',
      help: 'Subjects at or above the threshold left out of tokenmeter_budget_subject_usage_ratio because its series cap was reached.',
      registers: opts.registers,
    });
  }

  /** Series currently exported. */
  get size(): number {
    return this.entries.size;
  }

  observe(u: SubjectUsage): void {
    const share = u.budget > 0 ? u.used / u.budget : 1;
    const key = `${u.policy}\u0000${u.limit}\u0000${u.subject}`;
    const entry = this.entries.get(key);
    if (share < this.opts.threshold || u.windowEndMs <= this.now()) {
      if (entry) {
        this.gauge.remove(entry.labels);
        this.entries.delete(key);
      }
      return;
    }
    if (!entry && this.entries.size >= this.opts.maxSeries) this.prune();
    if (!entry && this.entries.size >= this.opts.maxSeries) {
      this.overflow.inc();
      return;
    }
    const labels = entry?.labels ?? { policy: u.policy, limit: u.limit, subject: labelSafe(u.subject) };
    this.entries.set(key, { labels, windowEndMs: u.windowEndMs });
    this.gauge.set(labels, share);
  }

  /** Drops the series whose window has ended. */
  prune(): void {
    const now = this.now();
    for (const [key, e] of this.entries) {
      if (e.windowEndMs > now) continue;
      this.gauge.remove(e.labels);
      this.entries.delete(key);
    }
  }
}

function labelSafe(subject: string): string {
  return subject.length <= MAX_LABEL ? subject : `#${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`;
}
