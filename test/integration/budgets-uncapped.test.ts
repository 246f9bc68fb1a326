/**
 * Requests without an output cap, through the emulated Envoy against a real server whose upstream answers what was
 * forwarded: the Clamp reservation rewrites the cap in the forwarded body (the same JSON but the cap, content-length
 * right, a response header telling the client), and in a burst of 200 uncapped requests the three reservations are
 * compared — MaxTokens (the model's whole output limit), Observed (what answers used recently) and Clamp — on what
 * they admit and by how much the provider-reported usage overshoots the budget. The figures are printed every run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FUNCTIONAL_TIMEOUT_MS, runExchange } from '../envoy/emulator.js';
import { budgetServer, closeBudgetServers } from '../helpers/budget-server.js';
import { llmCall, type PlannedCall } from '../helpers/llm-exchange.js';
import { eventually, type TestServer } from '../helpers/test-server.js';

function policy(reservation: string, tokens = 20_000, window = 'Day'): string {
  return `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: tenants}
spec:
  subject: {from: Header, name: x-tenant-id}
  limits: [{name: budget, tokens: ${tokens}, window: ${window}}]
  reservation: ${reservation}
`;
}

afterEach(closeBudgetServers);

describe('reservation.output: Clamp rewrites the forwarded body', () => {
  it('the same JSON but the cap, with content-length right and x-tokenmeter-output-clamped on the response', async () => {
    const { t } = await budgetServer(policy('{output: Clamp, minOutputTokens: 64}', 5000));
    const call = llmCall({ provider: 'openai', model: 'gpt-4o', wants: 10_000, headers: { 'x-tenant-id': 'acme' }, requestId: 'c1' });
    const sent = JSON.parse(call.exchange.requestChunks?.[0]?.toString() ?? '') as Record<string, unknown>;
    const res = await runExchange(t.client, call.exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    const cap = 5000 - call.input;
    // The emulator fails the exchange when content-length does not match the replaced body (Envoy answers 500).
    expect(JSON.parse(res.requestBodyMutation?.toString() ?? '')).toEqual({ ...sent, max_completion_tokens: cap });
    expect(res.responseHeaderMutations['x-tokenmeter-output-clamped']).toBe(String(cap));
    expect(call.answered).toEqual({ output: cap, cap });
    const line = await eventually(() => t.logs.find((l) => l.request_id === 'c1' && l.charged !== undefined));
    expect(line).toMatchObject({ output_clamped: cap, output_tokens: cap, charged: { 'tenants/budget': 5000 } });
  });

  it('with include_usage injected in the same rewrite; Anthropic and Gemini in their own fields', async () => {
    const { t } = await budgetServer(policy('{output: Clamp, minOutputTokens: 64}', 3000));
    const stream = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] };
    const res = await runExchange(t.client, {
      path: '/v1/chat/completions', requestHeaders: { 'x-tenant-id': 'a' }, requestChunks: [Buffer.from(JSON.stringify(stream))],
      status: 200, responseHeaders: { 'content-type': 'text/event-stream' }, responseChunks: [Buffer.from('data: [DONE]\n\n')],
    }, { requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED', messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    const forwarded = JSON.parse(res.requestBodyMutation?.toString() ?? '') as Record<string, unknown>;
    expect(forwarded).toMatchObject({ ...stream, stream_options: { include_usage: true } });
    expect(forwarded.max_completion_tokens).toBeGreaterThan(2900);
    for (const [provider, model, field] of [['anthropic', 'claude-sonnet-4-5', 'max_tokens'], ['gemini', 'gemini-2.5-flash', 'generationConfig']] as const) {
      const c = llmCall({ provider, model, wants: 100, maxTokens: provider === 'anthropic' ? 64_000 : undefined, headers: { 'x-tenant-id': provider } });
      const r = await runExchange(t.client, c.exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
      const out = JSON.parse(r.requestBodyMutation?.toString() ?? '') as Record<string, unknown>;
      expect(out[field]).toEqual(field === 'max_tokens' ? 3000 - c.input : { maxOutputTokens: 3000 - c.input });
    }
  });

  it('a body it cannot rewrite (streamed to the processor) reserves as MaxTokens: what can never fit is told so', async () => {
    const { t } = await budgetServer(policy('{output: Clamp}', 5000));
    const call = llmCall({ provider: 'openai', model: 'gpt-5', wants: 100, headers: { 'x-tenant-id': 'acme' } });
    const res = await runExchange(t.client, call.exchange, { requestBodyMode: 'STREAMED', responseBodyMode: 'BUFFERED', messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(res.immediate?.details).toBe('tokenmeter_never_fits{tenants/budget}');
  });
});

interface BurstResult { admitted: number; used: number; overshoot: number; clamped: number; excess: number; refused: Record<string, number> }

/**
 * 200 concurrent uncapped chat requests whose answers would be 20–1,500 tokens, against a 20,000-token budget, after
 * 20 sequential requests of another tenant with answers of 20–400 tokens (what Observed learns from).
 */
