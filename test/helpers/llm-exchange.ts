/**
 * One ordinary LLM request of any of the three providers as an emulated-Envoy exchange, with an upstream that answers
 * what was forwarded: it writes `wants` output tokens, or fewer when the forwarded body caps the output (as the
 * providers do: the answer stops at the cap, finish_reason length). The reported input is tokenmeter's own pre-count,
 * so the difference between a reservation and the charge is the output alone.
 */
import { outputCapField } from '../../src/llm/output-cap.js';
import { readRequestFacts } from '../../src/llm/request-facts.js';
import { matchRoute } from '../../src/llm/routes.js';
import type { Endpoint, Provider } from '../../src/llm/types.js';
import { countInputTokens } from '../../src/tokenize/count-request.js';
import type { Exchange } from '../envoy/emulator.js';

export interface LlmCall {
  provider: Provider;
  model: string;
  /** Request headers (tenant, plan, credentials…). */
  headers?: Record<string, string>;
  /** The request's own output cap; absent = an uncapped request (Anthropic requires one: its SDKs' usual 4096). */
  maxTokens?: number;
  /** Output tokens the model would write without a cap. */
  wants: number;
  prompt?: string;
  requestId?: string;
  /** OpenAI: chat completions (default) or the Responses API. */
  api?: 'chat' | 'responses';
}

export interface PlannedCall {
  exchange: Exchange;
  endpoint: Endpoint;
  input: number;
  /** Filled in when the upstream answers: the output it reported, and the cap it saw in the forwarded body. */
  answered?: { output: number; cap?: number };
}

function pathOf(c: LlmCall): string {
  if (c.provider === 'anthropic') return '/v1/messages';
  if (c.provider === 'gemini') return `/v1beta/models/${c.model}:generateContent`;
  return c.api === 'responses' ? '/v1/responses' : '/v1/chat/completions';
}

function body(c: LlmCall): Record<string, unknown> {
  const text = c.prompt ?? 'Summarise the plot of Hamlet in three sentences.';
  if (c.provider === 'gemini') {
    return { contents: [{ role: 'user', parts: [{ text }] }], ...(c.maxTokens === undefined ? {} : { generationConfig: { maxOutputTokens: c.maxTokens } }) };
  }
  const messages = [{ role: 'user', content: text }];
  if (c.provider === 'anthropic') return { model: c.model, max_tokens: c.maxTokens ?? 4096, messages };
  if (c.api === 'responses') return { model: c.model, input: text, ...(c.maxTokens === undefined ? {} : { max_output_tokens: c.maxTokens }) };
  return { model: c.model, messages, ...(c.maxTokens === undefined ? {} : { max_completion_tokens: c.maxTokens }) };
}

function answer(c: LlmCall, input: number, output: number): Buffer {
  const { provider, model } = c;
  if (c.api === 'responses' && provider === 'openai') {
    const usage = { input_tokens: input, output_tokens: output, total_tokens: input + output };
    return Buffer.from(JSON.stringify({ id: 'resp_1', object: 'response', status: 'completed', model, output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] }], usage }));
  }
  const json = provider === 'anthropic'
    ? { id: 'msg_1', type: 'message', role: 'assistant', model, content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', usage: { input_tokens: input, output_tokens: output } }
    : provider === 'gemini'
      ? { candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }], modelVersion: model, usageMetadata: { promptTokenCount: input, candidatesTokenCount: output, totalTokenCount: input + output } }
      : { id: 'c1', object: 'chat.completion', model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } };
  return Buffer.from(JSON.stringify(json));
}

export function llmCall(c: LlmCall): PlannedCall {
  const path = pathOf(c);
  const route = matchRoute('POST', path);
  if (!route) throw new Error(`no route for ${path}`);
  const b = body(c);
  const input = countInputTokens(route.endpoint, b, { model: c.model }).tokens;
  const planned: PlannedCall = { endpoint: route.endpoint, input, exchange: { path, requestChunks: [Buffer.from(JSON.stringify(b))] } };
  planned.exchange = {
    path, requestChunks: [Buffer.from(JSON.stringify(b))],
    requestHeaders: { 'content-type': 'application/json', ...(c.requestId ? { 'x-request-id': c.requestId } : {}), ...c.headers },
    upstream: (forwarded) => {
      const cap = readRequestFacts(route, JSON.parse(forwarded.toString()) as unknown).maxOutputTokens;
      const output = Math.min(c.wants, cap ?? Infinity);
      planned.answered = { output, ...(cap === undefined ? {} : { cap }) };
      return { status: 200, responseHeaders: { 'content-type': 'application/json' }, responseChunks: [answer(c, input, output)] };
    },
  };
  return planned;
}

/** The field a client would set, as the never-fits message names it. */
export function capFieldOf(provider: Provider, api: LlmCall['api'] = 'chat'): string {
  const endpoint: Endpoint = provider === 'anthropic' ? 'anthropic.messages' : provider === 'gemini' ? 'gemini.generate' : api === 'responses' ? 'openai.responses' : 'openai.chat';
  return outputCapField(endpoint) ?? '';
}

/** The LlmCall with its own cap set to `cap` (what a client does when told a request can never fit). */
export function withCap(c: LlmCall, cap: number): LlmCall {
  return { ...c, maxTokens: cap };
}
