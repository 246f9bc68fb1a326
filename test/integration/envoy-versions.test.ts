/**
 * What changes with the Envoy release in front of tokenmeter, played by the emulator configured exactly as the
 * operator renders the filter (src/render/ext-proc-filter.ts): before 1.34 Envoy sends no protocol_config, so the body
 * mode comes from what was rendered and include_usage is still injected; from 1.33.1 Envoy's own local replies never
 * reach the processor, so a request the provider never saw is not charged; from 1.35 a BUFFERED body waiting for the
 * headers reply is buffered (413 past the limit), so the rendered filter asks for no body and tokenmeter asks for it
 * on the requests it meters only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extProcFilterConfig } from '../../src/render/ext-proc-filter.js';
import { resolveSettings } from '../../src/render/settings.js';
import { FUNCTIONAL_TIMEOUT_MS, runExchange, type Exchange } from '../envoy/emulator.js';
import { optionsForFilter } from '../envoy/rendered.js';
import { eventually } from '../helpers/test-server.js';
import { startPolicyServer, type PolicyServer } from '../helpers/policy-server.js';

const POLICY = `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: tenants}
spec:
  subject: {from: Header, name: x-tenant-id, onMissing: Shared}
  limits:
  - {name: daily, tokens: 10000000, window: Day, count: Total}
  reservation: {output: MaxTokens, defaultMaxTokens: 256}
  enforcement: {mode: Enforce, failureMode: Open}
`;
const rendered = { ...optionsForFilter(extProcFilterConfig(resolveSettings({}), 'tokenmeter')), messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, failureModeAllow: undefined };
const streamingChat = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Say hello' }] };
const sse = Buffer.from('data: {"id":"x","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\ndata: [DONE]\n\n');
const exchange = (id: string, extra: Partial<Exchange> = {}): Exchange => ({
  path: '/v1/chat/completions', requestHeaders: { 'content-type': 'application/json', 'x-request-id': id, 'x-tenant-id': 'acme' },
  requestChunks: [Buffer.from(JSON.stringify(streamingChat))], status: 200, responseHeaders: { 'content-type': 'text/event-stream' }, responseChunks: [sse], ...extra,
});

let t: PolicyServer;
beforeAll(async () => {
  t = await startPolicyServer(POLICY);
});
afterAll(async () => {
  await t.close();
});
const logLine = (id: string): Promise<Record<string, unknown>> => eventually(() => t.logs.find((l) => l.msg === 'request metered' && l.request_id === id));

describe('Envoy versions, with the filter as the operator renders it', () => {
  it('renders no request body: tokenmeter asks for it on the requests it meters', () => {
    expect(rendered).toMatchObject({ requestBodyMode: 'NONE', responseBodyMode: 'STREAMED', allowModeOverride: true });
  });

  it.each(['1.30.0', '1.33.2', '1.34.0', '1.36.0'])('Envoy %s: the body is counted and include_usage injected, with or without protocol_config', async (envoyVersion) => {
    const res = await runExchange(t.client, exchange(`inject-${envoyVersion}`), { ...rendered, envoyVersion });
    expect(res.sent[0]?.protocol_config !== undefined).toBe(envoyVersion >= '1.34');
    expect(JSON.parse(String(res.forwardedRequestBody))).toEqual({ ...streamingChat, stream_options: { include_usage: true } });
    expect(res.responseHeaderMutations['x-tokenmeter-input-tokens']).toBe('9');
  });

  it('Envoy 1.33 configured BUFFERED by hand (not what is rendered): still injected', async () => {
    const res = await runExchange(t.client, exchange('inject-buffered'), { ...rendered, requestBodyMode: 'BUFFERED', envoyVersion: '1.33.2' });
    expect(JSON.parse(String(res.forwardedRequestBody))).toMatchObject({ stream_options: { include_usage: true } });
  });

  it.each(['1.33.1', '1.36.0'])('Envoy %s answers 503 itself and tells the processor nothing: nothing is charged', async (envoyVersion) => {
    const res = await runExchange(t.client, exchange(`local-${envoyVersion}`, { localReply: { status: 503 } }), { ...rendered, envoyVersion });
    expect(res.localReply?.status).toBe(503);
    expect(res.replies.map((r) => r.response)).toEqual(['request_headers', 'request_body']);
    const line = await logLine(`local-${envoyVersion}`);
    expect(line).toMatchObject({ status: null, input_tokens: 0, usage_source: 'none', charged: { 'tenants/daily': 0 } });
    expect(line.problems).toContain('no_response');
  });

  it('Envoy 1.33.0 still showed the processor its local reply: nothing charged either', async () => {
    await runExchange(t.client, exchange('local-1.33.0', { localReply: { status: 503 } }), { ...rendered, envoyVersion: '1.33.0' });
    expect(await logLine('local-1.33.0')).toMatchObject({ status: 503, input_tokens: 0, charged: { 'tenants/daily': 0 } });
  });

  it('Envoy 1.35: a 2 MiB upload on an unmetered path passes under the 1 MiB buffer limit (a BUFFERED filter would answer 413)', async () => {
    const upload: Exchange = { path: '/v1/files', requestChunks: [Buffer.alloc(2 * 1024 * 1024, 0x61)], status: 200, responseChunks: [Buffer.from('{}')] };
    const res = await runExchange(t.client, upload, { ...rendered, envoyVersion: '1.35.0' });
    expect(res.localReply).toBeUndefined();
    expect(res.forwardedRequestBody?.length).toBe(2 * 1024 * 1024);
    const buffered = await runExchange(t.client, upload, { ...rendered, requestBodyMode: 'BUFFERED', envoyVersion: '1.35.0' });
    expect(buffered.localReply?.status).toBe(413);
  });

  it('a metered body is BUFFERED, so it must still fit the buffer limit (raise it: README quick start)', async () => {
    const big = exchange('too-big', { requestChunks: [Buffer.from(JSON.stringify({ ...streamingChat, messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] }))] });
    expect((await runExchange(t.client, big, { ...rendered, envoyVersion: '1.36.0' })).localReply?.status).toBe(413);
    const raised = await runExchange(t.client, big, { ...rendered, envoyVersion: '1.36.0', bufferLimitBytes: 8 * 1024 * 1024 });
    expect(raised.localReply).toBeUndefined();
  });
});
