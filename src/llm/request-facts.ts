/**
 * What a parsed request body says before it goes upstream: model, stream flag, output cap. Never throws: a body of
 * the wrong shape yields what could be read.
 */
import { withOutputCap } from './output-cap.js';
import type { Route } from './routes.js';
import type { RequestFacts } from './types.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

function outputCap(body: Json): number | undefined {
  const gen = isObject(body.generationConfig) ? body.generationConfig : isObject(body.generation_config) ? body.generation_config : undefined;
  return positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_output_tokens) ?? positiveInt(body.max_tokens)
    ?? (gen ? positiveInt(gen.maxOutputTokens) ?? positiveInt(gen.max_output_tokens) : undefined);
}

export function readRequestFacts(route: Route, body: unknown): RequestFacts {
  const obj = isObject(body) ? body : {};
  const bodyModel = typeof obj.model === 'string' && obj.model.length > 0 ? obj.model : undefined;
  // The body names the model for OpenAI and Anthropic; Gemini and Azure name it (or a deployment) in the path.
  const model = route.provider === 'gemini' ? route.pathModel ?? bodyModel : bodyModel ?? route.pathModel;
  const stream = route.pathStream ?? obj.stream === true;
  const facts: RequestFacts = { stream };
  if (model !== undefined) facts.model = model;
  const cap = outputCap(obj);
  if (cap !== undefined) facts.maxOutputTokens = cap;
  if (route.endpoint === 'openai.chat' && stream) {
    const opts = obj.stream_options;
    facts.includeUsage = isObject(opts) && opts.include_usage === true;
  }
  return facts;
}

/**
 * For an OpenAI streaming chat request that did not ask for usage, the same body with
 * `stream_options.include_usage: true`, so the provider reports exact usage in a final chunk. Returns undefined when
 * nothing needs to change.
 */
export function withStreamUsage(route: Route, body: unknown, facts: RequestFacts): Buffer | undefined {
  return rewrittenBody(route, body, facts, { includeUsage: true });
}

/**
 * The body to forward after what tokenmeter changes: include_usage for OpenAI streaming chat (when `includeUsage`
 * and the request did not ask), and the output cap lowered to `outputCap` (budget clamping). Undefined when nothing
 * changes.
 */
export function rewrittenBody(route: Route, body: unknown, facts: RequestFacts, opts: { includeUsage: boolean; outputCap?: number }): Buffer | undefined {
  if (!isObject(body)) return undefined;
  let out: Json = body;
  let changed = false;
  if (opts.includeUsage && route.endpoint === 'openai.chat' && facts.stream && facts.includeUsage === false) {
    out = { ...out, stream_options: { ...(isObject(out.stream_options) ? out.stream_options : {}), include_usage: true } };
    changed = true;
  }
  if (opts.outputCap !== undefined) {
    const capped = withOutputCap(route.endpoint, out, opts.outputCap);
    if (capped) [out, changed] = [capped, true];
  }
  return changed ? Buffer.from(JSON.stringify(out)) : undefined;
}
