/**
 * Counts tokens with a Gemma SentencePiece-BPE vocabulary (the vocabulary Google ships with Gemma, which Gemini
 * models tokenize with), exactly as the Hugging Face `tokenizers` BPE model the vocabulary was converted to does:
 *
 * 1. added tokens (`<start_of_turn>`, newline runs, HTML tags, …) are matched in the raw text first, one token each;
 * 2. the rest is normalised (' ' → '▁') and split into characters; a character that is not a piece falls back to
 *    its UTF-8 bytes (one `<0xNN>` token per byte);
 * 3. adjacent symbols are merged by the merge list, lowest rank first (leftmost on ties), until no merge applies.
 *
 * The vocabulary is read from a compact file (vocab/*.spbpe.gz, see scripts/import-gemma-vocab.mjs) into typed
 * arrays: ~20 MB of RSS per vocabulary. Only the number of tokens is computed.
 */
import { gunzipSync } from 'node:zlib';

const MAGIC = 'SPBPE1\n';
const EMPTY = -1;

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

function fnv1a(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  return h >>> 0;
}

function tableSize(n: number): number {
  let size = 1;
  while (size < n * 2) size <<= 1;
  return size;
}

/** The parsed file: pieces (bytes + offsets), piece → id, (left, right) → merge rank, and the added tokens. */
class SpVocabulary {
  readonly pieces: Uint8Array;
  readonly offsets: Uint32Array;
  private readonly pieceTable: Int32Array;
  private readonly pieceMask: number;
  /** Merge keyed by left·2^20 + right; the table holds the rank, `mergeLeft/Right/Result` are indexed by rank. */
  private readonly mergeTable: Int32Array;
  private readonly mergeMask: number;
  private readonly mergeLeft: Int32Array;
  private readonly mergeRight: Int32Array;
  readonly mergeResult: Int32Array;
  readonly added: string[];

  constructor(data: Buffer) {
    if (data.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error('not a SentencePiece-BPE vocabulary file');
    let at = MAGIC.length;
    const u32 = (): number => {
      const v = data.readUInt32LE(at);
      at += 4;
      return v;
    };
    const count = u32();
    const byteLength = u32();
    this.pieces = data.subarray(at, at + byteLength);
    at += byteLength;
    this.offsets = new Uint32Array(count + 1);
    for (let i = 0; i <= count; i++) this.offsets[i] = u32();
    const mergeCount = u32();
    this.mergeLeft = new Int32Array(mergeCount);
    this.mergeRight = new Int32Array(mergeCount);
    for (let i = 0; i < mergeCount; i++) {
      this.mergeLeft[i] = data.readInt32LE(at);
      this.mergeRight[i] = data.readInt32LE(at + 4);
      at += 8;
    }
    const addedCount = u32();
    this.added = [];
    for (let i = 0; i < addedCount; i++) this.added.push(this.piece(data.readInt32LE(at + 4 * i)));

    let size = tableSize(count);
    this.pieceMask = size - 1;
    this.pieceTable = new Int32Array(size).fill(EMPTY);
    for (let id = 0; id < count; id++) {
      let slot = fnv1a(this.pieces, this.offsets[id] as number, this.offsets[id + 1] as number) & this.pieceMask;
      while (this.pieceTable[slot] !== EMPTY) slot = (slot + 1) & this.pieceMask;
      this.pieceTable[slot] = id;
    }
    size = tableSize(mergeCount);
    this.mergeMask = size - 1;
    this.mergeTable = new Int32Array(size).fill(EMPTY);
    this.mergeResult = new Int32Array(mergeCount);
    for (let rank = 0; rank < mergeCount; rank++) {
      const l = this.mergeLeft[rank] as number;
      const r = this.mergeRight[rank] as number;
      let slot = mix(l, r) & this.mergeMask;
      while (this.mergeTable[slot] !== EMPTY) slot = (slot + 1) & this.mergeMask;
      this.mergeTable[slot] = rank;
      this.mergeResult[rank] = this.concatId(l, r);
    }
  }

  piece(id: number): string {
    return Buffer.from(this.pieces.subarray(this.offsets[id], this.offsets[id + 1])).toString('utf8');
  }

  /** Id of the piece whose bytes are `buf[start, end)`, or -1. */
  id(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    let slot = fnv1a(buf, start, end) & this.pieceMask;
    for (;;) {
      const id = this.pieceTable[slot] as number;
      if (id === EMPTY) return -1;
      const off = this.offsets[id] as number;
      if ((this.offsets[id + 1] as number) - off === len && this.sameBytes(off, buf, start, len)) return id;
      slot = (slot + 1) & this.pieceMask;
    }
  }

  private sameBytes(off: number, buf: Uint8Array, start: number, len: number): boolean {
    for (let k = 0; k < len; k++) if (this.pieces[off + k] !== buf[start + k]) return false;
    return true;
  }

  private concatId(l: number, r: number): number {
    const a = this.pieces.subarray(this.offsets[l], this.offsets[l + 1]);
    const b = this.pieces.subarray(this.offsets[r], this.offsets[r + 1]);
    const joined = new Uint8Array(a.length + b.length);
    joined.set(a);
    joined.set(b, a.length);
    return this.id(joined, 0, joined.length);
  }

  /** Rank of merging `l` then `r`, or -1. */
  rank(l: number, r: number): number {
    if (l < 0 || r < 0) return -1;
    let slot = mix(l, r) & this.mergeMask;
    for (;;) {
      const rank = this.mergeTable[slot] as number;
      if (rank === EMPTY) return -1;
      if (this.mergeLeft[rank] === l && this.mergeRight[rank] === r) return rank;
      slot = (slot + 1) & this.mergeMask;
    }
  }
}

/** A min-heap of merge candidates ordered by (rank, position), stored in parallel typed arrays. */
class CandidateHeap {
  private rank = new Int32Array(64);
  private pos = new Int32Array(64);
  size = 0;

