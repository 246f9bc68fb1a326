import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createResponseMeter } from './response-meter.js';
import type { ResponseMeterOptions, ResponseMeterResult } from './response-meter.js';

const count = (s: string): number => Math.ceil(s.length / 4);

async function meter(body: string | Buffer | Buffer[], opts: Partial<ResponseMeterOptions> = {}): Promise<ResponseMeterResult> {
  const m = createResponseMeter({ endpoint: 'openai.chat', status: 200, maxDecodedBytes: 1 << 20, countText: count, ...opts });
  for (const c of Array.isArray(body) ? body : [typeof body === 'string' ? Buffer.from(body) : body]) m.write(c);
  return m.end();
}

const ANTHROPIC_SSE = `event: message_start
data: {"type":"message_start","message":{"model":"claude-haiku-4-5-20251001","id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":542,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":62}}  }

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}     }

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}               }

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":62}}

event: message_stop
data: {"type":"message_stop"}

`;

const OPENAI_NO_USAGE = `data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4-0613","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4-0613","choices":[{"index":0,"delta":{"content":"This is a test."},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4-0613","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: [DONE]

`;

const GEMINI_VERTEX_SSE = 'data: {"candidates": [{"content": {"role": "model","parts": [{"text": "Hi"}]}}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.5-flash"}\r\n\r\n'
  + 'data: {"candidates": [{"content": {"role": "model","parts": [{"text": "!"}]},"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 2,"totalTokenCount": 30,"thoughtsTokenCount": 20},"modelVersion": "gemini-2.5-flash"}\r\n\r\n';

