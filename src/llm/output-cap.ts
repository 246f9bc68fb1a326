/**
 * The output cap of a request in each provider's own field, and a request body with that cap lowered — for budgets
 * that clamp what a request may produce (reservation.output: Clamp). Pure; the body stays the same JSON except the
 * one field (key order kept; a field the request had is rewritten where it is, a new one is appended).
 *
 * Fields: OpenAI chat `max_completion_tokens` (a request's own `max_tokens` is rewritten instead when it has only
 * that; reasoning models reject `max_tokens`), completions `max_tokens`, Responses `max_output_tokens`, Anthropic
 * `max_tokens`, Gemini `generationConfig.maxOutputTokens` (or `generation_config.max_output_tokens` when the request
 * spells it so). Embeddings have no output and no cap.
 */
import type { Endpoint } from './types.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The field a client sets to cap a request's output, as named in messages; undefined for embeddings. */
export function outputCapField(endpoint: Endpoint): string | undefined {
  switch (endpoint) {
    case 'openai.chat': return 'max_completion_tokens';
    case 'openai.completions': return 'max_tokens';
    case 'openai.responses': return 'max_output_tokens';
    case 'openai.embeddings': return undefined;
    case 'anthropic.messages': return 'max_tokens';
    case 'gemini.generate':
    case 'gemini.stream': return 'generationConfig.maxOutputTokens';
  }
}

function geminiWithCap(body: Json, cap: number): Json {
  if (isObject(body.generation_config) && !isObject(body.generationConfig)) {
    const gen = body.generation_config;
    const key = 'maxOutputTokens' in gen && !('max_output_tokens' in gen) ? 'maxOutputTokens' : 'max_output_tokens';
    return { ...body, generation_config: { ...gen, [key]: cap } };
  }
  const gen = isObject(body.generationConfig) ? body.generationConfig : {};
  const key = 'max_output_tokens' in gen && !('maxOutputTokens' in gen) ? 'max_output_tokens' : 'maxOutputTokens';
  return { ...body, generationConfig: { ...gen, [key]: cap } };
}

/** `body` with its output cap set to `cap` in the endpoint's field; undefined when the endpoint has no cap. */
export function withOutputCap(endpoint: Endpoint, body: Json, cap: number): Json | undefined {
  switch (endpoint) {
    case 'openai.chat':
      return 'max_tokens' in body && !('max_completion_tokens' in body) ? { ...body, max_tokens: cap } : { ...body, max_completion_tokens: cap };
    case 'openai.completions':
    case 'anthropic.messages': return { ...body, max_tokens: cap };
    case 'openai.responses': return { ...body, max_output_tokens: cap };
    case 'openai.embeddings': return undefined;
    case 'gemini.generate':
    case 'gemini.stream': return geminiWithCap(body, cap);
  }
}
