/**
 * Synthetic LLM traffic for the budget tests: OpenAI chat requests whose upstream "reports" exact usage (prompt
 * tokens = our exact pre-count, so the only difference between reservation and real usage is the output), and the
 * bookkeeping to compute overshoot from what the emulated Envoy saw.
 */
import { countInputTokens } from '../../src/tokenize/count-request.js';
import { modelMaxOutput } from '../../src/policy/output-limits.js';
import type { Exchange } from '../envoy/emulator.js';

export interface PlannedRequest {
  exchange: Exchange;
  input: number;
  output: number;
  /** What tokenmeter reserves for it: input + (max_tokens, else the model's output limit, else defaultMaxTokens). */
  reserved: number;
}

const WORDS = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau'.split(' ');

/** Deterministic request i: varied prompt size; half set max_tokens, half rely on the default and may exceed it. */
export function plannedRequest(i: number, tenant: string, defaultMaxTokens: number): PlannedRequest {
  const words = 20 + ((i * 37) % 180);
  const content = Array.from({ length: words }, (_, k) => WORDS[(i + k) % WORDS.length]).join(' ');
  const withCap = i % 2 === 0;
  const maxTokens = 50 + ((i * 13) % 150);
  const body: Record<string, unknown> = { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content }] };
  if (withCap) body.max_tokens = maxTokens;
  const input = countInputTokens('openai.chat', body).tokens;
  // Real output: within the cap when there is one; without a cap, sometimes well past the default reservation.
  const output = withCap ? Math.floor(maxTokens * (0.3 + ((i * 7) % 7) / 10)) : Math.floor(defaultMaxTokens * (0.2 + ((i * 11) % 19) / 10));
  const cap = withCap ? Math.min(output, maxTokens) : output;
  const events = [
    { id: `c${i}`, object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'ok' } }], usage: null },
    { id: `c${i}`, object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: input, completion_tokens: cap, total_tokens: input + cap } },
  ];
  const sse = Buffer.from(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n');
  return {
    exchange: {
      path: '/v1/chat/completions', requestHeaders: { 'content-type': 'application/json', 'x-tenant-id': tenant, 'x-request-id': `req-${i}` },
      requestChunks: [Buffer.from(JSON.stringify(body))], status: 200, responseHeaders: { 'content-type': 'text/event-stream' }, responseChunks: [sse],
    },
    input, output: cap, reserved: input + (withCap ? maxTokens : modelMaxOutput('gpt-4o-mini') ?? defaultMaxTokens),
  };
}

/** The peers' method, for comparison: check the counter before the request, charge the real usage after it. */
export async function checkThenCharge(requests: PlannedRequest[], budget: number, latencyMs: (i: number) => number): Promise<{ admitted: number; used: number }> {
  let used = 0;
  let admitted = 0;
  await Promise.all(requests.map(async (r, i) => {
    await new Promise((res) => setTimeout(res, i % 5)); // arrivals spread over a few ms, as in the ext_proc run
    if (used >= budget) return;
    admitted++;
    await new Promise((res) => setTimeout(res, latencyMs(i))); // the upstream call
    used += r.input + r.output;
  }));
  return { admitted, used };
}
