/**
 * Exact OpenAI BPE token counting behind one small interface, with two interchangeable implementations.
 *
 * - `gpt-tokenizer` (v4, pure JS): the default. Fastest exact implementation measured on Node 20
 *   (see bench/tokenizers.ts: ~12 MB/s prose vs ~2 MB/s for js-tiktoken, and js-tiktoken is pathologically
 *   slow on long CJK runs).
 * - `js-tiktoken` (pure JS port of tiktoken): kept as an independent cross-check; the tests assert both agree.
 *
 * Special-token strings such as `<|endoftext|>` in user text are counted as ordinary text (never throw):
 * that is what the providers bill, since user content can never inject a control token.
 *
 * `Tokenizer.count` is exact and unbounded: BPE cost is quadratic in the length of one pre-token, so callers
 * that count untrusted text use `countText` / `countTextAsync` (text-count.ts), which bound the work.
 */
import { countTokens as gptO200kCount } from 'gpt-tokenizer/encoding/o200k_base';
import { countTokens as gptCl100kCount } from 'gpt-tokenizer/encoding/cl100k_base';
import { Tiktoken } from 'js-tiktoken/lite';
import o200kRanks from 'js-tiktoken/ranks/o200k_base';
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base';

export type EncodingName = 'o200k_base' | 'cl100k_base';
export type TokenizerImpl = 'gpt-tokenizer' | 'js-tiktoken';

export const ENCODINGS: readonly EncodingName[] = ['o200k_base', 'cl100k_base'];
export const TOKENIZER_IMPLS: readonly TokenizerImpl[] = ['gpt-tokenizer', 'js-tiktoken'];
/** The fastest exact implementation (measured; see bench/tokenizers.ts). */
export const DEFAULT_IMPL: TokenizerImpl = 'gpt-tokenizer';

export interface Tokenizer {
  /** `<impl>/<encoding>`, e.g. `gpt-tokenizer/o200k_base`. */
  readonly name: string;
  readonly encoding: EncodingName;
  /** Exact BPE token count of `text`, special-token strings counted as text. Cost is unbounded; see text-count.ts. */
  count(text: string): number;
}

/** No special token is recognised: `<|endoftext|>` is just characters. */
const NO_SPECIAL = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

function gptTokenizer(encoding: EncodingName): Tokenizer {
  const countTokens = encoding === 'o200k_base' ? gptO200kCount : gptCl100kCount;
  return {
    name: `gpt-tokenizer/${encoding}`,
    encoding,
    count: (text: string): number => (text.length === 0 ? 0 : countTokens(text, NO_SPECIAL)),
  };
}

function jsTiktoken(encoding: EncodingName): Tokenizer {
  // Constructing a Tiktoken parses the rank table (~100 ms): do it on first use only.
  let enc: Tiktoken | undefined;
  const get = (): Tiktoken => (enc ??= new Tiktoken(encoding === 'o200k_base' ? o200kRanks : cl100kRanks));
  return {
    name: `js-tiktoken/${encoding}`,
    encoding,
    count: (text: string): number => (text.length === 0 ? 0 : get().encode(text, [], []).length),
  };
}

const cache = new Map<string, Tokenizer>();

/** A tokenizer for `encoding` using implementation `impl` (default: the fastest exact one). Instances are cached. */
export function createTokenizer(encoding: EncodingName, impl: TokenizerImpl = DEFAULT_IMPL): Tokenizer {
  const key = `${impl}/${encoding}`;
  let tok = cache.get(key);
  if (tok === undefined) {
    tok = impl === 'js-tiktoken' ? jsTiktoken(encoding) : gptTokenizer(encoding);
    cache.set(key, tok);
  }
  return tok;
}

export function isEncodingName(value: unknown): value is EncodingName {
  return value === 'o200k_base' || value === 'cl100k_base';
}
