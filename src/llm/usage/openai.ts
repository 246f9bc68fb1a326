/**
 * Usage from OpenAI-shaped responses (OpenAI, Azure OpenAI and compatible servers: DeepSeek, OpenRouter, vLLM...):
 * chat completions, legacy completions, embeddings and the Responses API, streamed or not.
 *
 * The usage object's own keys say which shape it is (`prompt_tokens` vs `input_tokens`), so a Responses-shaped body
 * on a chat route is still read. Each usage object is a complete report and replaces the previous one.
 */
import type { Endpoint, Usage } from '../types.js';
import type { Extraction, Json, ProviderError, TextCollector, UsageExtractor } from './common.js';
import { count, isObject, obj, providerError, setField, str } from './common.js';

/** Maps an OpenAI usage object; undefined when it holds no token count. */
export function mapOpenAIUsage(u: Json, embeddings: boolean): Usage | undefined {
  const usage: Usage = {};
  if ('input_tokens' in u || 'output_tokens' in u) {
    setField(usage, 'inputTokens', count(u.input_tokens));
    setField(usage, 'outputTokens', count(u.output_tokens));
    setField(usage, 'totalTokens', count(u.total_tokens));
    setField(usage, 'cachedInputTokens', count(obj(u.input_tokens_details)?.cached_tokens));
    setField(usage, 'reasoningTokens', count(obj(u.output_tokens_details)?.reasoning_tokens));
  } else {
    setField(usage, 'inputTokens', count(u.prompt_tokens));
    setField(usage, 'outputTokens', count(u.completion_tokens) ?? (embeddings ? 0 : undefined));
    setField(usage, 'totalTokens', count(u.total_tokens));
    // DeepSeek reports cache hits as prompt_cache_hit_tokens
    setField(usage, 'cachedInputTokens', count(obj(u.prompt_tokens_details)?.cached_tokens) ?? count(u.prompt_cache_hit_tokens));
    setField(usage, 'reasoningTokens', count(obj(u.completion_tokens_details)?.reasoning_tokens));
  }
  return Object.keys(usage).length > 0 ? usage : undefined;
}

/** Responses API stream events whose `response` carries the final usage. */
const FINAL_RESPONSE_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export class OpenAIExtractor implements UsageExtractor {
  private usage: Usage | undefined;
  private model: string | undefined;
  private error: ProviderError | undefined;
  private readonly embeddings: boolean;

  constructor(endpoint: Endpoint, private readonly text: TextCollector) {
    this.embeddings = endpoint === 'openai.embeddings';
  }

  accept(value: unknown): void {
    if (!isObject(value)) return;
    const type = str(value.type);
    if (type !== undefined && type.startsWith('response.')) this.responseEvent(type, value);
    else if (type === 'error') this.error = providerError('error', value.code);
    else this.body(value);
  }

  result(): Extraction {
    const r: Extraction = { final: this.usage !== undefined };
    if (this.usage) r.usage = this.usage;
    if (this.model !== undefined) r.model = this.model;
    if (this.error) r.error = this.error;
    return r;
  }

  /** A whole body, a chat/completions chunk, or a non-streamed Responses object. */
  private body(v: Json): void {
    this.model = str(v.model) ?? this.model;
    const err = obj(v.error);
    if (err) this.error = providerError(err.type ?? err.status, err.code);
    const u = obj(v.usage);
    if (u) this.usage = mapOpenAIUsage(u, this.embeddings) ?? this.usage;
    if (Array.isArray(v.choices)) this.choices(v.choices);
    if (v.object === 'response' && Array.isArray(v.output)) this.responseOutput(v.output);
  }

  private responseEvent(type: string, v: Json): void {
    const resp = obj(v.response);
    if (resp) {
      this.model = str(resp.model) ?? this.model;
      const u = obj(resp.usage);
      if (u && FINAL_RESPONSE_EVENTS.has(type)) this.usage = mapOpenAIUsage(u, false) ?? this.usage;
      const err = obj(resp.error);
      if (err && type === 'response.failed') this.error = providerError(err.type ?? 'response_failed', err.code);
      return;
    }
    // Deltas of output text, refusals, reasoning and tool-call arguments; not audio (base64 bytes).
    if (type.endsWith('.delta') && !type.includes('audio')) this.text.add(v.delta);
  }

  private choices(choices: unknown[]): void {
    for (const c of choices) {
      if (!isObject(c)) continue;
      this.text.add(c.text); // legacy completions
      const m = obj(c.delta) ?? obj(c.message);
      if (m) this.message(m);
    }
  }

  private message(m: Json): void {
    const content = m.content;
    if (typeof content === 'string') this.text.add(content);
    else if (Array.isArray(content)) for (const part of content) this.text.add(obj(part)?.text);
    this.text.add(m.reasoning_content); // DeepSeek
    this.text.add(m.reasoning); // OpenRouter
    this.text.add(m.refusal);
    this.text.add(obj(m.audio)?.transcript);
    const fc = obj(m.function_call);
    if (fc) this.text.add(fc.arguments);
    if (!Array.isArray(m.tool_calls)) return;
    for (const call of m.tool_calls) {
      const fn = obj(obj(call)?.function);
      if (fn) {
        this.text.add(fn.name);
        this.text.addJson(fn.arguments);
      }
    }
  }

  private responseOutput(output: unknown[]): void {
    for (const item of output) {
      if (!isObject(item)) continue;
      this.text.addJson(item.arguments);
      this.text.add(item.input);
      for (const list of [item.content, item.summary]) {
        if (!Array.isArray(list)) continue;
        for (const part of list) {
          const p = obj(part);
          if (p) {
            this.text.add(p.text);
            this.text.add(p.refusal);
          }
        }
      }
    }
  }
}
