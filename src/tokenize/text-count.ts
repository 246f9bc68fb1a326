/**
 * Bounded-cost token counting of untrusted text.
 *
 * BPE merges are quadratic in the length of one pre-token, and a pre-token never spans a whitespace/non-whitespace
 * boundary, so the cost is bounded by cutting every run of non-whitespace (or of whitespace) longer than `maxRun`
 * characters into `maxRun`-sized pieces and counting them separately. Text without such runs (ordinary prose, code,
 * JSON) is counted exactly; when a run had to be cut the count is an estimate (`estimated: true`) — typically within
 * a few tokens per cut of the exact value (base64, minified code, 'aaaa…').
 *
 * `countTextAsync` additionally slices long text and yields to the event loop (setImmediate) whenever it has used
 * its time budget, so counting a 1 MB body does not delay other requests by more than ~budgetMs. Slices are cut at
 * pre-token boundaries that are provably safe for the o200k/cl100k pre-tokenizers (see `findSafeCut`), so slicing
 * alone never changes the count.
 */
import type { Tokenizer } from './tokenizer.js';

export interface TextCount {
  tokens: number;
  /** true when long runs were cut (or a slice had to be cut at an unsafe point): the count is an estimate. */
  estimated: boolean;
}

/** Longest whitespace-free (or whitespace-only) run counted as one piece. 1 MB of 'a' counts in ~0.2 s. */
export const DEFAULT_MAX_RUN = 256;

/** \s as in JS regular expressions, as a lookup table over UTF-16 code units (fast in the scan loop). */
const SPACE = new Uint8Array(65536);
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff]) SPACE[c] = 1;
for (let c = 0x2000; c <= 0x200a; c++) SPACE[c] = 1;

/**
 * Cut a long run into pieces of at most `maxRun` UTF-16 units: at the last safe cut of each window when there is one
 * (compact JSON, URLs, base64 have many: the count stays exact), otherwise at the window's end (never between the
 * halves of a surrogate pair), which makes the count an estimate.
 */
function countLongRun(tok: Tokenizer, run: string, maxRun: number): TextCount {
  let tokens = 0;
  let estimated = false;
  for (let i = 0; i < run.length; ) {
    let end = Math.min(i + maxRun, run.length);
    if (end < run.length) {
      const cut = lastSafeCut(run, i + 1, end);
      if (cut > i) end = cut;
      else {
        estimated = true;
        const c = run.charCodeAt(end - 1);
        if (c >= 0xd800 && c <= 0xdbff && end - 1 > i) end -= 1;
      }
    }
    tokens += tok.count(run.slice(i, end));
    i = end;
  }
  return { tokens, estimated };
}

/** Exact count when no run exceeds `maxRun`; otherwise long runs are cut and the result is an estimate. */
export function countText(tok: Tokenizer, text: string, maxRun: number = DEFAULT_MAX_RUN): TextCount {
  if (text.length <= maxRun) return { tokens: tok.count(text), estimated: false };
  let tokens = 0;
  let estimated = false;
  let segStart = 0; // start of the not-yet-counted segment
  const n = text.length;
  for (let i = 0; i < n; ) {
    const runStart = i;
    if (SPACE[text.charCodeAt(i++)] === 1) while (i < n && SPACE[text.charCodeAt(i)] === 1) i++;
    else while (i < n && SPACE[text.charCodeAt(i)] !== 1) i++;
    if (i - runStart > maxRun) {
      tokens += tok.count(text.slice(segStart, runStart));
      const run = countLongRun(tok, text.slice(runStart, i), maxRun);
      tokens += run.tokens;
      estimated ||= run.estimated;
      segStart = i;
    }
  }
  if (segStart === 0) return { tokens: tok.count(text), estimated: false };
  tokens += tok.count(text.slice(segStart));
  return { tokens, estimated };
}

const isAsciiAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
const isAsciiAlpha = (c: number): boolean => (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
/** ASCII punctuation and symbols: ! " # … / : … @ [ … ` { … ~ */
const isAsciiPunct = (c: number): boolean => (c >= 0x21 && c <= 0x7e) && !isAsciiAlnum(c);

/**
 * Is there a pre-token boundary before index `i` whatever the rest of the text, for both o200k and cl100k?
 * - `…x| y…` (ASCII letter/digit, then one space, then an ASCII letter): letter/digit runs stop at the space, and the
 *   space is the optional one-character prefix of the next word;
 * - `…\n|x…` (newline, then an ASCII letter or digit): newline runs stop at the letter and a word's optional prefix
 *   excludes \r and \n;
 * - `…x|"…` (ASCII letter, then ASCII punctuation other than the apostrophe): a word run ends at its last letter
 *   unless a contraction ('s, 't, …) follows, and punctuation starts a run (or prefixes the next word) of its own.
 *   This is what keeps compact JSON exact: `{"type":"object"}` has such a cut after every key and value.
 * Pre-tokenization restarted at such a boundary matches exactly what it matched in the whole text, so counting the
 * two sides separately is exact.
 */
function isSafeCut(text: string, i: number): boolean {
  const prev = text.charCodeAt(i - 1);
  const cur = text.charCodeAt(i);
  if (cur === 0x20) return isAsciiAlnum(prev) && isAsciiAlpha(text.charCodeAt(i + 1));
  if (isAsciiAlpha(prev)) return isAsciiPunct(cur) && cur !== 0x27;
  return prev === 0x0a && isAsciiAlnum(cur);
}

/** The last safe cut in (from, to], or -1. */
function lastSafeCut(text: string, from: number, to: number): number {
  for (let i = to; i > from; i--) if (isSafeCut(text, i)) return i;
  return -1;
}

/** The first safe cut at or after `from` within `window` characters, or -1. */
export function findSafeCut(text: string, from: number, window: number): number {
  const end = Math.min(text.length - 1, from + window);
  for (let i = Math.max(1, from); i < end; i++) if (isSafeCut(text, i)) return i;
  return -1;
}

/** Yields to the event loop once `budgetMs` of synchronous work has elapsed since the last yield. */
export class Yielder {
  private last = performance.now();
  constructor(private readonly budgetMs: number = 4) {}
  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < this.budgetMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

export interface AsyncCountOptions {
  maxRun?: number;
  /** Characters per slice (default 8192; ~1 ms of work). */
  sliceChars?: number;
  /** Synchronous work allowed between yields (default 4 ms). */
  budgetMs?: number;
}

/** Same result as `countText` for text whose slices fall on safe cuts (nearly all text); never blocks for long. */
export async function countTextAsync(
  tok: Tokenizer,
  text: string,
  opts: AsyncCountOptions = {},
  yielder: Yielder = new Yielder(opts.budgetMs),
): Promise<TextCount> {
  const maxRun = opts.maxRun ?? DEFAULT_MAX_RUN;
  const slice = Math.max(opts.sliceChars ?? 8192, maxRun * 4);
  let tokens = 0;
  let estimated = false;
  for (let start = 0; start < text.length; ) {
    await yielder.maybeYield();
    let end = text.length;
    if (text.length - start > slice) {
      end = findSafeCut(text, start + slice, slice);
      if (end < 0) {
        end = start + slice;
        const c = text.charCodeAt(end - 1);
        if (c >= 0xd800 && c <= 0xdbff) end -= 1;
        estimated = true;
      }
    }
    const part = countText(tok, text.slice(start, end), maxRun);
    tokens += part.tokens;
    estimated ||= part.estimated;
    start = end;
  }
  return { tokens, estimated };
}
