import { describe, expect, it } from 'vitest';
import { TextCollector } from './common.js';
import { createUsageExtractor } from './index.js';
import type { Endpoint } from '../types.js';

function run(endpoint: Endpoint, values: unknown[]): { r: ReturnType<ReturnType<typeof createUsageExtractor>['result']>; text: string } {
  const text = new TextCollector();
  const x = createUsageExtractor(endpoint, text);
  for (const v of values) x.accept(v);
  return { r: x.result(), text: text.text() };
}

describe('OpenAI chat completions', () => {
  it('maps usage with cached and reasoning details', () => {
    const { r } = run('openai.chat', [{
      model: 'gpt-5-nano', choices: [{ message: { content: 'hi' } }],
      usage: {
        prompt_tokens: 100, completion_tokens: 50, total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 64 }, completion_tokens_details: { reasoning_tokens: 30 },
      },
    }]);
    expect(r).toEqual({
      final: true, model: 'gpt-5-nano',
      usage: { inputTokens: 100, outputTokens: 50, totalTokens: 150, cachedInputTokens: 64, reasoningTokens: 30 },
    });
  });

  it('ignores usage: null on intermediate chunks and reads usage on a chunk with choices (OpenRouter)', () => {
    const { r, text } = run('openai.chat', [
      { model: 'm', choices: [{ delta: { role: 'assistant', content: 'Hel' } }], usage: null },
      { choices: [{ delta: { content: 'lo' } }], usage: null },
      { choices: [{ delta: { content: '!' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8, cost: 0.001 } },
    ]);
    expect(r.usage).toEqual({ inputTokens: 5, outputTokens: 3, totalTokens: 8 });
    expect(text).toBe('Hello!');
  });

  it('takes the last usage report, never the sum', () => {
    const { r } = run('openai.chat', [
      { choices: [], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } },
      { choices: [], usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } },
    ]);
    expect(r.usage).toEqual({ inputTokens: 5, outputTokens: 9, totalTokens: 14 });
  });

  it('reads DeepSeek cache hits when prompt_tokens_details is absent', () => {
    const { r } = run('openai.chat', [{ usage: { prompt_tokens: 12, completion_tokens: 1, total_tokens: 13, prompt_cache_hit_tokens: 8 } }]);
    expect(r.usage?.cachedInputTokens).toBe(8);
  });

  it('collects content, reasoning, refusals and tool-call arguments', () => {
    const { r, text } = run('openai.chat', [
      { choices: [{ delta: { reasoning_content: 'think ' } }] },
      { choices: [{ delta: { tool_calls: [{ index: 0, function: { name: 'f', arguments: '{"a":' } }] } }] },
      { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }] } }] },
      { choices: [{ delta: { refusal: ' no' } }] },
    ]);
    expect(text).toBe('think f{"a":1} no');
    expect(r).toEqual({ final: false });
  });

  it('reads legacy completions text', () => {
    const { text } = run('openai.completions', [{ choices: [{ text: 'abc' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }]);
    expect(text).toBe('abc');
  });

  it('maps embeddings with zero output', () => {
    const { r } = run('openai.embeddings', [{ object: 'list', data: [], usage: { prompt_tokens: 7, total_tokens: 7 } }]);
    expect(r.usage).toEqual({ inputTokens: 7, outputTokens: 0, totalTokens: 7 });
  });

  it('recognises error bodies', () => {
    expect(run('openai.chat', [{ error: { message: 'x', type: 'invalid_request_error', code: 'model_not_found' } }]).r.error)
      .toEqual({ type: 'invalid_request_error', code: 'model_not_found' });
    expect(run('openai.chat', [{ error: { code: 429, message: 'Provider returned error', metadata: {} } }]).r.error).toEqual({ code: '429' });
  });
});

describe('OpenAI Responses API', () => {
  const usage = { input_tokens: 20, input_tokens_details: { cached_tokens: 8 }, output_tokens: 10, output_tokens_details: { reasoning_tokens: 4 }, total_tokens: 30 };
  const mapped = { inputTokens: 20, outputTokens: 10, totalTokens: 30, cachedInputTokens: 8, reasoningTokens: 4 };

  it('reads a non-streamed response object and its output text', () => {
    const { r, text } = run('openai.responses', [{
      object: 'response', model: 'gpt-5', usage,
      output: [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'R.' }] },
        { type: 'function_call', name: 'f', arguments: '{}' },
        { type: 'message', content: [{ type: 'output_text', text: 'Hi' }] },
      ],
    }]);
    expect(r).toEqual({ final: true, model: 'gpt-5', usage: mapped });
    expect(text).toBe('R.{}Hi');
  });

  it.each(['response.completed', 'response.incomplete', 'response.failed'])('reads usage from %s', (type) => {
    const { r, text } = run('openai.responses', [
      { type: 'response.created', response: { model: 'gpt-5', usage: null } },
      { type: 'response.output_text.delta', delta: 'Hel' },
      { type: 'response.function_call_arguments.delta', delta: '{}' },
      { type: 'response.output_text.done', text: 'Hello' },
      { type, response: { model: 'gpt-5-2025', usage, output: [{ type: 'message', content: [{ text: 'Hello' }] }] } },
    ]);
    expect(r.usage).toEqual(mapped);
    expect(r.model).toBe('gpt-5-2025');
    expect(text).toBe('Hel{}'); // deltas only: the final event's copy of the output is not counted again
  });

  it('recognises error events', () => {
    expect(run('openai.responses', [{ type: 'error', code: 'server_error', message: 'x' }]).r.error).toEqual({ type: 'error', code: 'server_error' });
    expect(run('openai.responses', [{ type: 'response.failed', response: { error: { code: 'rate_limit_exceeded' } } }]).r.error)
      .toEqual({ type: 'response_failed', code: 'rate_limit_exceeded' });
  });
});
