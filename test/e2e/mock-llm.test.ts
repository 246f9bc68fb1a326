/**
 * The mock LLM of the kind suite, run here as the pod runs it (`node server.mjs`): it replays the recorded OpenAI
 * responses byte for byte (JSON, and SSE written event by event), reports what it received in x-mock-* headers,
 * counts what reached it, and serves the same bytes from the ConfigMap layout the cluster mounts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configMapFiles, fixtureRequest, fixtureResponse, mockConfigMap, mockFixtures } from './mock-llm/fixtures.js';
import { post, startLocalMock, type LocalMock } from './mock-llm/local.js';
import { CHAT_PATH, chatBody } from './scenario.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

function errorOf(body: Buffer): { message: string; type: string } {
  return (JSON.parse(body.toString()) as { error: { message: string; type: string } }).error;
}

describe('mock LLM server (node server.mjs on port 0)', () => {
  let mock: LocalMock;
  beforeAll(async () => {
    mock = await startLocalMock();
  });
  afterAll(async () => {
    await mock.stop();
  });

  it('replays the non-streamed chat fixture byte for byte, with content-length and what it received', async () => {
    const req = fixtureRequest('chat');
    const r = await post(`${mock.url}${CHAT_PATH}`, { ...JSON_HEADERS, 'x-tenant-id': 'acme', 'x-tokenmeter-input-tokens': '70' }, JSON.stringify({ ...req, max_tokens: 50 }));
    expect(r.status).toBe(200);
    expect(r.body.equals(fixtureResponse('chat'))).toBe(true);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['content-length']).toBe(String(fixtureResponse('chat').length));
    expect(r.headers).toMatchObject({
      'x-mock-fixture': 'chat', 'x-mock-saw-tenant': 'acme', 'x-mock-saw-model': 'gpt-3.5-turbo', 'x-mock-saw-stream': 'false',
      'x-mock-saw-include-usage': 'false', 'x-mock-saw-max-tokens': '50', 'x-mock-saw-input-tokens': '70',
    });
  });

  it('replays the streamed chat fixture byte for byte as SSE, one event per write', async () => {
    const r = await post(`${mock.url}/v1/chat/completions`, { ...JSON_HEADERS, 'x-tenant-id': 'acme' }, JSON.stringify(fixtureRequest('chat-stream')));
    const want = fixtureResponse('chat-stream');
    expect(r.status).toBe(200);
    expect(r.body.equals(want)).toBe(true);
    expect(r.headers['content-type']).toBe(mockFixtures()['chat-stream'].contentType);
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers['x-mock-fixture']).toBe('chat-stream');
    expect(r.headers['x-mock-saw-include-usage']).toBe('true'); // the recorded request asked for usage
    expect(r.chunks).toBeGreaterThan(1);
  });

  it('reports whether stream_options.include_usage was in the body it received', async () => {
    const r = await post(`${mock.url}${CHAT_PATH}`, JSON_HEADERS, chatBody('chat-stream'));
    expect(r.headers['x-mock-saw-stream']).toBe('true');
    expect(r.headers['x-mock-saw-include-usage']).toBe('false'); // chatBody strips it: tokenmeter must put it back
    expect(r.body.equals(fixtureResponse('chat-stream'))).toBe(true);
  });

  it('serves any fixture of the index by x-mock-fixture, and says which ones exist', async () => {
    const r = await post(`${mock.url}${CHAT_PATH}`, { ...JSON_HEADERS, 'x-mock-fixture': 'chat-stream' }, '{"model":"m"}');
    expect(r.body.equals(fixtureResponse('chat-stream'))).toBe(true);
    const bad = await post(`${mock.url}${CHAT_PATH}`, { ...JSON_HEADERS, 'x-mock-fixture': 'nope' }, '{}');
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).message).toContain('unknown fixture "nope" (have: chat, chat-stream)');
  });

  it('answers errors in OpenAI\'s shape: bad JSON 400, unknown route 404; /healthz ok', async () => {
    const bad = await post(`${mock.url}${CHAT_PATH}`, JSON_HEADERS, '{not json');
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).type).toBe('invalid_request_error');
    const missing = await post(`${mock.url}/v1/embeddings`, JSON_HEADERS, '{}');
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body).message).toBe('mock-llm: no route for POST /v1/embeddings');
    const health = await fetch(`${mock.url}/healthz`);
    expect(await health.text()).toBe('ok\n');
  });
});

describe('mock LLM request counters', () => {
  it('counts requests per x-tenant-id, not peeks', async () => {
    const mock = await startLocalMock({ chunkDelayMs: 0 });
    try {
      const send = (headers: Record<string, string>): Promise<unknown> => post(`${mock.url}${CHAT_PATH}`, { ...JSON_HEADERS, ...headers }, chatBody('chat'));
      await send({ 'x-tenant-id': 'a' });
      await send({ 'x-tenant-id': 'a' });
      await send({ 'x-tenant-id': 'b' });
      await send({});
      await send({ 'x-tenant-id': 'a', 'x-mock-peek': '1' });
      const stats: unknown = await (await fetch(`${mock.url}/mock/stats`)).json();
      expect(stats).toEqual({ requests: 4, byTenant: { a: 2, b: 1, '': 1 } });
    } finally {
      await mock.stop();
    }
  });

  it('exits 0 promptly on SIGTERM (it is PID 1 in its container)', async () => {
    const mock = await startLocalMock();
    const started = Date.now();
    expect(await mock.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses to start without its fixtures, saying why', async () => {
    await expect(startLocalMock({ index: '/nonexistent/index.json' })).rejects.toThrow(/mock-llm: cannot load fixtures: .*nonexistent/);
  });
});

describe('the ConfigMap the cluster mounts at /mock', () => {
  it('holds server.mjs, index.json and the responses; run from it, the mock serves the recorded bytes', async () => {
    const { configMap, hash } = mockConfigMap('mock-llm', 'tokenmeter-e2e');
    expect(Object.keys(configMap.data).sort()).toEqual(['chat-stream.response.sse', 'chat.response.json', 'index.json', 'server.mjs']);
    expect(configMap.binaryData).toBeUndefined();
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(mockConfigMap('mock-llm', 'tokenmeter-e2e').hash).toBe(hash);

    // What the kubelet does: one file per key in the mount directory.
    const dir = mkdtempSync(join(tmpdir(), 'tm-mock-mount-'));
    try {
      for (const [k, v] of Object.entries(configMap.data)) writeFileSync(join(dir, k), v);
      const mock = await startLocalMock({ script: join(dir, 'server.mjs'), index: null });
      try {
        for (const key of ['chat', 'chat-stream'] as const) {
          const r = await post(`${mock.url}${CHAT_PATH}`, JSON_HEADERS, chatBody(key));
          expect(r.body.equals(fixtureResponse(key)), key).toBe(true);
          expect(r.headers['content-type']).toBe(mockFixtures()[key].contentType);
        }
      } finally {
        await mock.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('puts bytes that are not UTF-8 in binaryData (base64), text in data', () => {
    const c = configMapFiles({ 'a.txt': Buffer.from('héllo\n'), 'b.bin': Buffer.from([0xff, 0xfe, 0x00]) });
    expect(c.data).toEqual({ 'a.txt': 'héllo\n' });
    expect(c.binaryData).toEqual({ 'b.bin': '//4A' });
    expect(configMapFiles({ 'a.txt': Buffer.from('x') }).binaryData).toBeUndefined();
  });
});
