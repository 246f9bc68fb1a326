import { describe, expect, it } from 'vitest';
import { outputCapField, withOutputCap } from './output-cap.js';
import { readRequestFacts, rewrittenBody } from './request-facts.js';
import { matchRoute, type Route } from './routes.js';

function route(path: string): Route {
  const r = matchRoute('POST', path);
  if (!r) throw new Error(`no route for ${path}`);
  return r;
}

/** The body with `cap` written, parsed back. */
function capped(path: string, body: Record<string, unknown>, cap: number): Record<string, unknown> {
  const r = route(path);
  const out = rewrittenBody(r, body, readRequestFacts(r, body), { includeUsage: false, outputCap: cap });
  return JSON.parse(out?.toString() ?? 'null') as Record<string, unknown>;
}

describe('withOutputCap: the provider\'s own field, the rest of the body unchanged', () => {
  const messages = [{ role: 'user', content: 'hi' }];

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['/v1/chat/completions', { model: 'gpt-5', messages }, { model: 'gpt-5', messages, max_completion_tokens: 42 }],
    ['/v1/chat/completions', { model: 'gpt-4o', max_tokens: 9000, messages }, { model: 'gpt-4o', max_tokens: 42, messages }],
    ['/v1/chat/completions', { model: 'o3', max_completion_tokens: 9000, max_tokens: 9000 }, { model: 'o3', max_completion_tokens: 42, max_tokens: 9000 }],
    ['/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'x' }, { model: 'gpt-3.5-turbo-instruct', prompt: 'x', max_tokens: 42 }],
    ['/v1/responses', { model: 'gpt-5', input: 'x', max_output_tokens: 100000 }, { model: 'gpt-5', input: 'x', max_output_tokens: 42 }],
    ['/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 64000, messages }, { model: 'claude-sonnet-4-5', max_tokens: 42, messages }],
    ['/v1beta/models/gemini-2.5-pro:generateContent', { contents: [], generationConfig: { temperature: 0.2 } },
      { contents: [], generationConfig: { temperature: 0.2, maxOutputTokens: 42 } }],
    ['/v1beta/models/gemini-2.5-pro:generateContent', { contents: [] }, { contents: [], generationConfig: { maxOutputTokens: 42 } }],
    ['/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse', { contents: [], generation_config: { max_output_tokens: 8192 } },
      { contents: [], generation_config: { max_output_tokens: 42 } }],
  ])('%s %j', (path, body, want) => {
    const out = capped(path, body, 42);
    expect(out).toEqual(want);
    expect(Object.keys(out)).toEqual(Object.keys(want)); // key order kept: only the cap differs
    expect(readRequestFacts(route(path), out).maxOutputTokens).toBe(42);
  });

  it('with include_usage injection in the same rewrite; embeddings have no cap', () => {
    const r = route('/v1/chat/completions');
    const body = { model: 'gpt-4o', stream: true, messages };
    const out = rewrittenBody(r, body, readRequestFacts(r, body), { includeUsage: true, outputCap: 7 });
    expect(JSON.parse(out?.toString() ?? '')).toEqual({ ...body, stream_options: { include_usage: true }, max_completion_tokens: 7 });
    expect(withOutputCap('openai.embeddings', { input: 'x' }, 5)).toBeUndefined();
    expect(outputCapField('openai.embeddings')).toBeUndefined();
    expect(outputCapField('gemini.stream')).toBe('generationConfig.maxOutputTokens');
  });
});
