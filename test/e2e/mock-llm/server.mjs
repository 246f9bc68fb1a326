#!/usr/bin/env node
// Mock OpenAI upstream for the kind e2e suite: replays recorded response bodies from test/fixtures/llm byte for byte.
// No dependencies (runs as `node /mock/server.mjs` in node:24-alpine, and on Node 20 in the unit test).
//
//   POST …/chat/completions   "stream": true → the `chat-stream` fixture (SSE, written event by event), else `chat`
//                             (JSON); header x-mock-fixture: KEY picks another fixture of the index.
//   GET  /healthz             "ok"
//   GET  /mock/stats          {"requests": N, "byTenant": {"<x-tenant-id>": N}} — requests that reached the upstream
//
// Every replay carries what the upstream received, so a test behind Envoy can check it:
//   x-mock-fixture, x-mock-saw-tenant (x-tenant-id), x-mock-saw-model, x-mock-saw-stream,
//   x-mock-saw-include-usage (stream_options.include_usage in the body as received: tokenmeter injects it),
//   x-mock-saw-max-tokens, and x-mock-saw-<rest> for every request header x-tokenmeter-<rest>.
// A request with `x-mock-peek: 1` is answered but not counted in /mock/stats.
//
// Environment: PORT (default 8080; 0 = any), HOST (default 0.0.0.0), MOCK_INDEX (default ./index.json next to this
// file: {"KEY": {"file": "…", "contentType": "…"}}, files relative to the index), MOCK_CHUNK_DELAY_MS (pause between
// SSE events, default 2). Prints "mock-llm listening on http://HOST:PORT" once ready.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { setTimeout as setTimer } from 'node:timers';
import { Buffer } from 'node:buffer';

const here = dirname(fileURLToPath(import.meta.url));
const indexPath = process.env.MOCK_INDEX || join(here, 'index.json');
const port = Number(process.env.PORT ?? '8080');
const host = process.env.HOST || '0.0.0.0';
const chunkDelayMs = Number(process.env.MOCK_CHUNK_DELAY_MS ?? '2');
const MAX_BODY = 16 * 1024 * 1024;

function loadFixtures() {
  const index = JSON.parse(readFileSync(indexPath, 'utf8'));
  const base = dirname(indexPath);
  const fixtures = new Map();
  for (const [key, entry] of Object.entries(index)) {
    const file = isAbsolute(entry.file) ? entry.file : join(base, entry.file);
    fixtures.set(key, { body: readFileSync(file), contentType: entry.contentType || 'application/json' });
  }
  if (!fixtures.has('chat') || !fixtures.has('chat-stream')) throw new Error(`${indexPath}: needs the fixtures "chat" and "chat-stream"`);
  return fixtures;
}

let fixtures;
try {
  fixtures = loadFixtures();
} catch (err) {
  console.error(`mock-llm: cannot load fixtures: ${err.message}`);
  process.exit(1);
}

const stats = { requests: 0, byTenant: {} };

/** SSE events with their blank-line separators kept, so the pieces concatenate to the recorded bytes. */
function sseEvents(body) {
  const out = [];
  let start = 0;
  for (;;) {
    const lf = body.indexOf('\n\n', start);
    const crlf = body.indexOf('\r\n\r\n', start);
    let end = -1;
    if (lf >= 0 && (crlf < 0 || lf < crlf)) end = lf + 2;
    else if (crlf >= 0) end = crlf + 4;
    if (end < 0) break;
    out.push(body.subarray(start, end));
    start = end;
  }
  if (start < body.length) out.push(body.subarray(start));
  return out;
}

function sendJson(res, status, value, headers = {}) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...headers });
  res.end(body);
}

function openAiError(res, status, message) {
  sendJson(res, status, { error: { message: `mock-llm: ${message}`, type: 'invalid_request_error', param: null, code: null } });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerValue(req, name) {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

async function chat(req, res) {
  let parsed;
  try {
    parsed = JSON.parse((await readBody(req)).toString('utf8'));
  } catch (err) {
    return openAiError(res, 400, `request body is not JSON (${err.message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return openAiError(res, 400, 'request body must be a JSON object');
  const stream = parsed.stream === true;
  const wanted = headerValue(req, 'x-mock-fixture');
  const key = wanted || (stream ? 'chat-stream' : 'chat');
  const fixture = fixtures.get(key);
  if (!fixture) return openAiError(res, 400, `unknown fixture "${key}" (have: ${[...fixtures.keys()].join(', ')})`);

  const tenant = headerValue(req, 'x-tenant-id');
  if (headerValue(req, 'x-mock-peek') !== '1') {
    stats.requests += 1;
    stats.byTenant[tenant] = (stats.byTenant[tenant] ?? 0) + 1;
  }
  const maxTokens = parsed.max_completion_tokens ?? parsed.max_tokens;
  const headers = {
    'content-type': fixture.contentType,
    'x-mock-fixture': key,
    'x-mock-saw-tenant': tenant,
    'x-mock-saw-model': typeof parsed.model === 'string' ? parsed.model : '',
    'x-mock-saw-stream': String(stream),
    'x-mock-saw-include-usage': String(parsed.stream_options?.include_usage === true),
    'x-mock-saw-max-tokens': maxTokens === undefined ? '' : String(maxTokens),
  };
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-tokenmeter-')) headers[`x-mock-saw-${name.slice('x-tokenmeter-'.length)}`] = Array.isArray(value) ? value.join(',') : value;
  }

  if (!fixture.contentType.startsWith('text/event-stream')) {
    res.writeHead(200, { ...headers, 'content-length': fixture.body.length });
    res.end(fixture.body);
    return undefined;
  }
  res.writeHead(200, { ...headers, 'cache-control': 'no-cache' });
  res.flushHeaders();
  for (const event of sseEvents(fixture.body)) {
    if (res.destroyed) return undefined;
    res.write(event);
    if (chunkDelayMs > 0) await sleep(chunkDelayMs);
  }
  res.end();
  return undefined;
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  if (req.method === 'GET' && path === '/mock/stats') {
    sendJson(res, 200, stats);
    return;
  }
  if (req.method === 'POST' && path.endsWith('/chat/completions')) {
    chat(req, res).catch((err) => {
      if (!res.headersSent) openAiError(res, 500, err.message);
      else res.destroy(err);
    });
    return;
  }
  sendJson(res, 404, { error: { message: `mock-llm: no route for ${req.method} ${path}`, type: 'invalid_request_error', param: null, code: null } });
});

server.listen(port, host, () => {
  const addr = server.address();
  const shown = typeof addr === 'object' && addr ? addr.port : port;
  console.log(`mock-llm listening on http://${host}:${shown} (fixtures: ${[...fixtures.keys()].join(', ')})`);
});

// PID 1 in a container gets no default SIGTERM handling: close promptly so pod deletion does not wait 30 s.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    setTimer(() => process.exit(0), 2000).unref();
  });
}