describe('createResponseMeter', () => {
  it('meters an Anthropic stream (message_start output already final: not added)', async () => {
    const r = await meter(ANTHROPIC_SSE, { endpoint: 'anthropic.messages', contentType: 'text/event-stream; charset=utf-8' });
    expect(r).toMatchObject({
      usageSource: 'provider', model: 'claude-haiku-4-5-20251001', problems: [], framing: 'sse',
      usage: { inputTokens: 542, outputTokens: 62, totalTokens: 604, cachedInputTokens: 0, cacheWriteTokens: 0 },
    });
    expect(r.outputText).toBeUndefined();
  });

  it('meters a Vertex SSE stream with \\r\\n\\r\\n separators', async () => {
    const r = await meter(GEMINI_VERTEX_SSE, { endpoint: 'gemini.stream', contentType: 'text/event-stream' });
    expect(r.usage).toEqual({ inputTokens: 8, outputTokens: 22, totalTokens: 30, reasoningTokens: 20 });
    expect(r.problems).toEqual([]);
  });

  it('estimates output tokens when an OpenAI stream reports no usage', async () => {
    const r = await meter(OPENAI_NO_USAGE, { contentType: 'text/event-stream' });
    expect(r).toMatchObject({
      usageSource: 'estimated', usage: { outputTokens: 4 }, estimatedOutputTokens: 4, model: 'gpt-4-0613', problems: [],
      outputText: { text: 'This is a test.', totalChars: 15 },
    });
  });

  it('exposes the text without a counter', async () => {
    const r = await meter(OPENAI_NO_USAGE, { contentType: 'text/event-stream', countText: undefined });
    expect(r).toMatchObject({ usageSource: 'none', usage: {}, outputText: { text: 'This is a test.' } });
  });

  it('scales the estimate when the text was over the cap', async () => {
    const chunk = (s: string): string => `data: ${JSON.stringify({ choices: [{ delta: { content: s } }] })}\n\n`;
    const r = await meter(chunk('a'.repeat(100)) + chunk('b'.repeat(300)), { maxTextChars: 100, countText: (s) => s.length });
    expect(r.estimatedOutputTokens).toBe(400);
    expect(r.outputText?.text.length).toBe(100);
  });

  it('reports a counter that throws', async () => {
    const r = await meter(OPENAI_NO_USAGE, { countText: () => { throw new Error('x'); } });
    expect(r.problems).toEqual(['tokenize_failed']);
    expect(r.usageSource).toBe('none');
  });

  it('sniffs past wrong content types', async () => {
    const sse = await meter(OPENAI_NO_USAGE, { contentType: 'application/json' });
    expect(sse.framing).toBe('sse');
    const json = await meter('\n {"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}', { contentType: 'text/event-stream' });
    expect(json).toMatchObject({ framing: 'json', usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 } });
    const none = await meter(GEMINI_VERTEX_SSE, { endpoint: 'gemini.stream' });
    expect(none).toMatchObject({ framing: 'sse', usage: { totalTokens: 30 } });
  });

  it('reads a Gemini alt=sse error that comes back as plain JSON', async () => {
    const body = '{\n  "error": {\n    "code": 429,\n    "message": "Resource exhausted.",\n    "status": "RESOURCE_EXHAUSTED"\n  }\n}\n';
    const r = await meter(body, { endpoint: 'gemini.stream', status: 429, contentType: 'application/json; charset=UTF-8', stream: true });
    expect(r).toEqual({
      usage: { outputTokens: 0 }, usageSource: 'none', problems: [], framing: 'json_array', decodedBytes: body.length,
      error: { type: 'resource_exhausted', code: '429' },
    });
  });

  it('reads a Gemini JSON-array stream', async () => {
    const body = '[{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}\n,\r\n'
      + '{"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}]';
    const r = await meter(body, { endpoint: 'gemini.stream', contentType: 'application/json' });
    expect(r).toMatchObject({ framing: 'json_array', usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 }, problems: [] });
  });

  it('decodes a gzip body', async () => {
    const r = await meter(gzipSync(Buffer.from(ANTHROPIC_SSE)), { endpoint: 'anthropic.messages', contentEncoding: 'gzip' });
    expect(r.usage.outputTokens).toBe(62);
    expect(r.decodedBytes).toBe(Buffer.byteLength(ANTHROPIC_SSE));
  });

  it('stops a decompression bomb at the cap and reports it', async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('data: '), Buffer.alloc(50 << 20, 0x61)]));
    const t0 = performance.now();
    const r = await meter(bomb, { contentEncoding: 'gzip', maxDecodedBytes: 1 << 20 });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.problems).toContain('decode_too_large');
    expect(r.decodedBytes).toBe(1 << 20);
  });

  it('reports an unsupported encoding', async () => {
    const r = await meter('xx', { contentEncoding: 'zstd' });
    expect(r).toMatchObject({ usageSource: 'none', problems: ['encoding_unsupported'] });
  });

  it('reports truncated and invalid JSON bodies', async () => {
    const full = '{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}';
    expect((await meter(full.slice(0, 30))).problems).toEqual(['truncated']);
    expect((await meter('{"usage": nope}')).problems).toEqual(['json_invalid']);
    expect((await meter('{"usage": nope}')).usageSource).toBe('none');
  });

  it('reports a JSON body over its cap', async () => {
    const r = await meter(JSON.stringify({ data: 'x'.repeat(2000), usage: { prompt_tokens: 1 } }), { maxJsonBytes: 1000 });
    expect(r).toMatchObject({ usageSource: 'none', problems: ['body_too_large'] });
  });

  it('reports invalid UTF-8 and still reads the usage', async () => {
    const body = Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}')]);
    const r = await meter(body);
    expect(r.problems).toEqual(['utf8_invalid']);
    expect(r.usage.totalTokens).toBe(3);
    const sse = await meter(Buffer.concat([Buffer.from('data: "\xff"\n\n', 'latin1'), Buffer.from(OPENAI_NO_USAGE)]));
    expect(sse.problems).toContain('utf8_invalid');
  });

  it('flags an Anthropic stream cut before message_delta and estimates output', async () => {
    const cut = ANTHROPIC_SSE.slice(0, ANTHROPIC_SSE.indexOf('event: message_delta')).replace('"output_tokens":62', '"output_tokens":1');
    const r = await meter(cut, { endpoint: 'anthropic.messages', countText: () => 7 });
    expect(r).toMatchObject({ usageSource: 'provider', problems: ['usage_incomplete'], estimatedOutputTokens: 7 });
    expect(r.usage).toMatchObject({ inputTokens: 542, outputTokens: 7, totalTokens: 549 });
  });

  it('reports a stream whose last event was cut mid-JSON', async () => {
    const r = await meter('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"del');
    expect(r.problems).toEqual(['truncated']);
  });

  it('is empty for an empty body', async () => {
    expect(await meter([])).toEqual({ usage: {}, usageSource: 'none', problems: [], decodedBytes: 0, outputText: { text: '', totalChars: 0 } });
  });

  it('ignores writes after end() and returns the same result', async () => {
    const m = createResponseMeter({ endpoint: 'openai.chat', status: 200, maxDecodedBytes: 1000 });
    m.write(Buffer.from('{"usage":{"prompt_tokens":1}}'));
    const r = await m.end();
    m.write(Buffer.from('garbage'));
    expect(await m.end()).toBe(r);
  });

  it('never throws or rejects when garbage bytes and lines are mixed into streams (property)', async () => {
    const bodies = [ANTHROPIC_SSE, OPENAI_NO_USAGE, GEMINI_VERTEX_SSE, '[{"usageMetadata":{"promptTokenCount":1}},{"a":[1,{"b":"}"}]}]'];
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
      fc.constantFrom('\n\n', 'data: {', 'data: }\n\n', ':\r', 'event: x\n', '[', ']', '{"type":"message_delta","usage":7}', '\r\n\r\n').map((s) => Buffer.from(s)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodies), fc.constantFrom('openai.chat', 'anthropic.messages', 'gemini.stream', 'openai.responses') ,
        fc.array(fc.tuple(fc.nat(), garbage), { maxLength: 8 }), fc.constantFrom(undefined, 'gzip', 'br', 'bogus'),
        async (body, endpoint, inserts, enc) => {
          let buf = Buffer.from(body);
          for (const [at, g] of inserts) {
            const p = at % (buf.length + 1);
            buf = Buffer.concat([buf.subarray(0, p), g, buf.subarray(p)]);
          }
          const r = await meter([buf.subarray(0, 7), buf.subarray(7)], { endpoint, contentEncoding: enc, maxEventBytes: 256, maxJsonBytes: 512 });
          expect(Array.isArray(r.problems)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
