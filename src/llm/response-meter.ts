/**
 * Meters one HTTP response: decode the body, split it into JSON values by its framing, feed them to the provider's
 * usage extractor, and at the end say what the response used.
 *
 * `write` is called per body chunk by the ext_proc stream handler, which answers Envoy without waiting: it never
 * throws, does bounded work (identity bodies are parsed synchronously, chunk by chunk; compressed bodies are inflated
 * on the threadpool and parsed as decoded bytes arrive). `end` resolves once the last decoded byte is processed, about
 * one threadpool round trip after the last chunk; it never rejects.
 *
 * Memory is bounded everywhere: SSE lines/events, JSON-array elements and whole JSON bodies have caps, decoded output
 * has a cap, and the output text kept for estimation has a cap.
 */
import { createBodyDecoder } from './decode.js';
import type { BodyDecoder } from './decode.js';
import { expectedFraming, isLeadingFiller, JsonBodyCollector, sniffFraming } from './framing.js';
import type { Framing } from './framing.js';
import { JsonArrayStream } from './json-array-stream.js';
import { SseParser } from './sse.js';
import type { SseEvent } from './sse.js';
import type { Endpoint, Usage } from './types.js';
import { createUsageExtractor, TextCollector } from './usage/index.js';
import type { ProviderError, UsageExtractor } from './usage/index.js';

export type UsageSource = 'provider' | 'estimated' | 'none';

/** Label-safe reasons something about a response could not be fully metered. */
export type MeterProblem =
  | 'json_invalid' | 'sse_invalid' | 'decode_failed' | 'decode_too_large' | 'encoding_unsupported' | 'utf8_invalid'
  | 'truncated' | 'body_too_large' | 'usage_incomplete' | 'tokenize_failed' | 'internal';

export interface ResponseMeterOptions {
  endpoint: Endpoint;
  status: number;
  contentType?: string;
  contentEncoding?: string;
  /** Whether the request asked for a stream (used only when the content type says nothing). */
  stream?: boolean;
  /** Cap on decompressed bytes (compressed bodies). */
  maxDecodedBytes: number;
  /** Cap on a one-document JSON body (default 16 MiB); over it → 'body_too_large'. */
  maxJsonBytes?: number;
  /** Cap on one SSE event's data or one JSON-array element (default 4 MiB). */
  maxEventBytes?: number;
  /** Output characters kept for estimation (default 256 Ki); the rest is counted and the estimate scaled. */
  maxTextChars?: number;
  /** Counts tokens in output text, for the estimate when the provider reports no (final) usage. */
  countText?: (text: string) => number;
}

export interface ResponseMeterResult {
  /** Provider usage, or { outputTokens: estimate } when estimated, or {} / { outputTokens: 0 } (errors) when none. */
  usage: Usage;
  usageSource: UsageSource;
  /** Model named by the response. */
  model?: string;
  /** Distinct problems, in the order met. */
  problems: MeterProblem[];
  /** Output tokens counted with countText when the provider reported no final usage. */
  estimatedOutputTokens?: number;
  /** The output text kept (≤ maxTextChars) and its full length, when the provider reported no final usage. */
  outputText?: { text: string; totalChars: number };
  /** The provider's error, when the body was one. */
  error?: ProviderError;
  framing?: Framing;
  decodedBytes: number;
}

export interface ResponseMeter {
  /**
   * Never throws; cheap. The chunk must not be modified afterwards: slices of it are kept (without copying) until the
   * line, event or body they belong to completes.
   */
  write(chunk: Buffer): void;
  /** Never rejects; idempotent. */
  end(): Promise<ResponseMeterResult>;
}

const DEFAULT_MAX_JSON = 16 << 20;
const DEFAULT_MAX_EVENT = 4 << 20;

class Meter implements ResponseMeter {
  private readonly problems = new Set<MeterProblem>();
  private readonly text: TextCollector;
  private readonly extractor: UsageExtractor;
  private readonly decoder: BodyDecoder;
  private readonly expected: Framing;
  private framing: Framing | undefined;
  private sse: SseParser | undefined;
  private array: JsonArrayStream | undefined;
  private json: JsonBodyCollector | undefined;
  /** JSON values handed to the extractor. */
  private values = 0;
  private ended: Promise<ResponseMeterResult> | undefined;

  constructor(private readonly options: ResponseMeterOptions) {
    this.text = new TextCollector(options.maxTextChars);
    this.extractor = createUsageExtractor(options.endpoint, this.text);
    this.expected = expectedFraming(options.endpoint, options.contentType, options.stream);
    this.decoder = createBodyDecoder({
      encoding: options.contentEncoding,
      maxDecodedBytes: options.maxDecodedBytes,
      onData: (chunk) => this.decoded(chunk),
    });
  }

  write(chunk: Buffer): void {
    if (this.ended) return;
    try {
      this.decoder.write(chunk);
    } catch {
      this.problems.add('internal');
    }
  }

