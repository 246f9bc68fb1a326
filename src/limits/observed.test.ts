import { describe, expect, it } from 'vitest';
import { ObservedOutput } from './observed.js';

describe('ObservedOutput', () => {
  it('reports the p95 of the most recent window of outputs', () => {
    const o = new ObservedOutput(100);
    for (let i = 1; i <= 100; i++) o.record('m', i);
    expect(o.p95('m')).toBe(95);
    for (let i = 0; i < 100; i++) o.record('m', 7);
    expect(o.p95('m')).toBe(7);
  });
  it('needs enough samples and ignores nonsense', () => {
    const o = new ObservedOutput();
    o.record('m', 5);
    o.record('m', -1);
    o.record('m', NaN);
    expect(o.p95('m')).toBeUndefined();
    expect(o.p95('m', 1)).toBe(5);
  });
  it('keeps a bounded number of models', () => {
    const o = new ObservedOutput(10, 2);
    o.record('a', 1);
    o.record('b', 2);
    o.record('c', 3);
    expect(o.p95('a', 1)).toBeUndefined();
    expect(o.p95('c', 1)).toBe(3);
  });
});
