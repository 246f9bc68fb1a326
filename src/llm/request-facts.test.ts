import { describe, expect, it } from 'vitest';
import { readRequestFacts, withStreamUsage } from './request-facts.js';
import { matchRoute, type Route } from './routes.js';

function route(path: string): Route {
  const r = matchRoute('POST', path);
  if (!r) throw new Error(`no route for ${path}`);
  return r;
}

describe('readRequestFacts', () => {
  it('reads model, stream and every output cap spelling', () => {
    const chat = route('/v1/chat/completions');
    expect(readRequestFacts(chat, { model: 'gpt-4o', stream: true, max_tokens: 50 })).toEqual({
      model: 'gpt-4o', stream: true, maxOutputTokens: 50, includeUsage: false,
    });
    expect(readRequestFacts(chat, { model: 'gpt-5', max_completion_tokens: 9 }).maxOutputTokens).toBe(9);
    expect(readRequestFacts(route('/v1/responses'), { model: 'gpt-5', max_output_tokens: 7 }).maxOutputTokens).toBe(7);
    const gem = route('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(readRequestFacts(gem, { generationConfig: { maxOutputTokens: 100 } })).toEqual({
      model: 'gemini-2.5-flash', stream: true, maxOutputTokens: 100,
    });
  });

  it('takes the Azure deployment only when the body names no model', () => {
    const az = route('/openai/deployments/dep/chat/completions');
    expect(readRequestFacts(az, { messages: [] }).model).toBe('dep');
    expect(readRequestFacts(az, { model: 'gpt-4o' }).model).toBe('gpt-4o');
  });

  it('never throws on bodies of the wrong shape', () => {
    const chat = route('/v1/chat/completions');
    for (const body of [null, 42, 'x', [], { model: 5, stream: 'yes', max_tokens: -1, stream_options: 3 }]) {
      expect(readRequestFacts(chat, body)).toEqual({ stream: false });
    }
  });
});

describe('withStreamUsage', () => {
  const chat = route('/v1/chat/completions');
  it('adds include_usage to streaming chat requests that lack it, keeping other options', () => {
    const body = { model: 'gpt-4o', stream: true, stream_options: { foo: 1 }, messages: [] };
    const out = withStreamUsage(chat, body, readRequestFacts(chat, body));
    expect(JSON.parse(String(out))).toEqual({ ...body, stream_options: { foo: 1, include_usage: true } });
  });
  it('leaves other requests alone', () => {
    const asked = { stream: true, stream_options: { include_usage: true } };
    expect(withStreamUsage(chat, asked, readRequestFacts(chat, asked))).toBeUndefined();
    const plain = { stream: false };
    expect(withStreamUsage(chat, plain, readRequestFacts(chat, plain))).toBeUndefined();
    const resp = route('/v1/responses');
    expect(withStreamUsage(resp, { stream: true }, readRequestFacts(resp, { stream: true }))).toBeUndefined();
  });
});
