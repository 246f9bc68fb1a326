/**
 * Tokenizer throughput (MB/s of UTF-8 input) on ~1 MB of deterministic prose, code and CJK text, per library and
 * encoding, plus whether each library's counts equal the reference (gpt-tokenizer) on every corpus. Candidates:
 * tokenmeter's compact BPE (the default), gpt-tokenizer and js-tiktoken (dependencies), ai-tokenizer and @microsoft/tiktokenizer (devDependencies, loaded
 * offline: the latter is built from js-tiktoken's bundled ranks instead of downloading a .tiktoken file), and
 * tokenmeter's bounded `countText` over the default implementation. A library too slow to finish a corpus within
 * ~3 s is measured on a prefix (`*` in the table).
 */
import { countText } from '../src/tokenize/text-count.js';
import { createTokenizer, ENCODINGS, type EncodingName } from '../src/tokenize/tokenizer.js';

export interface Row {
  library: string;
  encoding: EncodingName;
  /** MB/s; a string ending in `*` when measured on a prefix. */
  prose: string;
  code: string;
  cjk: string;
  /** Counts equal the reference on all three corpora. */
  exact: string;
}

type Count = (text: string) => number;
interface Candidate {
  library: string;
  encoding: EncodingName;
  count: Count;
}

const CORPUS_CHARS = 1_000_000;

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

export function corpora(chars = CORPUS_CHARS): Record<'prose' | 'code' | 'cjk', string> {
  const r = rng(42);
  const words = ['the', 'meter', 'counts', 'every', 'token', 'before', 'request', 'leaves', 'proxy', 'and', 'after', 'response',
    'streams', 'back', 'with', 'usage', 'Envoy', 'filter', 'budget', 'limits', 'are', 'enforced', 'per', 'tenant', 'model', 'of'];
  const prose: string[] = [];
  for (let n = 0, i = 0; n < chars; i++) {
    const w = pick(r, words) + (r() < 0.08 ? '. ' : r() < 0.1 ? ', ' : ' ') + (i % 120 === 119 ? '\n\n' : '');
    prose.push(i % 12 === 0 ? w[0]?.toUpperCase() + w.slice(1) : w);
    n += w.length;
  }
  const idents = ['count', 'tokens', 'body', 'ctx', 'stream', 'usage', 'i', 'len', 'result', 'encoder', 'meter'];
  const code: string[] = [];
  for (let n = 0; n < chars; ) {
    const a = pick(r, idents);
    const b = pick(r, idents);
    const line = pick(r, [
      `  const ${a}${Math.floor(r() * 99)} = ${b}.map((x) => x * ${Math.floor(r() * 1000)});\n`,
      `  if (${a} !== undefined && ${b}.length > ${Math.floor(r() * 64)}) {\n    return ${a};\n  }\n`,
      `export function ${a}_${b}(${a}: number, ${b}: string): Promise<void> {\n`,
      `  // ${pick(r, words)} ${pick(r, words)} ${pick(r, words)}\n`,
      `  ${a}[${b}] = { "${a}": ${r().toFixed(3)}, "${b}": [${Math.floor(r() * 9)}, null, true] };\n`,
    ]);
    code.push(line);
    n += line.length;
  }
  const cjk: string[] = [];
  const cjkChars = '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明';
  while (cjk.length < chars / 3) {
    cjk.push(pick(r, [...cjkChars]));
    if (r() < 0.06) cjk.push(pick(r, ['，', '。', '、', '：', '！', '\n']));
  }
  return { prose: prose.join(''), code: code.join(''), cjk: cjk.join('') };
}

