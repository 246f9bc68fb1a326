/**
 * What a request will cost before it is sent: its input tokens (the data plane's own pre-count), the encoding, whether
 * the count is exact, and the USD estimate at the model's built-in price. Shared by `POST /v1/count` and
 * `tokenmeter count`. Pure: no I/O (the count yields to the event loop between slices, so a large body does not block
 * the process serving traffic).
 *
 * The API format of the body, in this order:
 *   1. `endpoint`: an endpoint name (openai.chat, openai.responses, openai.completions, openai.embeddings,
 *      anthropic.messages, gemini.generate, gemini.stream);
 *   2. `path`: an API path, classified exactly as the data plane classifies requests (`/v1/chat/completions`,
 *      `/v1beta/models/gemini-2.5-flash:generateContent`, Azure deployments…); a path model is used as the model;
 *   3. otherwise sniffed from the body (a JSON object):
 *      - `contents` → gemini.generate;
 *      - `messages` with a `claude*` model (provider prefixes such as `anthropic.` dropped) or an `anthropic_version`
 *        field (Bedrock, Vertex) → anthropic.messages;
 *      - `messages` → openai.chat;
 *      - `input` with a model whose name contains `embedding` → openai.embeddings, else → openai.responses;
 *      - `prompt` → openai.completions;
 *      - anything else is an error asking for an endpoint or path.
 * `model` (when given) overrides the model the body or path names, for counting and for the price.
 */
import { readRequestFacts } from '../llm/request-facts.js';
import { matchRoute, type Route } from '../llm/routes.js';
import type { Endpoint, Provider } from '../llm/types.js';
import { lookupPrice, priceModelName } from '../policy/prices.js';
import { priceData, priceDataVersion } from '../prices/catalogue.js';
import { countInputTokensAsync } from '../tokenize/count-request.js';
import type { EncodingOverrides } from '../tokenize/encodings.js';

export const ENDPOINTS: readonly Endpoint[] = [
  'openai.chat', 'openai.responses', 'openai.completions', 'openai.embeddings', 'anthropic.messages', 'gemini.generate', 'gemini.stream',
];

export interface EstimateInput {
  /** The parsed request body. */
  body: unknown;
  /** An endpoint name; wins over `path` and sniffing. */
  endpoint?: string;
  /** An API path such as `/v1/chat/completions`. */
  path?: string;
  /** Overrides the model named by the body or path. */
  model?: string;
  /** Config's model → encoding overrides. */
  overrides?: EncodingOverrides;
}

/** USD per million tokens, from the price catalogue (the tier the request's input reaches). */
export interface EstimatePrice {
  /** The catalogue entry that priced the model (the model itself, or the name it extends). */
  model: string;
  input: number;
  cached_input: number;
  output: number;
  /** The catalogue's release date. */
  as_of: string;
  /** `genai-prices@X.Y.Z (date)`. */
  source: string;
}

/** The JSON both the HTTP API and the CLI print. */
export interface RequestEstimate {
  input_tokens: number;
  encoding: string;
  exact: boolean;
  endpoint: Endpoint;
  /** How the endpoint was chosen. */
  endpoint_from: 'endpoint' | 'path' | 'body';
  model: string | null;
  /** The body's output cap (max_tokens, max_completion_tokens, max_output_tokens, generationConfig.maxOutputTokens). */
  max_output_tokens?: number;
  /** null when the model has no built-in price. */
  estimated_cost_usd: { input: number; output_at_max_tokens?: number } | null;
  price: EstimatePrice | null;
}

export type EstimateErrorKind = 'endpoint_unknown' | 'path_unmetered' | 'format_unknown' | 'body_not_object';

export type EstimateResult = { ok: true; estimate: RequestEstimate } | { ok: false; kind: EstimateErrorKind; message: string };

export type JsonBody = { ok: true; body: unknown } | { ok: false; message: string };

/** Parses a request body as JSON (UTF-8, lenient about invalid sequences like the data plane). */
export function parseJsonBody(raw: Buffer | string): JsonBody {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (text.trim() === '') return { ok: false, message: 'empty body: expected a JSON request body' };
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: `invalid JSON: ${(err as Error).message}` };
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function providerOf(endpoint: Endpoint): Provider {
  return endpoint.startsWith('anthropic.') ? 'anthropic' : endpoint.startsWith('gemini.') ? 'gemini' : 'openai';
}

