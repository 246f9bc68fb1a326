import { describe, expect, it } from 'vitest';
import { labelSafe, TextCollector } from './common.js';
import { createUsageExtractor } from './index.js';

function run(values: unknown[]): { r: ReturnType<ReturnType<typeof createUsageExtractor>['result']>; text: string } {
  const text = new TextCollector();
  const x = createUsageExtractor('gemini.stream', text);
  for (const v of values) x.accept(v);
  return { r: x.result(), text: text.text() };
}

describe('Gemini', () => {
  it('adds tool-use prompt tokens to input and thoughts to output', () => {
    const { r } = run([{
      candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: 'STOP' }], modelVersion: 'gemini-2.5-flash',
      usageMetadata: { promptTokenCount: 32, candidatesTokenCount: 341, totalTokenCount: 1196, toolUsePromptTokenCount: 720, thoughtsTokenCount: 103, cachedContentTokenCount: 16 },
    }]);
    expect(r).toEqual({
      final: true, model: 'gemini-2.5-flash',
      usage: { inputTokens: 752, outputTokens: 444, totalTokens: 1196, cachedInputTokens: 16, reasoningTokens: 103 },
    });
  });

  it('takes the last chunk\'s usage (each chunk carries the usage so far)', () => {
    const { r, text } = run([
      { candidates: [{ content: { parts: [{ text: 'a', thought: true }] } }], usageMetadata: { promptTokenCount: 9, totalTokenCount: 194, thoughtsTokenCount: 185 } },
      { candidates: [{ content: { parts: [{ text: 'b' }] } }], usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 5, totalTokenCount: 199, thoughtsTokenCount: 185 } },
      { candidates: [{ content: { parts: [{ text: 'c' }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 23, totalTokenCount: 217, thoughtsTokenCount: 185 } },
    ]);
    expect(r.usage).toEqual({ inputTokens: 9, outputTokens: 208, totalTokens: 217, reasoningTokens: 185 });
    expect(r.final).toBe(true);
    expect(text).toBe('abc');
  });

  it('is not final before a finishReason', () => {
    const { r } = run([{ candidates: [{ content: { parts: [{ text: 'a' }] } }], usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 } }]);
    expect(r).toEqual({ final: false, usage: { inputTokens: 9, outputTokens: 0, totalTokens: 9 } });
  });

  it('reads a JSON array fed as one value', () => {
    const { r } = run([[{ usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2, totalTokenCount: 3 } }, { candidates: [{ finishReason: 'STOP' }] }]]);
    expect(r.usage).toEqual({ inputTokens: 1, outputTokens: 2, totalTokens: 3 });
  });

  it('collects function-call arguments', () => {
    expect(run([{ candidates: [{ content: { parts: [{ functionCall: { name: 'f', args: { a: 1 } } }] } }] }]).text).toBe('f{"a":1}');
  });

  it('recognises error bodies', () => {
    expect(run([{ error: { code: 429, message: 'Resource exhausted.', status: 'RESOURCE_EXHAUSTED' } }]).r.error)
      .toEqual({ type: 'resource_exhausted', code: '429' });
  });
});

describe('labelSafe and TextCollector', () => {
  it('makes label-safe identifiers', () => {
    expect(labelSafe('Invalid Request!')).toBe('invalid_request_');
    expect(labelSafe(429)).toBe('429');
    expect(labelSafe('x'.repeat(100))?.length).toBe(64);
    expect(labelSafe({})).toBeUndefined();
  });

  it('keeps text up to its cap and counts the rest', () => {
    const t = new TextCollector(5);
    t.add('abc');
    t.add('defgh');
    t.add(42);
    expect(t.text()).toBe('abcde');
    expect(t.totalChars).toBe(8);
    expect(t.truncated).toBe(true);
  });
});