async function optionalCandidates(encoding: EncodingName): Promise<Candidate[]> {
  const out: Candidate[] = [];
  try {
    const { Tokenizer } = await import('ai-tokenizer');
    const data = encoding === 'o200k_base' ? await import('ai-tokenizer/encoding/o200k_base') : await import('ai-tokenizer/encoding/cl100k_base');
    const tok = new Tokenizer(data);
    out.push({ library: 'ai-tokenizer', encoding, count: (t) => tok.encode(t, [], []).length });
  } catch {
    // not installed
  }
  try {
    const { createTokenizer: createMs } = await import('@microsoft/tiktokenizer');
    const ranks = encoding === 'o200k_base' ? (await import('js-tiktoken/ranks/o200k_base')).default : (await import('js-tiktoken/ranks/cl100k_base')).default;
    const dict = new Map<Uint8Array, number>();
    for (const line of ranks.bpe_ranks.split('\n')) {
      const [, offset, ...tokens] = line.split(' ');
      if (offset === undefined) continue;
      tokens.forEach((t, i) => dict.set(new Uint8Array(Buffer.from(t, 'base64')), Number.parseInt(offset, 10) + i));
    }
    const tok = createMs(dict, new Map(Object.entries(ranks.special_tokens)), ranks.pat_str);
    out.push({ library: '@microsoft/tiktokenizer', encoding, count: (t) => tok.encode(t, []).length });
  } catch {
    // not installed
  }
  return out;
}

async function candidates(encoding: EncodingName): Promise<Candidate[]> {
  const gpt = createTokenizer(encoding, 'gpt-tokenizer');
  const tik = createTokenizer(encoding, 'js-tiktoken');
  const compact = createTokenizer(encoding, 'compact');
  return [
    { library: 'tokenmeter compact (default)', encoding, count: (t) => compact.count(t) },
    { library: 'gpt-tokenizer', encoding, count: (t) => gpt.count(t) },
    { library: 'js-tiktoken', encoding, count: (t) => tik.count(t) },
    ...(await optionalCandidates(encoding)),
    { library: 'tokenmeter countText', encoding, count: (t) => countText(compact, t).tokens },
  ];
}

interface Measure {
  mbPerSec: number;
  sampled: boolean;
  tokens: number;
}

function measure(count: Count, text: string, budgetMs = 3000): Measure {
  count(text.slice(0, 20_000)); // warm-up (lazy rank loading, JIT)
  const probe = text.slice(0, 50_000);
  let t0 = performance.now();
  count(probe);
  const probeMs = Math.max(0.01, performance.now() - t0);
  const sampled = (probeMs * text.length) / probe.length > budgetMs;
  const input = sampled ? text.slice(0, Math.max(probe.length, Math.floor((probe.length * budgetMs) / probeMs / 4))) : text;
  t0 = performance.now();
  const tokens = count(input);
  const ms = performance.now() - t0;
  return { mbPerSec: Buffer.byteLength(input) / 1e6 / (ms / 1000), sampled, tokens: sampled ? -1 : tokens };
}

const fmt = (m: Measure): string => m.mbPerSec.toFixed(2) + (m.sampled ? '*' : '');

export async function benchTokenizers(): Promise<Row[]> {
  const texts = corpora();
  const rows: Row[] = [];
  for (const encoding of ENCODINGS) {
    const ref = createTokenizer(encoding, 'gpt-tokenizer');
    const expected = { prose: ref.count(texts.prose), code: ref.count(texts.code), cjk: ref.count(texts.cjk) };
    for (const c of await candidates(encoding)) {
      const m = { prose: measure(c.count, texts.prose), code: measure(c.count, texts.code), cjk: measure(c.count, texts.cjk) };
      const exact = (['prose', 'code', 'cjk'] as const).every((k) => m[k].tokens === -1 || m[k].tokens === expected[k]);
      const sampledAll = (['prose', 'code', 'cjk'] as const).every((k) => m[k].sampled);
      rows.push({ library: c.library, encoding, prose: fmt(m.prose), code: fmt(m.code), cjk: fmt(m.cjk), exact: sampledAll ? '?' : exact ? 'yes' : 'NO' });
    }
  }
  return rows;
}

/** A Markdown table of the rows. */
export function formatTokenizerTable(rows: readonly Row[]): string {
  const header = ['library', 'encoding', 'prose MB/s', 'code MB/s', 'CJK MB/s', 'exact'];
  const cells = rows.map((r) => [r.library, r.encoding, r.prose, r.code, r.cjk, r.exact]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => '| ' + c.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.map(line)].join('\n');
}
