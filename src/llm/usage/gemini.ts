/**
 * Usage from Gemini and Vertex AI generateContent / streamGenerateContent responses (whole body, SSE events or JSON
 * array elements). Every streamed chunk carries the usage so far in `usageMetadata`; the last one is final.
 *
 * Billing terms: input = promptTokenCount + toolUsePromptTokenCount; output = candidatesTokenCount +
 * thoughtsTokenCount; totalTokenCount already includes thoughts and tool-use prompt tokens.
 */
import type { Usage } from '../types.js';
import type { Extraction, Json, ProviderError, TextCollector, UsageExtractor } from './common.js';
import { count, isObject, obj, providerError, setField, str } from './common.js';

/** Maps a usageMetadata object; undefined when it holds no token count. */
export function mapGeminiUsage(m: Json): Usage | undefined {
  const prompt = count(m.promptTokenCount);
  const toolUse = count(m.toolUsePromptTokenCount);
  const candidates = count(m.candidatesTokenCount);
  const thoughts = count(m.thoughtsTokenCount);
  const total = count(m.totalTokenCount);
  if (prompt === undefined && candidates === undefined && thoughts === undefined && total === undefined) return undefined;
  const usage: Usage = {};
  setField(usage, 'inputTokens', prompt === undefined ? undefined : prompt + (toolUse ?? 0));
  usage.outputTokens = (candidates ?? 0) + (thoughts ?? 0);
  setField(usage, 'totalTokens', total);
  setField(usage, 'cachedInputTokens', count(m.cachedContentTokenCount));
  setField(usage, 'reasoningTokens', thoughts);
  return usage;
}

export class GeminiExtractor implements UsageExtractor {
  private usage: Usage | undefined;
  private final = false;
  private model: string | undefined;
  private error: ProviderError | undefined;

  constructor(private readonly text: TextCollector) {}

  accept(value: unknown): void {
    if (!isObject(value)) return;
    const err = obj(value.error);
    if (err) this.error = providerError(err.status ?? 'error', err.code);
    this.model = str(value.modelVersion) ?? this.model;
    const meta = obj(value.usageMetadata);
    if (meta) this.usage = mapGeminiUsage(meta) ?? this.usage;
    if (obj(value.promptFeedback)?.blockReason !== undefined) this.final = true;
    if (Array.isArray(value.candidates)) this.candidates(value.candidates);
  }

  result(): Extraction {
    const r: Extraction = { final: this.final && this.usage !== undefined };
    if (this.usage) r.usage = this.usage;
    if (this.model !== undefined) r.model = this.model;
    if (this.error) r.error = this.error;
    return r;
  }

  private candidates(candidates: unknown[]): void {
    for (const c of candidates) {
      if (!isObject(c)) continue;
      if (c.finishReason !== undefined && c.finishReason !== null) this.final = true;
      const parts = obj(c.content)?.parts;
      if (!Array.isArray(parts)) continue;
      for (const part of parts) this.part(part);
    }
  }

  private part(part: unknown): void {
    if (!isObject(part)) return;
    this.text.add(part.text);
    const call = obj(part.functionCall);
    if (call) {
      this.text.add(call.name);
      this.text.addJson(call.args);
    }
    this.text.add(obj(part.executableCode)?.code);
  }
}
