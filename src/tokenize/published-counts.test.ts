/**
 * The counter against prompt-token counts others measured on the OpenAI API and published with their requests
 * (test/fixtures/openai-tool-counts): tool shapes the recordings lack (nested objects, enums, arrays, null and
 * untyped properties, a named tool_choice) on cl100k and o200k models.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { countInputTokens } from './count-request.js';

interface Measurement {
  name: string;
  model: string;
  body: Record<string, unknown>;
  prompt_tokens: number;
}

const { counts } = JSON.parse(readFileSync(new URL('../../test/fixtures/openai-tool-counts/counts.json', import.meta.url), 'utf8')) as { counts: Measurement[] };

describe('published OpenAI prompt-token measurements with tools', () => {
  it('covers nested objects, enums, arrays, null and untyped properties, a named tool_choice, cl100k and o200k', () => {
    const text = JSON.stringify(counts.map((c) => c.body));
    for (const s of ['"type":"object","description"', '"enum"', '"type":"array"', '"type":"null"', '"tool_choice":{"type":"function"']) expect(text).toContain(s);
    expect(new Set(counts.map((c) => countInputTokens('openai.chat', c.body).encoding))).toEqual(new Set(['cl100k_base', 'o200k_base']));
  });

  it.each(counts.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(countInputTokens('openai.chat', c.body, { model: c.model }).tokens).toBe(c.prompt_tokens);
  });
});
