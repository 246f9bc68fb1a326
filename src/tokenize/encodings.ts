/**
 * Model name → BPE encoding, and the small per-model differences of OpenAI's chat format.
 *
 * Names are normalised first: lower-cased, a provider/router prefix dropped (`openai/gpt-4o`, `azure/…`,
 * `models/…`), an OpenRouter-style `:variant` suffix dropped, and a date suffix dropped (`-2024-08-06`, `-0613`,
 * `-20240620`). Unknown models use DEFAULT_ENCODING (o200k_base, the encoding of every OpenAI model since
 * gpt-4o); callers that know better inject `overrides` (config: model name or Azure deployment → encoding).
 */
import type { EncodingName } from './tokenizer.js';

/** Used for models this table does not know (and for estimates of non-OpenAI models). */
export const DEFAULT_ENCODING: EncodingName = 'o200k_base';

/** Config-injected model (or Azure deployment) name → encoding. Keys are matched after normalisation too. */
export type EncodingOverrides = Readonly<Record<string, EncodingName>>;

export function normalizeModel(model: string): string {
  let m = model.trim().toLowerCase();
  const slash = m.lastIndexOf('/');
  if (slash >= 0) m = m.slice(slash + 1);
  const colon = m.indexOf(':');
  if (colon > 0 && !m.startsWith('ft:')) m = m.slice(0, colon);
  if (m.startsWith('ft:')) m = m.slice(3).split(':')[0] ?? m; // fine-tunes: ft:gpt-4o-mini-2024-07-18:org::id
  return m.replace(/-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$/, '');
}

const O200K = [/^gpt-4o/, /^gpt-4\.1/, /^gpt-4\.5/, /^gpt-5/, /^gpt-oss/, /^o1/, /^o3/, /^o4/, /^chatgpt-4o/, /^omni-moderation/,
  /^codex-/, /^computer-use/, /^gpt-realtime/, /^gpt-audio/, /^gpt-image/];
const CL100K = [/^gpt-4(-|$)/, /^gpt-35/, /^gpt-3\.5/, /^text-embedding-3-/, /^text-embedding-ada-002/];

/** The encoding of a known OpenAI model, or undefined when the name is not recognised. */
export function knownEncoding(model: string): EncodingName | undefined {
  const m = normalizeModel(model);
  if (O200K.some((re) => re.test(m))) return 'o200k_base';
  if (CL100K.some((re) => re.test(m))) return 'cl100k_base';
  return undefined;
}

function override(model: string, overrides: EncodingOverrides | undefined): EncodingName | undefined {
  if (overrides === undefined) return undefined;
  return Object.hasOwn(overrides, model) ? overrides[model] : Object.hasOwn(overrides, normalizeModel(model))
    ? overrides[normalizeModel(model)] : undefined;
}

export interface ResolvedEncoding {
  encoding: EncodingName;
  /** true when the model is a known OpenAI model or named in overrides (so an OpenAI-format count can be exact). */
  known: boolean;
}

/** Encoding for `model` (overrides first, then the table, then DEFAULT_ENCODING). */
export function resolveEncoding(model: string | undefined, overrides?: EncodingOverrides): ResolvedEncoding {
  if (model === undefined || model === '') return { encoding: DEFAULT_ENCODING, known: false };
  const o = override(model, overrides);
  if (o !== undefined) return { encoding: o, known: true };
  const k = knownEncoding(model);
  return k === undefined ? { encoding: DEFAULT_ENCODING, known: false } : { encoding: k, known: true };
}

export function encodingForModel(model: string | undefined, overrides?: EncodingOverrides): EncodingName {
  return resolveEncoding(model, overrides).encoding;
}

/**
 * Tokens that prime the assistant's reply at the end of a chat prompt. gpt-4o-era ChatML renders
 * `<|im_start|>assistant<|im_sep|>` (3 tokens); gpt-5 and later (and gpt-oss) use the harmony format,
 * `<|start|>assistant` (2 tokens) — verified on the recorded gpt-5-nano / gpt-5 / gpt-5.5 exchanges, and on o3-mini
 * (pyd_o3-mini_hello) and o4-mini (pyd_o4-mini_system); o1 is assumed to be like them (not recorded).
 */
export function replyPrimingTokens(model: string | undefined): number {
  if (model === undefined) return 3;
  const m = normalizeModel(model);
  return /^(gpt-5|gpt-oss|o1|o3|o4)/.test(m) ? 2 : 3;
}
