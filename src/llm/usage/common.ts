/**
 * What every provider's usage extractor shares: the extractor contract, the bounded output-text collector and small
 * JSON helpers. Extractors are fed parsed JSON values one at a time (a whole body, one SSE event's data, one JSON-array
 * element) and keep the cumulative state; provider usage is cumulative, so the last report wins and is never summed.
 */
import type { Usage } from '../types.js';

export type Json = Record<string, unknown>;

/** An error body the provider sent, reduced to label-safe identifiers. */
export interface ProviderError {
  /** e.g. invalid_request_error, not_found, resource_exhausted */
  type?: string;
  /** e.g. model_not_found, 429 */
  code?: string;
}

export interface Extraction {
  /** The provider's usage; undefined when it reported none. */
  usage?: Usage;
  /**
   * true when the usage seen is the provider's final report (OpenAI usage object, Anthropic message_delta or whole
   * message, Gemini chunk with a finishReason). false means the stream stopped before the final report.
   */
  final: boolean;
  /** Model as named by the response. */
  model?: string;
  error?: ProviderError;
}

export interface UsageExtractor {
  /** Feeds one parsed JSON value; `event` is the SSE event name when there was one. Never throws. */
  accept(value: unknown, event?: string): void;
  result(): Extraction;
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown): Json | undefined {
  return isObject(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** A token count: a finite, non-negative number; anything else is "not reported". */
export function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** Sets a Usage field only when it is defined, so undefined keys do not appear in results. */
export function setField(u: Usage, key: keyof Usage, v: number | undefined): void {
  if (v !== undefined) u[key] = v;
}

/** Lower-case, [a-z0-9_.-] only, at most 64 characters: safe as a metric label value. */
export function labelSafe(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(Math.trunc(v));
  if (typeof v !== 'string' || v.length === 0) return undefined;
  const s = v.slice(0, 64).toLowerCase().replace(/[^a-z0-9_.-]/g, '_');
  return s.length > 0 ? s : undefined;
}

export function providerError(type: unknown, code: unknown): ProviderError {
  const e: ProviderError = {};
  const t = labelSafe(type);
  const c = labelSafe(code);
  if (t !== undefined) e.type = t;
  if (c !== undefined) e.code = c;
  return e;
}

export const DEFAULT_MAX_TEXT_CHARS = 256 * 1024;

/**
 * Output text (visible text, tool-call arguments, reasoning) kept for counting when the provider reports no usage.
 * Keeps at most maxChars characters and counts the rest, so the caller can scale a count of the kept text.
 */
export class TextCollector {
  private parts: string[] = [];
  private kept = 0;
  private joined: string | undefined;
  /** All characters offered, kept or not. */
  totalChars = 0;

  constructor(readonly maxChars: number = DEFAULT_MAX_TEXT_CHARS) {}

  add(s: unknown): void {
    if (typeof s !== 'string' || s.length === 0) return;
    this.totalChars += s.length;
    const room = this.maxChars - this.kept;
    if (room <= 0) return;
    const piece = s.length <= room ? s : s.slice(0, room);
    this.parts.push(piece);
    this.kept += piece.length;
    this.joined = undefined;
  }

  /** A JSON value's text (tool-call arguments given as an object). */
  addJson(v: unknown): void {
    if (v === undefined || v === null) return;
    if (typeof v === 'string') this.add(v);
    else {
      try {
        this.add(JSON.stringify(v));
      } catch {
        // unserialisable: nothing to count
      }
    }
  }

  /** The kept text. */
  text(): string {
    this.joined ??= this.parts.join('');
    if (this.parts.length > 1) this.parts = [this.joined];
    return this.joined;
  }

  get truncated(): boolean {
    return this.totalChars > this.kept;
  }
}