function isEndpoint(s: string): s is Endpoint {
  return (ENDPOINTS as readonly string[]).includes(s);
}

/** The endpoint a body's shape suggests (see the module comment), or undefined. */
export function sniffEndpoint(body: Obj): Endpoint | undefined {
  const model = typeof body['model'] === 'string' ? priceModelName(body['model']) : '';
  if (body['contents'] !== undefined) return 'gemini.generate';
  if (body['messages'] !== undefined) {
    return model.startsWith('claude') || body['anthropic_version'] !== undefined ? 'anthropic.messages' : 'openai.chat';
  }
  if (body['input'] !== undefined) return model.includes('embedding') ? 'openai.embeddings' : 'openai.responses';
  if (body['prompt'] !== undefined) return 'openai.completions';
  return undefined;
}

type RouteChoice = { ok: true; route: Route; from: RequestEstimate['endpoint_from'] } | Extract<EstimateResult, { ok: false }>;

function chooseRoute(input: EstimateInput, body: Obj): RouteChoice {
  if (input.endpoint !== undefined && input.endpoint !== '') {
    if (!isEndpoint(input.endpoint)) {
      return { ok: false, kind: 'endpoint_unknown', message: `unknown endpoint "${input.endpoint}": expected one of ${ENDPOINTS.join(', ')}` };
    }
    return { ok: true, route: { endpoint: input.endpoint, provider: providerOf(input.endpoint) }, from: 'endpoint' };
  }
  if (input.path !== undefined && input.path !== '') {
    const route = matchRoute('POST', input.path);
    if (!route) return { ok: false, kind: 'path_unmetered', message: `path "${input.path}" is not an LLM API tokenmeter meters` };
    return { ok: true, route, from: 'path' };
  }
  const endpoint = sniffEndpoint(body);
  if (endpoint === undefined) {
    return {
      ok: false, kind: 'format_unknown',
      message: 'cannot tell the API format from the body (no messages, contents, input or prompt): give an endpoint or a path',
    };
  }
  return { ok: true, route: { endpoint, provider: providerOf(endpoint) }, from: 'body' };
}

/** USD, rounded to 1e-12 (no float noise in the JSON). */
function usd(tokens: number, perMillion: number): number {
  return Math.round((tokens * perMillion) / 1e6 * 1e12) / 1e12;
}

/** Counts a request body and prices it. Never throws for any JSON value. */
export async function estimateRequest(input: EstimateInput): Promise<EstimateResult> {
  if (!isObj(input.body)) return { ok: false, kind: 'body_not_object', message: 'expected a JSON object as the request body' };
  const choice = chooseRoute(input, input.body);
  if (!choice.ok) return choice;
  const { route, from } = choice;
  const facts = readRequestFacts(route, input.body);
  const model = input.model !== undefined && input.model !== '' ? input.model : facts.model;
  // An Azure deployment name is not a model name: count as the data plane does (overrides may name it).
  const countModel = input.model === undefined && route.azureDeployment && model === route.pathModel ? undefined : model;
  const count = await countInputTokensAsync(route.endpoint, input.body, {
    ...(countModel === undefined ? {} : { model: countModel }), ...(input.overrides ? { overrides: input.overrides } : {}),
  });
  const maxOut = route.endpoint === 'openai.embeddings' ? undefined : facts.maxOutputTokens;
  const match = model === undefined ? undefined : lookupPrice(model, [], { provider: route.provider, inputTokens: count.tokens });
  const estimate: RequestEstimate = {
    input_tokens: count.tokens, encoding: count.encoding, exact: count.exact, endpoint: route.endpoint, endpoint_from: from,
    model: model ?? null, ...(maxOut === undefined ? {} : { max_output_tokens: maxOut }), estimated_cost_usd: null, price: null,
  };
  if (match) {
    const p = match.price;
    estimate.price = { model: match.matched, input: p.input, cached_input: p.cachedInput, output: p.output, as_of: priceData().released, source: priceDataVersion() };
    estimate.estimated_cost_usd = { input: usd(count.tokens, p.input) };
    if (maxOut !== undefined) estimate.estimated_cost_usd.output_at_max_tokens = usd(maxOut, p.output);
  }
  return { ok: true, estimate };
}