  end(): Promise<ResponseMeterResult> {
    this.ended ??= this.finish().catch(() => {
      this.problems.add('internal');
      return { usage: {}, usageSource: 'none' as const, problems: [...this.problems], decodedBytes: 0 };
    });
    return this.ended;
  }

  private decoded(chunk: Buffer): void {
    try {
      this.route(chunk);
    } catch {
      this.problems.add('internal');
    }
  }

  private route(chunk: Buffer): void {
    if (this.framing === undefined) {
      let i = 0;
      while (i < chunk.length && isLeadingFiller(chunk[i]!)) i++;
      if (i === chunk.length) return;
      this.start(sniffFraming(chunk[i]!, this.expected));
      chunk = chunk.subarray(i);
    }
    if (this.sse) for (const ev of this.sse.feed(chunk)) this.event(ev, false);
    else if (this.array) for (const v of this.array.feed(chunk)) this.value(v);
    else this.json?.add(chunk);
  }

  private start(framing: Framing): void {
    this.framing = framing;
    const maxEvent = this.options.maxEventBytes ?? DEFAULT_MAX_EVENT;
    if (framing === 'sse') this.sse = new SseParser({ maxLineBytes: maxEvent, maxEventBytes: maxEvent });
    else if (framing === 'json_array') this.array = new JsonArrayStream({ maxObjectBytes: maxEvent });
    else this.json = new JsonBodyCollector(this.options.maxJsonBytes ?? DEFAULT_MAX_JSON);
  }

  private event(ev: SseEvent, flushed: boolean): void {
    const data = ev.data;
    if (data.length < 16 && data.trim() === '[DONE]') return;
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      this.problems.add(flushed ? 'truncated' : 'json_invalid');
      return;
    }
    this.value(value, ev.event);
  }

  private value(v: unknown, event?: string): void {
    this.values++;
    this.extractor.accept(v, event);
  }

  private async finish(): Promise<ResponseMeterResult> {
    const decoded = await this.decoder.end();
    if (decoded.problem) this.problems.add(decoded.problem);
    this.finishFraming();
    return this.result(decoded.decodedBytes);
  }

  private finishFraming(): void {
    if (this.sse) {
      for (const ev of this.sse.end()) this.event(ev, true);
      const s = this.sse.stats;
      if (s.droppedLines > 0 || s.droppedEvents > 0 || s.events === 0) this.problems.add('sse_invalid');
      if (s.invalidUtf8Lines > 0) this.problems.add('utf8_invalid');
    } else if (this.array) {
      this.array.end();
      const s = this.array.stats;
      if (s.invalidObjects > 0 || s.garbageBytes > 0) this.problems.add('json_invalid');
      if (s.droppedObjects > 0) this.problems.add('body_too_large');
      if (s.invalidUtf8Objects > 0) this.problems.add('utf8_invalid');
      if (s.unterminated) this.problems.add('truncated');
    } else if (this.json) {
      const outcome = this.json.finish();
      if (!outcome.utf8Valid) this.problems.add('utf8_invalid');
      if (outcome.ok) this.value(outcome.value);
      else this.problems.add(outcome.problem);
    }
  }

  private result(decodedBytes: number): ResponseMeterResult {
    const x = this.extractor.result();
    const r: ResponseMeterResult = { usage: {}, usageSource: 'none', problems: [], decodedBytes };
    if (this.framing) r.framing = this.framing;
    if (x.model !== undefined) r.model = x.model;
    if (x.error) r.error = x.error;
    if (x.usage) {
      r.usage = { ...x.usage };
      r.usageSource = 'provider';
    }
    if (this.options.status >= 400) {
      // An error body generates nothing.
      r.usage.outputTokens ??= 0;
    } else if (!x.final) {
      this.estimate(r);
    }
    r.problems = [...this.problems];
    return r;
  }

  /** No final usage from the provider: expose the output text and, with a counter, estimate output tokens. */
  private estimate(r: ResponseMeterResult): void {
    r.outputText = { text: this.text.text(), totalChars: this.text.totalChars };
    if (r.usageSource === 'provider') this.problems.add('usage_incomplete');
    const count = this.options.countText;
    if (!count || this.values === 0) return;
    let tokens: number;
    try {
      const kept = r.outputText.text;
      tokens = count(kept);
      if (this.text.truncated && kept.length > 0) tokens = Math.round((tokens * this.text.totalChars) / kept.length);
    } catch {
      this.problems.add('tokenize_failed');
      return;
    }
    if (!Number.isFinite(tokens) || tokens < 0) return;
    r.estimatedOutputTokens = tokens;
    if (r.usageSource === 'provider') {
      // A stream cut short: the provider's running output count may lag what was sent.
      const u = r.usage;
      if (u.outputTokens === undefined || tokens > u.outputTokens) {
        u.outputTokens = tokens;
        if (u.inputTokens !== undefined) u.totalTokens = u.inputTokens + tokens;
      }
    } else {
      r.usage = { outputTokens: tokens };
      r.usageSource = 'estimated';
    }
  }
}

/** Creates the meter for one response. Never throws. */
export function createResponseMeter(options: ResponseMeterOptions): ResponseMeter {
  return new Meter(options);
}
