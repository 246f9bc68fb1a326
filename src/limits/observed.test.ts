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

describe('ObservedOutput per subject', () => {
  it('p95 of the subject\'s own outputs once it has 10, else the model\'s', () => {
    const o = new ObservedOutput(200, 10, 32, 2);
    for (let i = 1; i <= 10; i++) o.record('m', 1000 * i, ['long']);
    for (let i = 1; i <= 9; i++) o.record('m', i, ['short']);
    expect(o.p95For('long', 'm')).toBe(10_000);
    expect(o.p95For('short', 'm')).toBe(o.p95('m'));
    o.record('m', 10, ['short']);
    expect(o.p95For('short', 'm')).toBe(10);
    expect(o.p95For('nobody', 'other-model')).toBeUndefined();
  });

  it('keeps at most maxSubjects (subject, model) pairs, least recently updated first out', () => {
    const o = new ObservedOutput(200, 10, 32, 2);
    for (const s of ['a', 'b', 'c']) for (let i = 0; i < 10; i++) o.record(`m-${s}`, 5, [s]);
    for (const m of ['m-a', 'm-c']) for (let i = 0; i < 30; i++) o.record(m, 500); // model-wide samples only
    expect(o.p95For('a', 'm-a')).toBe(500); // a's own samples were evicted: the model's p95
    expect(o.p95For('c', 'm-c')).toBe(5);
  });
});
