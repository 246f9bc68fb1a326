/**
 * The ext_proc protocol as Envoy speaks it, against a real server: every body mode, message order and kind,
 * observability mode, pass-through of unknown paths, bad input, and the outputs (metadata, header, log, metrics).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvoyProtocolError, runExchange, splitRandomly, type Exchange, FUNCTIONAL_TIMEOUT_MS } from '../envoy/emulator.js';
import { eventually, metricValue, startTestServer, type TestServer } from '../helpers/test-server.js';

const chatRequest = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] }));
const chatResponse = Buffer.from(JSON.stringify({
  id: 'x', object: 'chat.completion', model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11, prompt_tokens_details: { cached_tokens: 0 } },
}));
const sse = (objs: unknown[]): Buffer => Buffer.from(objs.map((o) => `data: ${JSON.stringify(o)}\n\n`).join(''));
const streamEvents = [
  { id: 'x', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'Hello there, how' } }], usage: null },
  { id: 'x', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: ' are you?' } }], usage: null },
  { id: 'x', model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } },
].map((e) => sse([e]));
const streamResponse = Buffer.concat([...streamEvents, Buffer.from('data: [DONE]\n\n')]);

function chat(overrides: Partial<Exchange> = {}): Exchange {
  return {
    path: '/v1/chat/completions', requestHeaders: { 'content-type': 'application/json', 'x-request-id': 'req-1', authorization: 'Bearer sk-secret' },
    requestChunks: [chatRequest], status: 200, responseHeaders: { 'content-type': 'application/json' }, responseChunks: [chatResponse], ...overrides,
  };
}

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

describe('ext_proc protocol', () => {
  it('answers a buffered request and streamed response in order, with metadata on the last body reply', async () => {
    const chunks = splitRandomly(chatResponse, 7, 1);
    const res = await runExchange(t.client, chat({ responseChunks: chunks }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(res.replies.map((r) => r.response)).toEqual([
      'request_headers', 'request_body', 'response_headers', ...Array<string>(chunks.length + 1).fill('response_body'),
    ]);
    expect(res.replies.at(-1)?.dynamic_metadata).toBeTruthy();
    expect(res.replies.slice(0, -1).every((r) => !r.dynamic_metadata)).toBe(true);
    expect(res.dynamicMetadata['io.tokenmeter']).toEqual({
      input_tokens: 9, output_tokens: 2, total_tokens: 11, cached_input_tokens: 0, model: 'gpt-4o-mini-2024-07-18', provider: 'openai', usage_source: 'provider',
    });
    expect(res.responseHeaderMutations['x-tokenmeter-input-tokens']).toBe('9');
  });

  it('accumulates a STREAMED request body and answers every pipelined chunk', async () => {
    const res = await runExchange(t.client, chat({ requestChunks: splitRandomly(chatRequest, 5, 2) }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, requestBodyMode: 'STREAMED' });
    expect(res.replies.filter((r) => r.response === 'request_body')).toHaveLength(6);
    expect(res.responseHeaderMutations['x-tokenmeter-input-tokens']).toBe('9');
    expect(res.requestBodyMutation).toBeUndefined();
  });

  it('ends HTTP/2 style (end_of_stream on a data chunk) and reads header values from `value`', async () => {
    const res = await runExchange(t.client, chat({ responseChunks: splitRandomly(chatResponse, 3, 3) }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, endOnLastChunk: true, legacyHeaderValues: true });
    expect(res.dynamicMetadata['io.tokenmeter']?.input_tokens).toBe(9);
  });

  it('handles a BUFFERED response, trailers after the body, and puts metadata on the trailers reply', async () => {
    const res = await runExchange(t.client, chat({ responseTrailers: { 'x-t': '1' } }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, responseBodyMode: 'BUFFERED' });
    expect(res.replies.map((r) => r.response)).toEqual(['request_headers', 'request_body', 'response_headers', 'response_body', 'response_trailers']);
    expect(res.replies.at(-1)?.dynamic_metadata).toBeTruthy();
    expect(res.dynamicMetadata['io.tokenmeter']?.total_tokens).toBe(11);
  });

  it('handles request trailers and NONE body modes', async () => {
    const withTrailers = await runExchange(t.client, chat({ requestTrailers: { 'x-r': '1' } }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, requestBodyMode: 'STREAMED' });
    expect(withTrailers.replies.map((r) => r.response)).toContain('request_trailers');
    expect(withTrailers.responseHeaderMutations['x-tokenmeter-input-tokens']).toBe('9');
    const none = await runExchange(t.client, chat(), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, requestBodyMode: 'NONE', responseBodyMode: 'NONE' });
    expect(none.replies.map((r) => r.response)).toEqual(['request_headers', 'response_headers']);
  });

  it('echoes bodies in FULL_DUPLEX_STREAMED mode', async () => {
    const res = await runExchange(t.client, chat({ responseChunks: [streamResponse] }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, requestBodyMode: 'FULL_DUPLEX_STREAMED', responseBodyMode: 'FULL_DUPLEX_STREAMED' });
    const echoed = res.replies.filter((r) => r.response === 'response_body').map((r) => r.response_body?.response?.body_mutation?.streamed_response?.body ?? Buffer.alloc(0));
    expect(Buffer.concat(echoed).equals(streamResponse)).toBe(true);
  });

  it('sends nothing in observability mode but still meters', async () => {
    const before = await metricValue(t.metrics, 'tokenmeter_tokens_total', { type: 'output' });
    const res = await runExchange(t.client, chat({ responseChunks: [streamResponse] }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, observabilityMode: true, requestBodyMode: 'STREAMED' });
    expect(res.replies).toHaveLength(0);
    await eventually(async () => ((await metricValue(t.metrics, 'tokenmeter_tokens_total', { type: 'output' })) > before ? true : undefined));
  });

  it('passes unknown paths through untouched, asking Envoy to skip the rest', async () => {
    const before = await metricValue(t.metrics, 'tokenmeter_unmetered_requests_total');
    const ex = chat({ path: '/v1/files', responseChunks: [Buffer.from('{}')] });
    const res = await runExchange(t.client, ex, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(res.replies.map((r) => r.response)).toEqual(['request_headers', 'request_body', 'response_headers', 'response_body', 'response_body']);
    expect(res.replies[0]?.mode_override?.request_body_mode).toBe('NONE');
    expect(res.replies.every((r) => !r.dynamic_metadata && !r.request_body?.response?.body_mutation)).toBe(true);
    expect(await metricValue(t.metrics, 'tokenmeter_unmetered_requests_total')).toBe(before + 1);
    const skipped = await runExchange(t.client, ex, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, allowModeOverride: true });
    expect(skipped.replies.map((r) => r.response)).toEqual(['request_headers']);
  });

  it('adds stream_options.include_usage to a buffered OpenAI streaming chat request', async () => {
    const body = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] };
    const res = await runExchange(t.client, chat({ requestChunks: [Buffer.from(JSON.stringify(body))], responseHeaders: { 'content-type': 'text/event-stream' }, responseChunks: [streamResponse] }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(JSON.parse(String(res.requestBodyMutation))).toEqual({ ...body, stream_options: { include_usage: true } });
    expect(res.dynamicMetadata['io.tokenmeter']).toMatchObject({ input_tokens: 9, output_tokens: 2, usage_source: 'provider' });
  });

  it('fails the emulator on a reply slower than the message timeout', async () => {
    const bad = runExchange(t.client, chat(), { requestBodyMode: 'BUFFERED', messageTimeoutMs: 0.0001 });
    await expect(bad).rejects.toBeInstanceOf(EnvoyProtocolError);
  });
});

describe('bad input passes through and is counted', () => {
  it.each([
    ['malformed JSON', Buffer.from('{"model": "gpt-4o", "messages": [')],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ['not an object', Buffer.from('[1,2,3]')],
  ])('%s', async (_name, body) => {
    const res = await runExchange(t.client, chat({ requestChunks: [body], responseChunks: [Buffer.from('data: garbage\n\n{{{')] }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(res.replies.map((r) => r.response)).toEqual(['request_headers', 'request_body', 'response_headers', 'response_body', 'response_body']);
    expect(res.requestBodyMutation).toBeUndefined();
  });

  it('counts request parse failures by reason', async () => {
    const before = await metricValue(t.metrics, 'tokenmeter_parse_failures_total', { phase: 'request', reason: 'json_invalid' });
    await runExchange(t.client, chat({ requestChunks: [Buffer.from('{nope')] }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(await metricValue(t.metrics, 'tokenmeter_parse_failures_total', { phase: 'request', reason: 'json_invalid' })).toBe(before + 1);
  });

  it('survives unexpected message order: a body before any headers, response before request', async () => {
    const res = await runExchange(t.client, { path: '/v1/chat/completions', status: 200, responseChunks: [chatResponse] }, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(res.replies.map((r) => r.response)).toEqual(['request_headers', 'response_headers', 'response_body', 'response_body']);
  });

  it('accounts a stream that the client abandons mid-response', async () => {
    const logsBefore = t.logs.length;
    const ex = chat({ requestHeaders: { 'x-request-id': 'gone-1' }, responseHeaders: { 'content-type': 'text/event-stream' }, responseChunks: streamEvents });
    const res = await runExchange(t.client, ex, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, cancelAfterResponseChunks: 2 });
    expect(res.replies.map((r) => r.response)).toEqual(['request_headers', 'request_body', 'response_headers', 'response_body', 'response_body']);
    const line = await eventually(() => t.logs.slice(logsBefore).find((l) => l.msg === 'request metered' && l.request_id === 'gone-1'));
    expect(line).toMatchObject({ provider: 'openai', status: 200, input_tokens: 9, usage_source: 'estimated' });
    expect(line.problems).toContain('response_incomplete');
    expect(line.output_tokens).toBeGreaterThan(0);
  });
});

describe('metrics', () => {
  it('records tokens by type, requests by status class, the GenAI histogram, message timings and the pre-count error', async () => {
    const m = t.metrics;
    const labels = { provider: 'openai', model: 'gpt-4o-mini', source: 'provider' };
    const before = {
      input: await metricValue(m, 'tokenmeter_tokens_total', { ...labels, type: 'input' }),
      output: await metricValue(m, 'tokenmeter_tokens_total', { ...labels, type: 'output' }),
      ok: await metricValue(m, 'tokenmeter_requests_total', { provider: 'openai', status_class: '2xx' }),
      err: await metricValue(m, 'tokenmeter_requests_total', { provider: 'openai', status_class: '4xx' }),
    };
    await runExchange(t.client, chat(), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    await runExchange(t.client, chat({ status: 429, responseChunks: [Buffer.from('{"error":{"message":"slow down","type":"rate_limit_error"}}')] }), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(await metricValue(m, 'tokenmeter_tokens_total', { ...labels, type: 'input' })).toBe(before.input + 9);
    expect(await metricValue(m, 'tokenmeter_tokens_total', { ...labels, type: 'output' })).toBe(before.output + 2);
    expect(await metricValue(m, 'tokenmeter_requests_total', { provider: 'openai', status_class: '2xx' })).toBe(before.ok + 1);
    expect(await metricValue(m, 'tokenmeter_requests_total', { provider: 'openai', status_class: '4xx' })).toBe(before.err + 1);
    const text = await m.registry.metrics();
    expect(text).toMatch(/gen_ai_client_token_usage_bucket\{le="16",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini",gen_ai_response_model="gpt-4o-mini",gen_ai_token_type="input"\} \d+/);
    expect(text).toMatch(/tokenmeter_extproc_message_duration_seconds_count\{message="response_body"\} [1-9]/);
    expect(text).toMatch(/tokenmeter_input_precount_relative_error_count\{provider="openai",exact="true",server_tools="false"\} [1-9]/);
    expect(text).toMatch(/tokenmeter_input_precount_relative_error_bucket\{le="0",provider="openai",exact="true",server_tools="false"\} [1-9]/);
    expect(await metricValue(m, 'tokenmeter_open_streams')).toBe(0);
  });
});

describe('the usage log line', () => {
  it('has the request facts and counts, and never the prompt, completion or credentials', async () => {
    const start = t.logs.length;
    await runExchange(t.client, chat(), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    const line = await eventually(() => t.logs.slice(start).find((l) => l.msg === 'request metered'));
    expect(line).toMatchObject({ request_id: 'req-1', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 9, output_tokens: 2, total_tokens: 11, usage_source: 'provider', status: 200 });
    expect(typeof line.duration_ms).toBe('number');
    const all = JSON.stringify(t.logs);
    expect(all).not.toContain('Say hello');
    expect(all).not.toContain('Hello!');
    expect(all).not.toContain('sk-secret');
  });
});
