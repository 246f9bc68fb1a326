import { describe, expect, it } from 'vitest';
import { countInputTokens } from './count-request.js';
import { reservedInput, serverTools, SERVER_TOOL_INPUT_MARGIN } from './server-tools.js';

describe('server-side tools', () => {
  it('are recognised per provider', () => {
    expect(serverTools('anthropic.messages', { tools: [{ type: 'web_search_20250305', name: 'web_search' }, { name: 'x', input_schema: {} }] }, 'claude-sonnet-4-5')).toEqual(['web_search']);
    expect(serverTools('anthropic.messages', { tools: [{ type: 'web_fetch_20250910' }, { type: 'code_execution_20250825' }], mcp_servers: [{}] }, undefined)).toEqual(['code_execution', 'mcp', 'web_fetch']);
    expect(serverTools('openai.responses', { tools: [{ type: 'web_search' }, { type: 'file_search' }, { type: 'function', name: 'f' }] }, 'gpt-5')).toEqual(['file_search', 'web_search']);
    expect(serverTools('openai.chat', { web_search_options: {} }, 'gpt-4o-search-preview')).toEqual(['web_search']);
    expect(serverTools('gemini.generate', { tools: [{ googleSearch: {} }, { codeExecution: {} }, { url_context: {} }, { functionDeclarations: [] }] }, undefined)).toEqual(['code_execution', 'web_fetch', 'web_search']);
    expect(serverTools('openai.chat', { tools: [{ type: 'function', function: { name: 'f' } }] }, 'gpt-4o')).toEqual([]);
    expect(serverTools('gemini.stream', 'not an object', undefined)).toEqual([]);
  });

  it('make the count an estimate that carries them', () => {
    const c = countInputTokens('anthropic.messages', { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'weather?' }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] });
    expect(c.serverTools).toEqual(['web_search']);
    expect(c.exact).toBe(false);
    expect(countInputTokens('openai.chat', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).serverTools).toBeUndefined();
  });

  it('reserve a margin on top of the pre-count', () => {
    expect(reservedInput({ tokens: 100, encoding: 'estimate:anthropic', exact: false, serverTools: ['web_search'] }, 50)).toBe(100 + SERVER_TOOL_INPUT_MARGIN);
    expect(reservedInput({ tokens: 100, encoding: 'o200k_base', exact: true }, 50)).toBe(100);
    expect(reservedInput(undefined, 4001)).toBe(1001);
  });
});
