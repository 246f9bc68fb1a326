import { describe, expect, it } from 'vitest';
import { modelMaxOutput } from './output-limits.js';

describe('modelMaxOutput', () => {
  it.each([
    ['gpt-4o-mini-2024-07-18', 16_384], ['gpt-5-nano', 128_000], ['gpt-4-0613', 8_192], ['o3-mini', 100_000],
    ['claude-sonnet-4-5-20250929', 64_000], ['anthropic.claude-3-5-haiku-20241022', 8_192], ['models/gemini-2.5-flash', 65_536],
  ])('%s → %d', (model, want) => expect(modelMaxOutput(model)).toBe(want));
  it('is undefined for unknown models', () => {
    expect(modelMaxOutput('deepseek-chat')).toBeUndefined();
    expect(modelMaxOutput(undefined)).toBeUndefined();
  });
});
