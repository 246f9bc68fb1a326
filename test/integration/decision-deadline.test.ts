/**
 * Budget decisions inside the message timeout the operator renders (2 s by default), with the emulator's timer at that
 * value, failure_mode_allow as rendered, and tokenmeter in its own process told that timeout (as the operator publishes
 * it): a 7.9 MiB prompt under a Redis-backed budget is decided (include_usage injected,
 * reservation made, response metered) before Envoy gives up on the processor; a hung Redis gives the documented 503 of
 * `failureMode: Closed` (not Envoy's 504), and with `failureMode: Open` the request goes on with the stream kept.
 * Prints the decision latencies it measured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extProcFilterConfig } from '../../src/render/ext-proc-filter.js';
import { resolveSettings } from '../../src/render/settings.js';
import { runExchange, type Exchange, type EnvoyOptions } from '../envoy/emulator.js';
import { optionsForFilter } from '../envoy/rendered.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startExtprocBinary, type ExtprocBinary } from '../helpers/extproc-binary.js';
import { startPolicyServer } from '../helpers/policy-server.js';
import { countInputTokens } from '../../src/tokenize/count-request.js';
import type { InputCounter } from '../../src/extproc/deps.js';
import { modelMaxOutput } from '../../src/policy/output-limits.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const policy = (failureMode: 'Open' | 'Closed'): string => `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: tenants}
spec:
  subject: {from: Header, name: x-tenant-id, onMissing: Shared}
  limits:
  - {name: daily, tokens: 100000000, window: Day, count: Total}
  reservation: {output: MaxTokens, defaultMaxTokens: 256}
  enforcement: {mode: Enforce, failureMode: ${failureMode}}
`;
const PROSE = 'The quick brown fox jumps over the lazy dog while the committee reviews the quarterly budget. ';
const MIB = 1024 * 1024;
const sse = Buffer.from('data: {"id":"x","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\ndata: [DONE]\n\n');

function chat(id: string, bytes: number): Exchange {
  const content = PROSE.repeat(Math.ceil(bytes / PROSE.length)).slice(0, bytes - 120);
  return {
    path: '/v1/chat/completions', requestHeaders: { 'content-type': 'application/json', 'x-request-id': id, 'x-tenant-id': 'acme' },
    requestChunks: [Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content }] }))],
    status: 200, responseHeaders: { 'content-type': 'text/event-stream' }, responseChunks: [sse],
  };
}

/** Envoy as the operator renders it (its timer at the rendered message timeout) and a buffer raised to the body cap (README). */
const envoy = (failOpen: boolean): EnvoyOptions => ({
  ...optionsForFilter(extProcFilterConfig(resolveSettings({ failOpen }), 'tokenmeter')), bufferLimitBytes: 8 * MIB,
});
const RENDERED_MS = resolveSettings({}).messageTimeoutMs;
const decisionMs = (r: { latenciesMs: number[] }): number => r.latenciesMs[1] ?? NaN;

