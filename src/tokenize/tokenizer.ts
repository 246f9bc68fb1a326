/**
 * Exact OpenAI BPE token counting behind one small interface, with three interchangeable implementations.
 *
 * - `compact` (compact-bpe.ts): the default. tiktoken's merge loop over a vocabulary held in typed arrays, ~5 MB of
 *   RSS per encoding where the packages below take 50–60 MB.
 * - `gpt-tokenizer` (v4, pure JS): the fastest on long text (see bench/tokenizers.ts); kept as a cross-check.
 * - `js-tiktoken` (pure JS port of tiktoken): an independent cross-check; the tests assert all three agree.
 *
 * Special-token strings such as `<|endoftext|>` in user text are counted as ordinary text (never throw):
 * that is what the providers bill, since user content can never inject a control token.
 *
 * `Tokenizer.count` is exact and unbounded: BPE cost is quadratic in the length of one pre-token, so callers
 * that count untrusted text use `countText` / `countTextAsync` (text-count.ts), which bound the work.
 */
import { createRequire } from 'node:module';
import type { Tiktoken, TiktokenBPE } from 'js-tiktoken/lite';
import { CompactBpe, type RankFile } from './compact-bpe.js';

/**
 * Encodings are loaded on first use, not at import: each rank table costs tens of MB of RSS (measured by
 * `npm run bench`, "Memory at rest"), and most deployments only ever see one or two encodings. `require` keeps the
 * first count synchronous (the CommonJS builds of both packages); the module cache shares one copy per process.
 */
const load = createRequire(import.meta.url);
type CountTokens = (text: string, opts: { allowedSpecial: Set<string>; disallowedSpecial: Set<string> }) => number;
const GPT_MODULES: Record<EncodingName, string> = {
  o200k_base: 'gpt-tokenizer/encoding/o200k_base',
  cl100k_base: 'gpt-tokenizer/encoding/cl100k_base',
};
const RANK_MODULES: Record<EncodingName, string> = {
  o200k_base: 'js-tiktoken/ranks/o200k_base',
  cl100k_base: 'js-tiktoken/ranks/cl100k_base',
};

export type EncodingName = 'o200k_base' | 'cl100k_base';
export type TokenizerImpl = 'compact' | 'gpt-tokenizer' | 'js-tiktoken';

export const ENCODINGS: readonly EncodingName[] = ['o200k_base', 'cl100k_base'];
export const TOKENIZER_IMPLS: readonly TokenizerImpl[] = ['compact', 'gpt-tokenizer', 'js-tiktoken'];
/**
 * The data plane's implementation: exact like the others, with a vocabulary of ~5 MB instead of 50–60 MB of RSS per
 * encoding (measured by `npm run bench`, "Memory at rest"; speed in bench/tokenizers.ts).
 */
export const DEFAULT_IMPL: TokenizerImpl = 'compact';

export interface Tokenizer {
  /** `<impl>/<encoding>`, e.g. `gpt-tokenizer/o200k_base`. */
  readonly name: string;
  /** An OpenAI encoding name, or a Gemma vocabulary name (gemini-vocab.ts). */
  readonly encoding: string;
  /** Exact BPE token count of `text`, special-token strings counted as text. Cost is unbounded; see text-count.ts. */
  count(text: string): number;
}

/** No special token is recognised: `<|endoftext|>` is just characters. */
const NO_SPECIAL = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

type LazyTokenizer = Tokenizer & { loaded(): boolean };

function gptTokenizer(encoding: EncodingName): LazyTokenizer {
  let countTokens: CountTokens | undefined;
  const get = (): CountTokens => (countTokens ??= (load(GPT_MODULES[encoding]) as { countTokens: CountTokens }).countTokens);
  return {
    name: `gpt-tokenizer/${encoding}`,
    encoding,
    count: (text: string): number => (text.length === 0 ? 0 : get()(text, NO_SPECIAL)),
    loaded: () => countTokens !== undefined,
  };
}

function jsTiktoken(encoding: EncodingName): LazyTokenizer {
  // Constructing a Tiktoken parses the rank table (~100 ms): do it on first use only.
  let enc: Tiktoken | undefined;
  const get = (): Tiktoken => {
    if (enc) return enc;
    const { Tiktoken: Ctor } = load('js-tiktoken/lite') as { Tiktoken: new (ranks: TiktokenBPE) => Tiktoken };
    const ranks = load(RANK_MODULES[encoding]) as TiktokenBPE | { default: TiktokenBPE };
    enc = new Ctor('bpe_ranks' in ranks ? ranks : ranks.default);
    return enc;
  };
  return {
    name: `js-tiktoken/${encoding}`,
    encoding,
    count: (text: string): number => (text.length === 0 ? 0 : get().encode(text, [], []).length),
    loaded: () => enc !== undefined,
  };
}

function compact(encoding: EncodingName): LazyTokenizer {
  let bpe: CompactBpe | undefined;
  const get = (): CompactBpe => {
    if (bpe) return bpe;
    const ranks = load(RANK_MODULES[encoding]) as RankFile | { default: RankFile };
    bpe = new CompactBpe('bpe_ranks' in ranks ? ranks : ranks.default);
    // The 2–3 MB rank text is not needed once compacted: drop it from the module cache so it can be collected.
    delete load.cache[load.resolve(RANK_MODULES[encoding])];
    return bpe;
  };
  return {
    name: `compact/${encoding}`,
    encoding,
    count: (text: string): number => (text.length === 0 ? 0 : get().count(text)),
    loaded: () => bpe !== undefined,
  };
}

/** One instance per implementation and encoding, shared by every caller (the rank tables are large). */
const cache = new Map<string, LazyTokenizer>();

/** Which encodings this process has loaded so far (`impl/encoding`), for the memory probe and /v1/models. */
export function loadedEncodings(): string[] {
  const loaded: string[] = [];
  for (const [key, tok] of cache) if (tok.loaded()) loaded.push(key);
  return loaded;
}

/** A tokenizer for `encoding` using implementation `impl` (default: the fastest exact one). Instances are cached. */
export function createTokenizer(encoding: EncodingName, impl: TokenizerImpl = DEFAULT_IMPL): Tokenizer {
  const key = `${impl}/${encoding}`;
  let tok = cache.get(key);
  if (tok === undefined) {
    tok = impl === 'js-tiktoken' ? jsTiktoken(encoding) : impl === 'gpt-tokenizer' ? gptTokenizer(encoding) : compact(encoding);
    cache.set(key, tok);
  }
  return tok;
}

export function isEncodingName(value: unknown): value is EncodingName {
  return value === 'o200k_base' || value === 'cl100k_base';
}
