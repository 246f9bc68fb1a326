/**
 * `GET /v1/models`: the models the price catalogue (@pydantic/genai-prices) prices for OpenAI, Anthropic and Gemini,
 * with the encoding their input is counted with (a BPE encoding for OpenAI models — exact for text —, the Gemma
 * vocabulary for Gemini text, an estimate for Anthropic) and their prices (USD per million tokens; `tiers` when the
 * price rises above an input size). Models (or deployments, or `prefix*` patterns) named only in --encoding-overrides
 * are listed too, as OpenAI-format models without a price. Public.
 */
import type { ServerResponse } from 'node:http';
import type { Provider } from '../llm/types.js';
import { catalogueModels, priceData, priceDataVersion, type TierPrice } from '../prices/catalogue.js';
import { geminiTokenization } from '../tokenize/gemini-vocab.js';
import { resolveEncoding, type EncodingOverrides } from '../tokenize/encodings.js';
import { loadedGemmaVocabularies } from '../tokenize/gemini-vocab.js';
import { loadedEncodings } from '../tokenize/tokenizer.js';
import { sendJson } from './http.js';

export interface ModelEntry {
  id: string;
  provider: Provider;
  encoding: string;
  exact: boolean;
  price: ModelPrice | null;
}

interface PriceFields { input: number; cached_input: number; cache_write: number; output: number }

export interface ModelPrice extends PriceFields {
  /** Prices for requests whose input exceeds `above_input_tokens` (the whole request is charged at that tier). */
  tiers?: (PriceFields & { above_input_tokens: number })[];
}

export interface ModelList {
  object: 'list';
  /** Prices are USD per million tokens, standard tier, from this release of the price catalogue. */
  prices_as_of: string;
  /** `genai-prices@X.Y.Z (date)`: the catalogue version (also in every request's log line as `price_source`). */
  prices_source: string;
  /** Tokenizer vocabularies this process has loaded so far (each is loaded on the first request that needs it). */
  loaded_vocabularies: string[];
  data: ModelEntry[];
}

function encodingOf(provider: Provider, model: string, overrides: EncodingOverrides | undefined): { encoding: string; exact: boolean } {
  if (provider === 'anthropic') return { encoding: 'estimate:anthropic', exact: false };
  if (provider === 'gemini') return { encoding: `sentencepiece/${geminiTokenization(model).vocabulary}`, exact: true };
  const r = resolveEncoding(model, overrides);
  return { encoding: r.encoding, exact: r.known };
}

/** The model list (pure). */
export function modelList(overrides?: EncodingOverrides): ModelList {
  const data: ModelEntry[] = [];
  const fields = (p: TierPrice): PriceFields => ({ input: p.input, cached_input: p.cachedInput, cache_write: p.cacheWrite, output: p.output });
  for (const { provider, entry } of catalogueModels()) {
    const price: ModelPrice = fields(entry.base);
    if (entry.tiers.length > 0) price.tiers = entry.tiers.map((t) => ({ above_input_tokens: t.start, ...fields(t.price) }));
    data.push({ id: entry.model, provider, ...encodingOf(provider, entry.model, overrides), price });
  }
  const listed = new Set(data.map((d) => d.id));
  for (const [id, encoding] of Object.entries(overrides ?? {})) {
    if (!listed.has(id)) data.push({ id, provider: 'openai', encoding, exact: true, price: null });
  }
  return {
    object: 'list', prices_as_of: priceData().released, prices_source: priceDataVersion(),
    loaded_vocabularies: [...loadedEncodings(), ...loadedGemmaVocabularies()], data,
  };
}

export function handleModels(res: ServerResponse, overrides?: EncodingOverrides): void {
  sendJson(res, 200, modelList(overrides));
}
