import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SubjectUsageMetric } from './subject-usage.js';

const END = 10_000;
const setup = (maxSeries = 3): { m: SubjectUsageMetric; registry: Registry; clock: { now: number } } => {
  const registry = new Registry();
  const clock = { now: 0 };
  return { m: new SubjectUsageMetric({ threshold: 0.8, maxSeries, registers: [registry], now: () => clock.now }), registry, clock };
};
const series = async (r: Registry): Promise<Record<string, number>> => {
  const json = await r.getSingleMetric('tokenmeter_budget_subject_usage_ratio')?.get();
  return Object.fromEntries((json?.values ?? []).map((v) => [String(v.labels.subject), v.value]));
};

describe('tokenmeter_budget_subject_usage_ratio', () => {
  it('names a subject only while it is at or above the threshold', async () => {
    const { m, registry } = setup();
    m.observe({ policy: 'p', limit: 'l', subject: 'acme', used: 79, budget: 100, windowEndMs: END });
    expect(await series(registry)).toEqual({});
    m.observe({ policy: 'p', limit: 'l', subject: 'acme', used: 85, budget: 100, windowEndMs: END });
    expect(await series(registry)).toEqual({ acme: 0.85 });
    m.observe({ policy: 'p', limit: 'l', subject: 'acme', used: 120, budget: 100, windowEndMs: END });
    expect(await series(registry)).toEqual({ acme: 1.2 });
    m.observe({ policy: 'p', limit: 'l', subject: 'acme', used: 10, budget: 100, windowEndMs: END + 1 });
    expect(await series(registry)).toEqual({});
  });

  it('never exceeds its series cap, counts what it left out, and frees series when windows end', async () => {
    const { m, registry, clock } = setup(3);
    for (let i = 0; i < 50; i++) m.observe({ policy: 'p', limit: 'l', subject: `s${i}`, used: 90 + (i % 10), budget: 100, windowEndMs: END });
    expect(m.size).toBe(3);
    expect(Object.keys(await series(registry))).toHaveLength(3);
    expect((await registry.getSingleMetric('tokenmeter_budget_subject_usage_overflow_total')?.get())?.values[0]?.value).toBe(47);
    clock.now = END;
    expect(await series(registry)).toEqual({});
    m.observe({ policy: 'p', limit: 'l', subject: 'late', used: 95, budget: 100, windowEndMs: END + 60_000 });
    expect(await series(registry)).toEqual({ late: 0.95 });
  });

  it('a long subject becomes its hash in the label', async () => {
    const { m, registry } = setup();
    m.observe({ policy: 'p', limit: 'l', subject: 'x'.repeat(200), used: 90, budget: 100, windowEndMs: END });
    expect(Object.keys(await series(registry))[0]).toMatch(/^#[0-9a-f]{32}$/);
  });
});
