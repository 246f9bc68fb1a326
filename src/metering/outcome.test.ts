import { describe, expect, it } from 'vitest';
import { decideOutcome, precountRelativeError } from './outcome.js';

const pre = { tokens: 10, encoding: 'o200k_base', exact: true };

describe('decideOutcome', () => {
  it('takes provider usage as reported, including its total', () => {
    const out = decideOutcome(200, pre, { usage: { inputTokens: 12, outputTokens: 5, totalTokens: 20, reasoningTokens: 3, cachedInputTokens: 0 } });
    expect(out).toEqual({ inputTokens: 12, outputTokens: 5, totalTokens: 20, reasoningTokens: 3, cachedInputTokens: 0, source: 'provider' });
  });

  it('estimates from the pre-count and streamed text when nothing is reported', () => {
    expect(decideOutcome(200, pre, { usage: {}, estimatedOutputTokens: 7 })).toEqual({ inputTokens: 10, outputTokens: 7, totalTokens: 17, source: 'estimated' });
  });

  it('marks partially reported usage as estimated', () => {
    expect(decideOutcome(200, pre, { usage: { inputTokens: 11 }, estimatedOutputTokens: 2 })).toMatchObject({ inputTokens: 11, outputTokens: 2, totalTokens: 13, source: 'estimated' });
  });

  it('keeps what the provider said but marks it estimated when the reader had to fill in', () => {
    const out = decideOutcome(200, pre, { usage: { inputTokens: 12, outputTokens: 40 }, usageSource: 'estimated' });
    expect(out).toMatchObject({ inputTokens: 12, outputTokens: 40, totalTokens: 52, source: 'estimated' });
  });

  it('bills nothing for upstream errors and for streams with nothing known', () => {
    expect(decideOutcome(429, pre, { usage: { inputTokens: 3 } })).toMatchObject({ inputTokens: 0, outputTokens: 0, source: 'none' });
    expect(decideOutcome(undefined, undefined, undefined).source).toBe('none');
  });

  it('treats a reported 0 as reported, not unknown', () => {
    expect(decideOutcome(200, pre, { usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 } })).toMatchObject({ inputTokens: 0, source: 'provider' });
  });
});

describe('precountRelativeError', () => {
  it('is |ours - reported| / reported', () => {
    expect(precountRelativeError(pre, { inputTokens: 8 })).toBeCloseTo(0.25);
    expect(precountRelativeError(pre, {})).toBeUndefined();
    expect(precountRelativeError(undefined, { inputTokens: 8 })).toBeUndefined();
  });
});