describe.skipIf(skipWithoutRedis())('budget decisions inside Envoy\'s message timeout', () => {
  let redis: RedisServer;
  const servers: ExtprocBinary[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tm-deadline-'));
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const s of servers) s.stop();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // The built binary in its own process (as beside a real Envoy), with the operator's default message timeout.
  const server = async (failureMode: 'Open' | 'Closed', store: 'redis' | 'memory', extra: string[] = []): Promise<ExtprocBinary> => {
    const file = join(dir, `${failureMode}-${store}.yaml`);
    writeFileSync(file, policy(failureMode));
    const s = await startExtprocBinary(['--policies', file, '--message-timeout', String(RENDERED_MS / 1000), ...(store === 'redis' ? ['--redis-url', redis.url] : []), ...extra]);
    servers.push(s);
    return s;
  };

  it.each(['redis', 'memory'] as const)('a 7.9 MiB prompt is decided before the rendered timer fires (%s store)', async (store) => {
    const t = await server('Open', store);
    expect(envoy(true)).toMatchObject({ messageTimeoutMs: RENDERED_MS, failureModeAllow: true });
    const latencies: number[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await runExchange(t.client, chat(`big-${store}-${i}`, Math.floor(7.9 * MIB)), envoy(true));
      latencies.push(decisionMs(res));
      expect(res.messageTimeout, `Envoy's timer fired after ${decisionMs(res).toFixed(0)} ms`).toBeUndefined();
      expect(res.replies.map((r) => r.response)).toEqual(['request_headers', 'request_body', 'response_headers', 'response_body', 'response_body']);
      expect(res.forwardedRequestBody?.subarray(-60).toString()).toContain('"stream_options":{"include_usage":true}}');
      expect(res.responseHeaderMutations['x-ratelimit-limit-tokens']).toBe('100000000');
      expect(res.dynamicMetadata['io.tokenmeter']).toMatchObject({ input_tokens: 9, usage_source: 'provider' });
    }
    console.log(`7.9 MiB prompt, ${store} store: request_body decided in ${latencies.map((l) => l.toFixed(0)).join(', ')} ms (Envoy's timer: ${RENDERED_MS} ms)`);
  });

  // A Redis command timeout longer than Envoy's message timeout (5 s here): the decision deadline still answers in time.
  const LONG_REDIS_TIMEOUT = ['--redis-timeout', '5'];

  it('Redis hung, failureMode Closed behind a fail-closed filter: tokenmeter\'s 503, not Envoy\'s 504', async () => {
    const t = await server('Closed', 'redis', LONG_REDIS_TIMEOUT);
    redis.pause();
    try {
      const res = await runExchange(t.client, chat('hung-closed', 4096), envoy(false));
      expect(res.localReply, 'Envoy answered itself').toBeUndefined();
      expect(res.immediate?.status?.code).toBe('ServiceUnavailable');
      expect(res.immediate?.headers?.set_headers.find((h) => h.header?.key === 'retry-after')?.header?.raw_value.toString()).toBe('1');
      console.log(`hung Redis, Closed: 503 after ${decisionMs(res).toFixed(0)} ms`);
    } finally {
      redis.resume();
    }
  });

  it('Redis hung, failureMode Open: the request goes on and the stream stays metered', async () => {
    const t = await server('Open', 'redis', LONG_REDIS_TIMEOUT);
    redis.pause();
    try {
      const res = await runExchange(t.client, chat('hung-open', 4096), envoy(true));
      expect(res.messageTimeout).toBeUndefined();
      expect(res.immediate).toBeUndefined();
      expect(res.forwardedRequestBody?.toString()).toContain('"include_usage":true');
      expect(res.dynamicMetadata['io.tokenmeter']).toMatchObject({ input_tokens: 9, output_tokens: 2 });
      console.log(`hung Redis, Open: allowed after ${decisionMs(res).toFixed(0)} ms`);
    } finally {
      redis.resume();
    }
  });

  it('a count that would finish after the deadline is replaced by the bytes/4 estimate, inside Envoy\'s 200 ms', async () => {
    // A counter 2 s slow (a huge prompt on a saturated core), behind Envoy's default timer.
    const slow: InputCounter = { count: (endpoint, body) => new Promise((r) => setTimeout(() => r(countInputTokens(endpoint, body)), 2000).unref()) };
    const t = await startPolicyServer(policy('Open'), { args: ['--message-timeout', '0.2'], deps: { counter: slow } });
    try {
      const ex = chat('slow-count', 4096);
      const res = await runExchange(t.client, ex, { ...envoy(true), messageTimeoutMs: 200 });
      expect(res.messageTimeout).toBeUndefined();
      const estimate = Math.ceil((ex.requestChunks?.[0]?.length ?? 0) / 4);
      expect(Number(res.responseHeaderMutations['x-ratelimit-remaining-tokens'])).toBe(100_000_000 - estimate - (modelMaxOutput('gpt-4o-mini') ?? 0));
      console.log(`slow count: decided in ${decisionMs(res).toFixed(0)} ms with the estimate (${estimate} tokens)`);
    } finally {
      await t.close();
    }
  });
});