  clear(): void {
    this.size = 0;
  }

  private less(i: number, j: number): boolean {
    const a = this.rank[i] as number;
    const b = this.rank[j] as number;
    return a < b || (a === b && (this.pos[i] as number) < (this.pos[j] as number));
  }

  private swap(i: number, j: number): void {
    const r = this.rank[i] as number;
    const p = this.pos[i] as number;
    this.rank[i] = this.rank[j] as number;
    this.pos[i] = this.pos[j] as number;
    this.rank[j] = r;
    this.pos[j] = p;
  }

  push(rank: number, pos: number): void {
    if (this.size === this.rank.length) {
      const rank = new Int32Array(this.rank.length * 2);
      const pos = new Int32Array(this.pos.length * 2);
      rank.set(this.rank);
      pos.set(this.pos);
      this.rank = rank;
      this.pos = pos;
    }
    let i = this.size++;
    this.rank[i] = rank;
    this.pos[i] = pos;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the smallest entry; returns its [rank, pos] through `out`. */
  pop(out: Int32Array): void {
    out[0] = this.rank[0] as number;
    out[1] = this.pos[0] as number;
    this.size -= 1;
    if (this.size === 0) return;
    this.rank[0] = this.rank[this.size] as number;
    this.pos[0] = this.pos[this.size] as number;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.less(l, m)) m = l;
      if (r < this.size && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** Token counter over one Gemma vocabulary. */
export class SentencePieceBpe {
  private readonly vocab: SpVocabulary;
  private readonly addedPattern: RegExp | undefined;
  private readonly encoder = new TextEncoder();
  private readonly heap = new CandidateHeap();
  private readonly top = new Int32Array(2);
  private buf = new Uint8Array(1024);
  private ids = new Int32Array(256);
  private lens = new Int32Array(256);
  private next = new Int32Array(256);
  private prev = new Int32Array(256);
  private readonly cache = new Map<string, number>();

  constructor(gz: Buffer) {
    this.vocab = new SpVocabulary(gunzipSync(gz));
    const added = [...this.vocab.added].filter((t) => t.length > 0).sort((a, b) => b.length - a.length);
    this.addedPattern = added.length > 0 ? new RegExp(added.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  count(text: string): number {
    if (text.length === 0) return 0;
    if (this.addedPattern === undefined) return this.countSegment(text);
    let n = 0;
    let from = 0;
    this.addedPattern.lastIndex = 0;
    for (const m of text.matchAll(this.addedPattern)) {
      n += this.countSegment(text.slice(from, m.index)) + 1;
      from = m.index + m[0].length;
    }
    return n + this.countSegment(text.slice(from));
  }

  private ensure(chars: number): void {
    if (this.ids.length >= chars) return;
    this.ids = new Int32Array(chars);
    this.lens = new Int32Array(chars);
    this.next = new Int32Array(chars);
    this.prev = new Int32Array(chars);
  }

  /**
   * One segment without added tokens, cut into words before every '▁' that follows another character: no piece of
   * these vocabularies has a '▁' after another character (checked when a vocabulary is imported; the one exception,
   * Gemma 3's `>▁</`, is why a '▁' after '>' does not cut), so no merge crosses a cut and counting words separately
   * is exact. Words repeat: their counts are cached (bounded).
   */
  private countSegment(raw: string): number {
    if (raw.length === 0) return 0;
    const text = raw.replaceAll(' ', '\u2581');
    let n = 0;
    let from = 0;
    for (let i = 1; i < text.length; i++) {
      if (text.charCodeAt(i) !== 0x2581) continue;
      const before = text.charCodeAt(i - 1);
      if (before === 0x2581 || before === 0x3e) continue;
      n += this.countWord(text.slice(from, i));
      from = i;
    }
    return n + this.countWord(text.slice(from));
  }

  private countWord(text: string): number {
    const cached = this.cache.get(text);
    if (cached !== undefined) return cached;
    const n = this.merge(text);
    if (text.length <= 32) {
      if (this.cache.size >= 8192) this.cache.clear();
      this.cache.set(text, n);
    }
    return n;
  }

  /** BPE over one normalised word. */
  private merge(text: string): number {
    if (this.buf.length < text.length * 3) this.buf = new Uint8Array(text.length * 3);
    this.ensure(text.length);
    const v = this.vocab;
    // Symbols: one per code point, `ids` = piece id or -1, `lens` = UTF-8 length (byte fallback count).
    let n = 0;
    for (const ch of text) {
      const len = this.encoder.encodeInto(ch, this.buf).written;
      this.ids[n] = v.id(this.buf, 0, len);
      this.lens[n] = len;
      this.prev[n] = n - 1;
      this.next[n] = n + 1;
      n += 1;
    }
    this.heap.clear();
    for (let i = 0; i + 1 < n; i++) {
      const r = v.rank(this.ids[i] as number, this.ids[i + 1] as number);
      if (r >= 0) this.heap.push(r, i);
    }
    let alive = n;
    while (this.heap.size > 0) {
      this.heap.pop(this.top);
      const [rank, i] = [this.top[0] as number, this.top[1] as number];
      const j = this.next[i] as number;
      // Stale entry: i was merged away or its right neighbour changed since it was pushed.
      if (this.lens[i] === 0 || j >= n || v.rank(this.ids[i] as number, this.ids[j] as number) !== rank) continue;
      this.ids[i] = v.mergeResult[rank] as number;
      this.lens[i] = (this.lens[i] as number) + (this.lens[j] as number);
      this.lens[j] = 0;
      const k = this.next[j] as number;
      this.next[i] = k;
      if (k < n) this.prev[k] = i;
      alive -= 1;
      const p = this.prev[i] as number;
      if (p >= 0) {
        const r = v.rank(this.ids[p] as number, this.ids[i]);
        if (r >= 0) this.heap.push(r, p);
      }
      if (k < n) {
        const r = v.rank(this.ids[i], this.ids[k] as number);
        if (r >= 0) this.heap.push(r, i);
      }
    }
    // Unknown characters fall back to one token per UTF-8 byte.
    let tokens = alive;
    for (let i = 0; i < n; i = this.next[i] as number) if (this.ids[i] === -1) tokens += (this.lens[i] as number) - 1;
    return tokens;
  }
}
