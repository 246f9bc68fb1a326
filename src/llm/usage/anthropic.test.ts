import { describe, expect, it } from 'vitest';
import { TextCollector } from './common.js';
import { createUsageExtractor } from './index.js';

function run(values: unknown[]): { r: ReturnType<ReturnType<typeof createUsageExtractor>['result']>; text: string } {
  const text = new TextCollector();
  const x = createUsageExtractor('anthropic.messages', text);
  for (const v of values) x.accept(v);
  return { r: x.result(), text: text.text() };
}

const start = (usage: object): object => ({ type: 'message_start', message: { model: 'claude-x', content: [], usage } });

describe('Anthropic messages', () => {
  it('adds cache reads and writes to input, and reports them separately', () => {
    const { r } = run([{
      type: 'message', model: 'claude-x', content: [{ type: 'text', text: 'hi' }],
      usage: { input_tokens: 3, cache_read_input_tokens: 2091, cache_creation_input_tokens: 10, output_tokens: 95 },
    }]);
    expect(r).toEqual({
      final: true, model: 'claude-x',
      usage: { inputTokens: 2104, outputTokens: 95, totalTokens: 2199, cachedInputTokens: 2091, cacheWriteTokens: 10 },
    });
  });

  it('never adds message_start and message_delta output counts', () => {
    const { r } = run([
      start({ input_tokens: 542, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 62 }),
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 542, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 62 } },
    ]);
    expect(r.usage).toEqual({ inputTokens: 542, outputTokens: 62, totalTokens: 604, cachedInputTokens: 0, cacheWriteTokens: 0 });
  });

  it("lets message_delta's input_tokens replace message_start's (server tools)", () => {
    const { r } = run([
      start({ input_tokens: 100, output_tokens: 1 }),
      { type: 'message_delta', usage: { input_tokens: 1500, output_tokens: 40, server_tool_use: { web_search_requests: 1 } } },
    ]);
    expect(r.usage).toEqual({ inputTokens: 1500, outputTokens: 40, totalTokens: 1540 });
  });

  it('keeps message_start fields a delta does not repeat', () => {
    const { r } = run([start({ input_tokens: 4, cache_read_input_tokens: 1165, output_tokens: 1 }), { type: 'message_delta', usage: { output_tokens: 221 } }]);
    expect(r).toMatchObject({ final: true, usage: { inputTokens: 1169, outputTokens: 221, cachedInputTokens: 1165 } });
  });

  it('says usage is not final when the stream stopped before message_delta', () => {
    const { r } = run([start({ input_tokens: 4, output_tokens: 1 }), { type: 'content_block_delta', delta: { type: 'text_delta', text: 'x' } }]);
    expect(r.final).toBe(false);
    expect(r.usage).toEqual({ inputTokens: 4, outputTokens: 1, totalTokens: 5 });
  });

  it('collects text, thinking and tool input deltas', () => {
    const { text } = run([
      start({ input_tokens: 1 }),
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'SIG' } },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', name: 'f', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } },
      { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: ' ok' } },
    ]);
    expect(text).toBe('hmm f{"a":1} ok');
  });

  it('collects a whole message\'s tool input', () => {
    const { text } = run([{ type: 'message', content: [{ type: 'tool_use', name: 'f', input: { a: 1 } }], usage: { input_tokens: 1, output_tokens: 2 } }]);
    expect(text).toBe('f{"a":1}');
  });

  it('recognises error bodies and error events', () => {
    expect(run([{ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]).r.error).toEqual({ type: 'overloaded_error' });
    expect(run([{ error: { type: 'not_found_error', message: 'model: x' } }]).r.error).toEqual({ type: 'not_found_error' });
  });
});
