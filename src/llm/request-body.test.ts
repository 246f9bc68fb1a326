import { describe, expect, it } from 'vitest';
import { readRequestBody } from './request-body.js';
import { matchRoute, type Route } from './routes.js';

const chat = matchRoute('POST', '/v1/chat/completions') as Route;

describe('readRequestBody', () => {
  it('parses JSON and reads the facts', () => {
    expect(readRequestBody(chat, Buffer.from('{"model":"gpt-4o","stream":true}'))).toEqual({
      body: { model: 'gpt-4o', stream: true }, facts: { model: 'gpt-4o', stream: true, includeUsage: false }, problems: [],
    });
  });
  it('reports invalid UTF-8 but still reads the body leniently', () => {
    const r = readRequestBody(chat, Buffer.concat([Buffer.from('{"model":"x","messages":[{"content":"'), Buffer.from([0xff]), Buffer.from('"}]}')]));
    expect(r.problems).toEqual(['utf8_invalid']);
    expect(r.facts.model).toBe('x');
  });
  it('reports malformed JSON and an empty body without throwing', () => {
    expect(readRequestBody(chat, Buffer.from('{"model":'))).toEqual({ facts: { stream: false }, problems: ['json_invalid'] });
    expect(readRequestBody(chat, Buffer.alloc(0))).toEqual({ facts: { stream: false }, problems: [] });
  });
});
