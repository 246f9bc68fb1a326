/**
 * Every recorded exchange in test/fixtures/llm replayed through a real server by the Envoy emulator, split into random
 * chunks (gzip re-applied where the provider sent gzip): provider usage extracted exactly, the OpenAI pre-count equal
 * to the reported prompt tokens, upstream errors billed nothing, and the Anthropic/Gemini estimate errors printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExchange, splitRandomly, type EnvoyOptions, type Exchange, FUNCTIONAL_TIMEOUT_MS } from '../envoy/emulator.js';
import { expectedUsage, familyOf, fixtureFile, hasRequest, wireEntries, wireResponse, type WireEntry } from '../helpers/fixtures.js';
import { eventually, startTestServer, type TestServer } from '../helpers/test-server.js';
import { accuracyCases, accuracyTable, mustBeExact as mustExactCase } from '../helpers/accuracy.js';

const entries = wireEntries();

function exchangeFor(e: WireEntry, seed: number, reqMode: 'BUFFERED' | 'STREAMED'): Exchange {
  const url = new URL(e.url);
  const { body: resp, headers: responseHeaders } = wireResponse(e);
  const req = hasRequest(e) ? fixtureFile(e.req) : Buffer.alloc(0);
  return {
    path: url.pathname + url.search, authority: url.host, requestHeaders: { 'content-type': 'application/json', 'x-request-id': e.name },
    requestChunks: reqMode === 'STREAMED' ? splitRandomly(req, 4, seed) : [req],
    status: e.status, responseHeaders, responseChunks: splitRandomly(resp, 2 + (seed % 40), seed * 7 + 1),
  };
}

/** Requests whose pre-count must equal the provider's reported input: those the counter itself marks exact. */
const exactNames = new Set(accuracyCases().filter(mustExactCase).map((c) => c.name));
function mustBeExact(e: WireEntry): boolean {
  return hasRequest(e) && e.status === 200 && exactNames.has(e.name) && !e.url.includes('/openai/deployments/');
}

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

const estimates: { name: string; reported: number; ours: number }[] = [];

