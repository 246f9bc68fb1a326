import { describe, expect, it } from 'vitest';
import { ModelLabels, normaliseModel } from './model-label.js';

describe('normaliseModel', () => {
  it.each([
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku'],
    ['gpt-4.1-nano-2025-04-14', 'gpt-4.1-nano'],
    ['models/gemini-2.5-flash', 'gemini-2.5-flash'],
    ['GPT-4o', 'gpt-4o'],
    ['openai/gpt-5', 'gpt-5'],
    ['weird model{name}"', 'weird_model_name__'],
    [undefined, 'unknown'],
    ['', 'unknown'],
  ])('%s → %s', (input, want) => expect(normaliseModel(input)).toBe(want));

  it('caps length', () => expect(normaliseModel('x'.repeat(500))).toHaveLength(64));
});

describe('ModelLabels', () => {
  it('keeps the first N distinct models and folds the rest into other', () => {
    const labels = new ModelLabels(2);
    expect(labels.label('a')).toBe('a');
    expect(labels.label('b')).toBe('b');
    expect(labels.label('c')).toBe('other');
    expect(labels.label('A')).toBe('a');
  });
});
