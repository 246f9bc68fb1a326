/**
 * Usage from Anthropic Messages responses, streamed (message_start / message_delta events) or not (one message).
 *
 * Streaming reports usage twice: message_start.message.usage and message_delta.usage. Both are cumulative: each field
 * present in the later report replaces the earlier value (message_start may already carry the final output count,
 * and message_delta's input_tokens may differ from message_start's when server tools ran). Never summed.
 * Billing terms: input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens.
 */
import type { Usage } from '../types.js';
import type { Extraction, Json, ProviderError, TextCollector, UsageExtractor } from './common.js';
import { count, isObject, obj, providerError, setField, str } from './common.js';

interface RawUsage {
  input?: number;
  cacheRead?: number;
  cacheCreation?: number;
  output?: number;
}

/** Maps raw Anthropic counts to Usage; undefined when nothing was reported. */
export function mapAnthropicUsage(raw: RawUsage): Usage | undefined {
  const { input, cacheRead, cacheCreation, output } = raw;
  if (input === undefined && cacheRead === undefined && cacheCreation === undefined && output === undefined) return undefined;
  const usage: Usage = {};
  const inputTokens = input === undefined ? undefined : input + (cacheRead ?? 0) + (cacheCreation ?? 0);
  setField(usage, 'inputTokens', inputTokens);
  setField(usage, 'outputTokens', output);
  setField(usage, 'totalTokens', inputTokens !== undefined && output !== undefined ? inputTokens + output : undefined);
  setField(usage, 'cachedInputTokens', cacheRead);
  setField(usage, 'cacheWriteTokens', cacheCreation);
  return usage;
}

export class AnthropicExtractor implements UsageExtractor {
  private readonly raw: RawUsage = {};
  private final = false;
  private model: string | undefined;
  private error: ProviderError | undefined;

  constructor(private readonly text: TextCollector) {}

  accept(value: unknown): void {
    if (!isObject(value)) return;
    switch (value.type) {
      case 'message_start': {
        const msg = obj(value.message);
        if (!msg) return;
        this.model = str(msg.model) ?? this.model;
        this.merge(obj(msg.usage));
        return;
      }
      case 'message_delta':
        this.merge(obj(value.usage));
        if (obj(value.usage)) this.final = true;
        return;
      case 'content_block_start':
        this.block(obj(value.content_block), false);
        return;
      case 'content_block_delta': {
        const d = obj(value.delta);
        if (d) {
          this.text.add(d.text);
          this.text.add(d.partial_json);
          this.text.add(d.thinking);
        }
        return;
      }
      case 'message':
        this.wholeMessage(value);
        return;
      default: {
        const err = obj(value.error);
        if (err) this.error = providerError(err.type ?? 'error', err.code);
      }
    }
  }

  result(): Extraction {
    const r: Extraction = { final: this.final };
    const usage = mapAnthropicUsage(this.raw);
    if (usage) r.usage = usage;
    else r.final = false;
    if (this.model !== undefined) r.model = this.model;
    if (this.error) r.error = this.error;
    return r;
  }

  private wholeMessage(msg: Json): void {
    this.model = str(msg.model) ?? this.model;
    const u = obj(msg.usage);
    this.merge(u);
    if (u) this.final = true;
    if (Array.isArray(msg.content)) for (const block of msg.content) this.block(obj(block), true);
  }

  /** A content block; a streamed block's tool input arrives as deltas, so only a whole message's input counts. */
  private block(b: Json | undefined, whole: boolean): void {
    if (!b) return;
    this.text.add(b.text);
    this.text.add(b.thinking);
    if (b.type === 'tool_use' || b.type === 'server_tool_use') {
      this.text.add(b.name);
      if (whole) this.text.addJson(b.input);
    }
  }

  private merge(u: Json | undefined): void {
    if (!u) return;
    const raw = this.raw;
    raw.input = count(u.input_tokens) ?? raw.input;
    raw.cacheRead = count(u.cache_read_input_tokens) ?? raw.cacheRead;
    raw.cacheCreation = count(u.cache_creation_input_tokens) ?? raw.cacheCreation;
    raw.output = count(u.output_tokens) ?? raw.output;
  }
}
