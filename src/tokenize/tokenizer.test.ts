import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTokenizer, DEFAULT_IMPL, ENCODINGS, loadedEncodings, type EncodingName } from './tokenizer.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/llm');

/** Every string value in every recorded request body (bounded per string so js-tiktoken stays quick). */
function fixtureTexts(): string[] {
  const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { req?: string | null }[];
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v.slice(0, 4000));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
  };
  for (const e of manifest) if (e.req) walk(JSON.parse(readFileSync(join(FIXTURES, e.req), 'utf8')));
  return out;
}

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|im_sep|>', '<|fim_prefix|>', '<|endofprompt|>', '<|start|>', '<|message|>'];

const textArb = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.array(fc.oneof(fc.constantFrom(...SPECIALS, ' ', '\n', '日本語', '中文字符', '😀', '👍🏽', "'s", '1234567'), fc.string({ maxLength: 8 })), { maxLength: 40 }).map((xs) => xs.join('')),
);

describe.each(ENCODINGS)('%s', (encoding: EncodingName) => {
  const gpt = createTokenizer(encoding, 'gpt-tokenizer');
  const tik = createTokenizer(encoding, 'js-tiktoken');
  const compact = createTokenizer(encoding, 'compact');

  it('names and caches instances', () => {
    expect(gpt.name).toBe(`gpt-tokenizer/${encoding}`);
    expect(tik.encoding).toBe(encoding);
    expect(createTokenizer(encoding)).toBe(createTokenizer(encoding, DEFAULT_IMPL));
  });

  it('counts special-token strings as ordinary text, never throws', () => {
    for (const s of SPECIALS) {
      expect(gpt.count(s)).toBeGreaterThan(1);
      expect(tik.count(s)).toBe(gpt.count(s));
      expect(compact.count(s)).toBe(gpt.count(s));
    }
    expect(gpt.count('hi <|endoftext|> there')).toBe(tik.count('hi <|endoftext|> there'));
    expect(gpt.count('')).toBe(0);
  });

  it('all implementations agree on every fixture text', () => {
    const texts = fixtureTexts();
    expect(texts.length).toBeGreaterThan(200);
    for (const t of texts) {
      expect(tik.count(t), t.slice(0, 80)).toBe(gpt.count(t));
      expect(compact.count(t), t.slice(0, 80)).toBe(gpt.count(t));
    }
  });

  it('all implementations agree on random text (CJK, emoji, special tokens, lone surrogates)', () => {
    fc.assert(fc.property(textArb, (s) => gpt.count(s) === tik.count(s) && compact.count(s) === gpt.count(s)), { numRuns: 400 });
  });

  it('the compact vocabulary is loaded on first use only', () => {
    const fresh = createTokenizer(encoding, 'compact');
    expect(fresh).toBe(compact);
    compact.count('x');
    expect(loadedEncodings()).toContain(`compact/${encoding}`);
  });
});

describe('known values', () => {
  it('matches published counts', () => {
    expect(createTokenizer('o200k_base').count('Hello, world!')).toBe(4);
    expect(createTokenizer('cl100k_base').count('Hello, world!')).toBe(4);
    expect(createTokenizer('o200k_base').count('日本語のテキスト')).toBeLessThan(createTokenizer('cl100k_base').count('日本語のテキスト'));
  });
});
