/**
 * `GET /v1/models`: the models tokenmeter prices, with the encoding their input is counted with (a BPE encoding for
 * OpenAI models — exact for text —, a calibrated estimate for Anthropic and Gemini) and their built-in prices (USD per
 * million tokens). Models (or deployments, or `prefix*` patterns) named only in --encoding-overrides are
 * listed too, as OpenAI-format models without a price. Public.
 */
import type { ServerResponse } from 'node:http';
import type { Provider } from '../llm/types.js';
import { BUILTIN_PRICES, PRICES_AS_OF } from '../policy/prices.js';
import { resolveEncoding, type EncodingOverrides } from '../tokenize/encodings.js';
import { loadedGemmaVocabularies } from '../tokenize/gemini-vocab.js';
import { loadedEncodings } from '../tokenize/tokenizer.js';
import { sendJson } from './http.js';

export interface ModelEntry {
  id: string;
  provider: Provider;
  encoding: string;
  exact: boolean;
  price: { input: number; cached_input: number; cache_write: number; output: number; unverified?: true } | null;
}

export interface ModelList {
  object: 'list';
  /** Prices are USD per million tokens, standard tier, as of this date. */
  prices_as_of: string;
  /** Tokenizer vocabularies this process has loaded so far (each is loaded on the first request that needs it). */
  loaded_vocabularies: string[];
  data: ModelEntry[];
}

function encodingOf(provider: Provider, model: string, overrides: EncodingOverrides | undefined): { encoding: string; exact: boolean } {
  if (provider === 'anthropic') return { encoding: 'estimate:anthropic', exact: false };
  if (provider === 'gemini') return { encoding: 'estimate:gemini', exact: false };
  const r = resolveEncoding(model, overrides);
  return { encoding: r.encoding, exact: r.known };
}

/** The model list (pure). */
export function modelList(overrides?: EncodingOverrides): ModelList {
  const data: ModelEntry[] = [];
  for (const [id, p] of BUILTIN_PRICES) {
    const price: NonNullable<ModelEntry['price']> = { input: p.input, cached_input: p.cachedInput, cache_write: p.cacheWrite, output: p.output };
    if (p.unverified) price.unverified = true;
    data.push({ id, provider: p.provider, ...encodingOf(p.provider, id, overrides), price });
  }
  for (const [id, encoding] of Object.entries(overrides ?? {})) {
    if (!BUILTIN_PRICES.has(id)) data.push({ id, provider: 'openai', encoding, exact: true, price: null });
  }
  return { object: 'list', prices_as_of: PRICES_AS_OF, loaded_vocabularies: [...loadedEncodings(), ...loadedGemmaVocabularies()], data };
}

export function handleModels(res: ServerResponse, overrides?: EncodingOverrides): void {
  sendJson(res, 200, modelList(overrides));
}