async function burst(t: TestServer): Promise<BurstResult> {
  for (let i = 0; i < 20; i++) {
    const warm = llmCall({ provider: 'openai', model: 'gpt-4o-mini', wants: 20 + ((i * 37) % 381), headers: { 'x-tenant-id': 'warm-up' } });
    await runExchange(t.client, warm.exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: 10_000 });
  }
  const calls: PlannedCall[] = Array.from({ length: 200 }, (_, i) => llmCall({
    provider: 'openai', model: 'gpt-4o-mini', wants: 20 + ((i * 397) % 1481), headers: { 'x-tenant-id': 'acme' }, requestId: `b${i}`,
    prompt: `Question ${i}: ${'explain the difference between a list and a tuple '.repeat(1 + (i % 6))}`,
  }));
  const results = await Promise.all(calls.map(async (c, i) => {
    await new Promise((r) => setTimeout(r, i % 5));
    return runExchange(t.client, c.exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: 10_000 });
  }));
  const refused: Record<string, number> = {};
  let used = 0;
  results.forEach((r, i) => {
    if (r.immediate) refused[r.immediate.details] = (refused[r.immediate.details] ?? 0) + 1;
    else used += calls[i]!.input + (calls[i]!.answered?.output ?? 0);
  });
  // Σ (charged − reserved) over admitted requests: what reservations smaller than the answers let through.
  const lines = await eventually(() => {
    const ls = t.logs.filter((l) => l.msg === 'request metered' && typeof l.request_id === 'string' && (l.request_id).startsWith('b'));
    return ls.length === 200 && ls.every((l) => l.decision !== 'allowed' || l.charged !== undefined) ? ls : undefined;
  });
  const excess = lines.filter((l) => l.decision === 'allowed')
    .map((l) => Math.max(0, ((l.charged as Record<string, number>)['tenants/budget'] ?? 0) - ((l.reserved as Record<string, number>)['tenants/budget'] ?? 0)))
    .reduce((a, b) => a + b, 0);
  const admitted = results.filter((r) => !r.immediate).length;
  const clamped = calls.filter((c) => c.answered?.cap !== undefined && c.answered.output === c.answered.cap).length;
  return { admitted, used, overshoot: Math.max(0, used - 20_000), clamped, excess, refused };
}

describe('a burst of 200 uncapped requests: MaxTokens, Observed and Clamp', () => {
  it('MaxTokens and Clamp never let provider-reported usage past the budget; Observed admits more and overshoots by at most its stated bound', async () => {
    const runs: [string, BurstResult][] = [];
    for (const [name, reservation] of [
      ['MaxTokens', '{output: MaxTokens}'],
      ['Observed', '{output: Observed, defaultMaxTokens: 4096, minOutputTokens: 256}'],
      ['Clamp', '{output: Clamp, minOutputTokens: 256}'],
    ] as const) {
      const { t } = await budgetServer(policy(reservation));
      runs.push([name, await burst(t)]);
      await closeBudgetServers();
    }
    for (const [name, r] of runs) {
      console.log(`budget 20000, 200 concurrent uncapped requests, ${name}: admitted ${r.admitted}/200, used ${r.used}, overshoot ${r.overshoot}`
        + ` (sum of charged - reserved over admitted requests ${r.excess}); refused ${JSON.stringify(r.refused)}${name === 'Clamp' ? `; answers cut at a clamped cap ${r.clamped}` : ''}`);
    }
    const [maxTokens, observed, clamp] = runs.map(([, r]) => r) as [BurstResult, BurstResult, BurstResult];
    expect(maxTokens.overshoot).toBe(0);
    expect(clamp.overshoot).toBe(0);
    expect(clamp.used).toBeLessThanOrEqual(20_000);
    expect(clamp.admitted).toBeGreaterThan(0);
    expect(observed.overshoot).toBeLessThanOrEqual(observed.excess);
    expect(observed.admitted).toBeGreaterThan(maxTokens.admitted);
    // Refusals are all 429 (retryable: waiting helps); nothing here can never fit.
    for (const r of runs) expect(Object.keys(r[1].refused).every((d) => d.startsWith('tokenmeter_rate_limited'))).toBe(true);
  });

  it('sequential uncapped requests under a per-minute budget are all admitted with Observed and Clamp (the issue\'s new user)', async () => {
    for (const reservation of ['{output: Observed}', '{output: Clamp}']) {
      const { t } = await budgetServer(policy(reservation, 100_000, '1m'));
      for (let i = 0; i < 12; i++) {
        const c = llmCall({ provider: 'openai', model: 'gpt-5', wants: 200, headers: { 'x-tenant-id': 'acme' } });
        const r = await runExchange(t.client, c.exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
        expect(r.immediate, `${reservation} request ${i}`).toBeUndefined();
      }
      await closeBudgetServers();
    }
    const { t } = await budgetServer(policy('{output: MaxTokens}', 100_000, '1m'));
    const c = llmCall({ provider: 'openai', model: 'gpt-5', wants: 200, headers: { 'x-tenant-id': 'acme' } });
    const r = await runExchange(t.client, c.exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(r.immediate?.details).toBe('tokenmeter_never_fits{tenants/budget}');
    expect(r.immediate?.body.toString()).toContain(`Set max_completion_tokens to at most ${100_000 - c.input}`);
  });
});
