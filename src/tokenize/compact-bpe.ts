/**
 * A byte-pair-encoding counter with a compact in-memory vocabulary, for the data plane's default tokenizer.
 *
 * The rank tables of the JavaScript BPE packages cost 50–60 MB of RSS per encoding once loaded (strings in a Map, plus
 * what parsing a multi-megabyte module leaves behind). This one keeps every token's bytes in one Uint8Array, their
 * offsets in an Int32Array and an open-addressing hash table from bytes to rank: ~5 MB for o200k_base. The vocabulary
 * and pre-tokenizer pattern come from js-tiktoken's rank files (the same data js-tiktoken uses, so the two agree by
 * construction, which the tests check on every recording and on random text).
 *
 * The merge loop is tiktoken's: repeatedly merge the adjacent pair whose concatenation has the lowest rank. Only the
 * number of resulting tokens is kept (counting needs no ids). Special-token strings are ordinary text here.
 */

/** The shape of js-tiktoken's rank files: `pat_str` and lines of `<first> <offset> <b64 token> <b64 token> …`. */
export interface RankFile {
  pat_str: string;
  bpe_ranks: string;
}

const EMPTY = -1;

function fnv1a(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= buf[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const B64 = new Int8Array(128).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) B64[c.charCodeAt(0)] = i;

/** Calls `fn(from, to, rank)` for every base64 token of the rank text (`<first> <offset> <b64> <b64> …` lines). */
function forEachToken(text: string, fn: (from: number, to: number, rank: number) => void): void {
  for (let line = 0; line < text.length; ) {
    let eol = text.indexOf('\n', line);
    if (eol < 0) eol = text.length;
    const first = text.indexOf(' ', line);
    if (first > line && first < eol) {
      let p = first + 1;
      let rank = 0;
      while (p < eol && text.charCodeAt(p) !== 0x20) rank = rank * 10 + text.charCodeAt(p++) - 0x30;
      for (p += 1; p < eol; ) {
        let q = text.indexOf(' ', p);
        if (q < 0 || q > eol) q = eol;
        if (q > p) fn(p, q, rank++);
        p = q + 1;
      }
    }
    line = eol + 1;
  }
}

function decodedLength(text: string, from: number, to: number): number {
  let pad = 0;
  if (text.charCodeAt(to - 1) === 0x3d) pad += 1;
  if (text.charCodeAt(to - 2) === 0x3d) pad += 1;
  return ((to - from) * 3) / 4 - pad;
}

/** Decodes base64 `text[from, to)` into `out` at `at`; returns the new end. */
function decodeBase64(text: string, from: number, to: number, out: Uint8Array, at: number): number {
  let acc = 0;
  let bits = 0;
  for (let i = from; i < to; i++) {
    const v = B64[text.charCodeAt(i)] ?? -1;
    if (v < 0) break; // '=' padding
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  return at;
}

/** Token bytes → rank, in three typed arrays. */
class Vocabulary {
  private readonly bytes: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly ranks: Int32Array;
  private readonly table: Int32Array;
  private readonly mask: number;

  constructor(file: RankFile) {
    // Two passes over the rank text without creating substrings: the transient garbage of a split() into 200k
    // strings costs more RSS (kept by the allocator after GC) than the whole vocabulary.
    const text = file.bpe_ranks;
    let count = 0;
    let total = 0;
    forEachToken(text, (from, to) => {
      count += 1;
      total += decodedLength(text, from, to);
    });
    this.bytes = new Uint8Array(total);
    this.offsets = new Int32Array(count + 1);
    this.ranks = new Int32Array(count);
    let size = 1;
    while (size < count * 2) size <<= 1;
    this.mask = size - 1;
    this.table = new Int32Array(size).fill(EMPTY);
    let i = 0;
    let at = 0;
    forEachToken(text, (from, to, rank) => {
      this.offsets[i] = at;
      at = decodeBase64(text, from, to, this.bytes, at);
      this.ranks[i] = rank;
      i += 1;
    });
    this.offsets[count] = at;
    for (let k = 0; k < count; k++) {
      let slot = fnv1a(this.bytes, this.offsets[k] as number, this.offsets[k + 1] as number) & this.mask;
      while (this.table[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      this.table[slot] = k;
    }
  }

  /** Rank of `buf[start, end)`, or -1 when those bytes are not a token. */
  rank(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    let slot = fnv1a(buf, start, end) & this.mask;
    for (;;) {
      const idx = this.table[slot] as number;
      if (idx === EMPTY) return -1;
      const off = this.offsets[idx] as number;
      if ((this.offsets[idx + 1] as number) - off === len) {
        let same = true;
        for (let k = 0; k < len; k++) {
          if (this.bytes[off + k] !== buf[start + k]) {
            same = false;
            break;
          }
        }
        if (same) return this.ranks[idx] as number;
      }
      slot = (slot + 1) & this.mask;
    }
  }
}

/** Counts BPE tokens with one encoding's vocabulary and pre-tokenizer. */
export class CompactBpe {
  private readonly vocab: Vocabulary;
  private readonly pattern: RegExp;
  private readonly encoder = new TextEncoder();
  private buf = new Uint8Array(1024);
  private bounds = new Int32Array(1025);
  private pairRanks = new Int32Array(1024);
  /** Counts of recently seen pieces (words repeat): cleared when full, so bounded. */
  private readonly cache = new Map<string, number>();

  constructor(file: RankFile) {
    this.vocab = new Vocabulary(file);
    this.pattern = new RegExp(file.pat_str, 'gu');
  }

  count(text: string): number {
    let n = 0;
    this.pattern.lastIndex = 0;
    for (const m of text.matchAll(this.pattern)) n += this.countPiece(m[0]);
    return n;
  }

  private countPiece(piece: string): number {
    const cached = this.cache.get(piece);
    if (cached !== undefined) return cached;
    if (this.buf.length < piece.length * 3) {
      this.buf = new Uint8Array(piece.length * 3);
      this.bounds = new Int32Array(piece.length * 3 + 1);
      this.pairRanks = new Int32Array(piece.length * 3);
    }
    const len = this.encoder.encodeInto(piece, this.buf).written;
    const n = len <= 1 ? len : this.vocab.rank(this.buf, 0, len) >= 0 ? 1 : this.merge(len);
    if (piece.length <= 32) {
      if (this.cache.size >= 8192) this.cache.clear();
      this.cache.set(piece, n);
    }
    return n;
  }

  /**
   * tiktoken's byte_pair_merge over `buf[0, len)`: returns the number of parts left. `b` holds part boundaries and
   * `r` the rank of merging each part with the next (-1: not a token), recomputed only next to a merge.
   */
  private merge(len: number): number {
    const b = this.bounds;
    const r = this.pairRanks;
    let parts = len; // part i spans [b[i], b[i+1])
    for (let i = 0; i <= len; i++) b[i] = i;
    for (let i = 0; i < len - 1; i++) r[i] = this.vocab.rank(this.buf, i, i + 2);
    while (parts > 1) {
      let best = -1;
      let bestRank = 0x7fffffff;
      for (let i = 0; i < parts - 1; i++) {
        const x = r[i] as number;
        if (x >= 0 && x < bestRank) {
          bestRank = x;
          best = i;
        }
      }
      if (best < 0) break;
      b.copyWithin(best + 1, best + 2, parts + 1);
      r.copyWithin(best + 1, best + 2, parts - 1);
      parts -= 1;
      if (best > 0) r[best - 1] = this.vocab.rank(this.buf, b[best - 1] as number, b[best + 1] as number);
      if (best < parts - 1) r[best] = this.vocab.rank(this.buf, b[best] as number, b[best + 2] as number);
    }
    return parts;
  }
}
