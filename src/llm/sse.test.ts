import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser } from './sse.js';
import type { SseEvent } from './sse.js';

function parseAll(chunks: (string | Buffer)[], opts?: ConstructorParameters<typeof SseParser>[0]): { events: SseEvent[]; parser: SseParser } {
  const parser = new SseParser(opts);
  const events: SseEvent[] = [];
  for (const c of chunks) events.push(...parser.feed(typeof c === 'string' ? Buffer.from(c) : c));
  events.push(...parser.end());
  return { events, parser };
}

const ANTHROPIC = [
  'event: message_start',
  'data: {"type":"message_start","message":{"usage":{"input_tokens":17,"output_tokens":1}}}  ',
  '',
  ': keep-alive comment',
  'event: ping',
  'data: {"type": "ping"}',
  '',
  'event: message_delta',
  'data: {"type":"message_delta","usage":{"output_tokens":20}}',
  '',
  '',
].join('\n');

const OPENAI = 'data: {"choices":[{"delta":{"content":"héllo 😄"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":3}}\n\ndata: [DONE]\n\n';

describe('SseParser', () => {
  it('parses named events, comments and trailing spaces', () => {
    const { events, parser } = parseAll([ANTHROPIC]);
    expect(events).toEqual([
      { event: 'message_start', data: '{"type":"message_start","message":{"usage":{"input_tokens":17,"output_tokens":1}}}  ' },
      { event: 'ping', data: '{"type": "ping"}' },
      { event: 'message_delta', data: '{"type":"message_delta","usage":{"output_tokens":20}}' },
    ]);
    expect(parser.stats.unterminated).toBe(false);
  });

  it('passes [DONE] through as data', () => {
    const { events } = parseAll([OPENAI]);
    expect(events.map((e) => e.data)).toEqual([
      '{"choices":[{"delta":{"content":"héllo 😄"}}]}', '{"choices":[],"usage":{"prompt_tokens":3}}', '[DONE]',
    ]);
  });

  it('accepts \\r\\n (Vertex) and bare \\r line endings', () => {
    const crlf = 'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n';
    const cr = 'data: {"a":1}\r\rdata: {"b":2}\r\r';
    const expected = [{ data: '{"a":1}' }, { data: '{"b":2}' }];
    expect(parseAll([crlf]).events).toEqual(expected);
    expect(parseAll([cr]).events).toEqual(expected);
  });

  it('treats \\r then \\n split across chunks as one line ending', () => {
    const { events } = parseAll(['data: x\r', '\ndata: y\r', '\n\r', '\n']);
    expect(events).toEqual([{ data: 'x\ny' }]);
  });

  it('joins multi-line data with \\n and strips one leading space only', () => {
    const { events } = parseAll(['data:  a\ndata:b\ndata\n\n']);
    expect(events).toEqual([{ data: ' a\nb\n' }]);
  });

  it('ignores id, retry and unknown fields, and events without data', () => {
    const { events } = parseAll(['id: 1\nretry: 10\nevent: lonely\n\nfoo: bar\ndata: z\n\n']);
    expect(events).toEqual([{ data: 'z' }]);
  });

  it('strips a leading BOM', () => {
    expect(parseAll([Buffer.from('\ufeffdata: a\n\n')]).events).toEqual([{ data: 'a' }]);
  });

  it('decodes UTF-8 sequences split between chunks', () => {
    const bytes = Buffer.from('data: 😄é\n\n');
    const chunks = Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1));
    const { events, parser } = parseAll(chunks);
    expect(events).toEqual([{ data: '😄é' }]);
    expect(parser.stats.invalidUtf8Lines).toBe(0);
  });

  it('counts invalid UTF-8 and still decodes the line', () => {
    const { events, parser } = parseAll([Buffer.from([...Buffer.from('data: a'), 0xff, 0xfe, 0x0a, 0x0a])]);
    expect(events).toEqual([{ data: 'a\ufffd\ufffd' }]);
    expect(parser.stats.invalidUtf8Lines).toBe(1);
  });

  it('end() flushes an unterminated last event and says so', () => {
    const { events, parser } = parseAll(['data: {"x":1}']);
    expect(events).toEqual([{ data: '{"x":1}' }]);
    expect(parser.stats.unterminated).toBe(true);
  });

  it('drops an over-long line and its event without accumulating it', () => {
    const parser = new SseParser({ maxLineBytes: 64 });
    const out: SseEvent[] = [];
    out.push(...parser.feed(Buffer.from('data: ')));
    for (let i = 0; i < 1000; i++) out.push(...parser.feed(Buffer.alloc(100, 0x61)));
    out.push(...parser.feed(Buffer.from('\n\ndata: ok\n\n')));
    expect(out).toEqual([{ data: 'ok' }]);
    expect(parser.stats.droppedLines).toBe(1);
    expect(parser.stats.droppedEvents).toBe(1);
  });

  it('drops an event whose data lines add up past the cap', () => {
    const { events, parser } = parseAll(['data: 0123456789\n'.repeat(10) + '\ndata: ok\n\n'], { maxEventBytes: 50 });
    expect(events).toEqual([{ data: 'ok' }]);
    expect(parser.stats.droppedEvents).toBe(1);
  });

  it('is linear for a big event in many small chunks', () => {
    const payload = 'x'.repeat(4 << 20);
    const body = Buffer.from(`data: ${payload}\n\n`);
    const t0 = performance.now();
    const parser = new SseParser({ maxLineBytes: 8 << 20, maxEventBytes: 8 << 20 });
    const events: SseEvent[] = [];
    for (let i = 0; i < body.length; i += 16) events.push(...parser.feed(body.subarray(i, i + 16)));
    expect(events.length).toBe(1);
    expect(events[0]?.data.length).toBe(payload.length);
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('gives the same events however the bytes are split (property)', () => {
    const line = fc.oneof(
      fc.string().map((s) => `data: ${s.replace(/[\r\n]/g, '')}`),
      fc.constantFrom('', ': comment', 'event: e', 'data:[DONE]', 'retry: 3'),
    );
    const ending = fc.constantFrom('\n', '\r\n', '\r');
    fc.assert(
      fc.property(fc.array(fc.tuple(line, ending)), fc.array(fc.nat()), (lines, cuts) => {
        const body = Buffer.from(lines.map(([l, e]) => l + e).join(''));
        const whole = parseAll([body]).events;
        const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
        const pieces: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, body.length]) {
          pieces.push(body.subarray(prev, p));
          prev = p;
        }
        expect(parseAll(pieces).events).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 })), (chunks) => {
        const parser = new SseParser({ maxLineBytes: 32, maxEventBytes: 48 });
        for (const c of chunks) parser.feed(c);
        parser.end();
      }),
    );
  });
});
