import { describe, expect, it } from 'vitest';
import { deadlineSignal, decisionTimes, valueWithin } from './decision-deadline.js';

describe('decision times', () => {
  it('decide within half of Envoy\'s message timeout, count within a fifth (at most 200 ms)', () => {
    expect(decisionTimes(1000, 2000)).toEqual({ countBy: 1200, decideBy: 2000 });
    expect(decisionTimes(0, 200)).toEqual({ countBy: 40, decideBy: 100 });
    expect(decisionTimes(0, 10_000)).toEqual({ countBy: 200, decideBy: 5000 });
  });
  it('takes a value that is there, else the fallback once the time is up', async () => {
    await expect(valueWithin(Promise.resolve(3), -5, 'late')).resolves.toBe(3);
    await expect(valueWithin(new Promise((r) => setTimeout(r, 100, 3)), 5, 'late')).resolves.toBe('late');
    await expect(valueWithin(Promise.reject(new Error('x')), 50, 'late')).resolves.toBe('late');
  });
  it('aborts at once when the deadline has passed', () => {
    expect(deadlineSignal(0).signal.aborted).toBe(true);
    const later = deadlineSignal(50);
    expect(later.signal.aborted).toBe(false);
    later.cancel();
  });
});