describe.each(entries.map((e, i) => [e.dir, e.name, e, i] as const))('%s/%s', (_dir, _name, e, i) => {
  const variants: [string, EnvoyOptions][] = [
    ['buffered request, streamed response', { requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED' }],
    ['streamed request, buffered response', { requestBodyMode: 'STREAMED', responseBodyMode: 'BUFFERED' }],
    ['streamed both, HTTP/2 end on data', { requestBodyMode: 'STREAMED', responseBodyMode: 'STREAMED', endOnLastChunk: true }],
  ];
  it.each(variants)('%s', async (_v, opts) => {
    const ex = exchangeFor(e, i + 1, opts.requestBodyMode === 'STREAMED' ? 'STREAMED' : 'BUFFERED');
    const res = await runExchange(t.client, ex, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, ...opts });
    const md = res.dynamicMetadata['io.tokenmeter'];
    expect(md, 'dynamic metadata on the last reply').toBeDefined();
    const want = expectedUsage(e);
    if (e.status >= 400) {
      expect(md).toMatchObject({ input_tokens: 0, output_tokens: 0, total_tokens: 0, usage_source: 'none' });
      return;
    }
    if (want) {
      expect(md?.usage_source).toBe('provider');
      expect(md?.input_tokens).toBe(want.inputTokens);
      expect(md?.output_tokens).toBe(want.outputTokens);
      if (want.totalTokens !== undefined) expect(md?.total_tokens).toBe(want.totalTokens);
      if (want.cachedInputTokens !== undefined) expect(md?.cached_input_tokens).toBe(want.cachedInputTokens);
      if (want.cacheWriteTokens !== undefined) expect(md?.cache_write_tokens).toBe(want.cacheWriteTokens);
      if (want.reasoningTokens !== undefined) expect(md?.reasoning_tokens).toBe(want.reasoningTokens);
    } else {
      expect(md?.usage_source).toBe('estimated');
      expect(md?.output_tokens).toBeGreaterThan(0);
    }
    const precount = Number(res.responseHeaderMutations['x-tokenmeter-input-tokens']);
    if (hasRequest(e)) expect(precount).toBeGreaterThan(0);
    if (mustBeExact(e)) expect(precount, 'an exact pre-count equals the reported input').toBe(want?.inputTokens);
    if (opts.responseBodyMode === 'STREAMED' && opts.requestBodyMode === 'BUFFERED' && want && familyOf(e) !== 'openai' && hasRequest(e)) {
      estimates.push({ name: `${e.dir}/${e.name}`, reported: want.inputTokens ?? 0, ours: precount });
    }
    // OpenAI-style streaming chat without include_usage gets it added when the body is buffered.
    const body = hasRequest(e) ? (JSON.parse(fixtureFile(e.req).toString()) as { stream?: boolean; stream_options?: { include_usage?: boolean } }) : {};
    const injectable = e.url.includes('/chat/completions') && body.stream === true && body.stream_options?.include_usage !== true && opts.requestBodyMode === 'BUFFERED';
    expect(res.requestBodyMutation !== undefined).toBe(injectable);
  });
});

describe('server-side tools', () => {
  it('are marked in the log, kept out of the main pre-count error series, and reserve a margin', async () => {
    const e = entries.find((x) => x.name === 'llmanth_claude-3-5-sonnet_web-search') as WireEntry;
    await runExchange(t.client, exchangeFor(e, 1, 'BUFFERED'), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    const line = await eventually(() => t.logs.find((l) => l.request_id === e.name && l.msg === 'request metered'));
    expect(line.problems).toContain('server_side_tools');
    expect(line.server_tools).toEqual(['web_search']);
    expect(line.input_tokens).toBe(10387);
    const text = await t.metrics.registry.metrics();
    expect(text).toMatch(/tokenmeter_input_precount_relative_error_count\{provider="anthropic",exact="false",server_tools="true"\} [1-9]/);
  });
});

describe('Azure deployments', () => {
  it('count exactly once --encoding-overrides names the deployment', async () => {
    const azure = entries.find((e) => e.url.includes('/openai/deployments/')) as WireEntry;
    const plain = await runExchange(t.client, exchangeFor(azure, 1, 'BUFFERED'), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    const withOverride = await startTestServer({ args: ['--encoding-overrides', `${new URL(azure.url).pathname.split('/')[3] ?? ''}=o200k_base`] });
    try {
      const res = await runExchange(withOverride.client, exchangeFor(azure, 1, 'BUFFERED'), { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
      expect(Number(res.responseHeaderMutations['x-tokenmeter-input-tokens'])).toBe(expectedUsage(azure)?.inputTokens);
      const line = await eventually(() => withOverride.logs.find((l) => l.request_id === azure.name));
      expect(line.precount_exact).toBe(true);
      const before = await eventually(() => t.logs.find((l) => l.request_id === azure.name && l.precount_exact === false));
      expect(before).toBeDefined();
      expect(plain.dynamicMetadata['io.tokenmeter']?.input_tokens).toBe(expectedUsage(azure)?.inputTokens);
    } finally {
      await withOverride.close();
    }
  });
});

describe('estimates for providers without a public tokenizer', () => {
  it("the server's pre-count header agrees with the counter, and the accuracy table is printed", () => {
    expect(estimates.length).toBeGreaterThan(40);
    const byName = new Map(accuracyCases().map((c) => [`${c.dir}/${c.name}`, c]));
    for (const r of estimates) expect(r.ours, r.name).toBe(byName.get(r.name)?.count.tokens);
    // The README's "Accuracy of the input pre-count" table: fit and held-back splits side by side.
    console.log(`\n${accuracyTable([...byName.values()], (c) => c.kind)}\n`);
  });
});
