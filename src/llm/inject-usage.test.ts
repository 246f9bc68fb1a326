import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { matchRoute, type Route } from './routes.js';
import { readRequestBody } from './request-body.js';
import { withStreamUsage } from './request-facts.js';
import { appendMember, injectStreamUsage } from './inject-usage.js';

const chat = matchRoute('POST', '/v1/chat/completions') as Route;

function inject(text: string): Buffer | undefined {
  const raw = Buffer.from(text);
  const r = readRequestBody(chat, raw);
  return injectStreamUsage(chat, raw, r.body, r.facts, r.problems);
}

describe('include_usage without re-serialising the body', () => {
  it('appends the member before the closing brace, whatever the whitespace', () => {
    expect(String(inject('{"model":"m","stream":true,"messages":[]}  \n'))).toBe('{"model":"m","stream":true,"messages":[],"stream_options":{"include_usage":true}}  \n');
    expect(String(appendMember(Buffer.from(' { } '), '"a":1'))).toBe(' { "a":1} ');
    expect(appendMember(Buffer.from('[1]'), '"a":1')).toBeUndefined();
  });
  it('falls back to re-serialising when stream_options is there, and does nothing when not needed', () => {
    expect(JSON.parse(String(inject('{"model":"m","stream":true,"stream_options":{"x":1},"messages":[]}')))).toEqual({ model: 'm', stream: true, stream_options: { x: 1, include_usage: true }, messages: [] });
    expect(inject('{"model":"m","stream":false,"messages":[]}')).toBeUndefined();
    expect(inject('{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}')).toBeUndefined();
  });
  it('gives the same JSON value as the re-serialising path for any streaming chat body', () => {
    fc.assert(fc.property(fc.dictionary(fc.string().filter((k) => k !== 'stream_options' && k !== 'stream' && k !== '__proto__'), fc.jsonValue()), fc.boolean(), (extra, pretty) => {
      const body = { ...extra, model: 'gpt-4o', stream: true };
      const text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
      const r = readRequestBody(chat, Buffer.from(text));
      expect(JSON.parse(String(inject(text)))).toEqual(JSON.parse(String(withStreamUsage(chat, r.body, r.facts))));
    }));
  });
});
