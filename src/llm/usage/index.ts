/**
 * The usage extractor for an endpoint. A JSON array fed as one value (a Gemini stream read as a whole body) is fed
 * element by element.
 */
import type { Endpoint } from '../types.js';
import { AnthropicExtractor } from './anthropic.js';
import type { Extraction, TextCollector, UsageExtractor } from './common.js';
import { GeminiExtractor } from './gemini.js';
import { OpenAIExtractor } from './openai.js';

export type { Extraction, ProviderError, UsageExtractor } from './common.js';
export { TextCollector, DEFAULT_MAX_TEXT_CHARS } from './common.js';

class ArrayFlattening implements UsageExtractor {
  constructor(private readonly inner: UsageExtractor) {}

  accept(value: unknown, event?: string): void {
    try {
      if (Array.isArray(value)) for (const v of value) this.inner.accept(v, event);
      else this.inner.accept(value, event);
    } catch {
      // extractors read defensively; a surprise shape is not worth failing the response over
    }
  }

  result(): Extraction {
    return this.inner.result();
  }
}

export function createUsageExtractor(endpoint: Endpoint, text: TextCollector): UsageExtractor {
  let inner: UsageExtractor;
  if (endpoint === 'anthropic.messages') inner = new AnthropicExtractor(text);
  else if (endpoint === 'gemini.generate' || endpoint === 'gemini.stream') inner = new GeminiExtractor(text);
  else inner = new OpenAIExtractor(endpoint, text);
  return new ArrayFlattening(inner);
}
