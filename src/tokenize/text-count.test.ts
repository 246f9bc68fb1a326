import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countText, countTextAsync, DEFAULT_MAX_RUN, findSafeCut } from './text-count.js';
import { createTokenizer, ENCODINGS } from './tokenizer.js';

const o200k = createTokenizer('o200k_base');

/** Deterministic English-like prose with newlines, numbers and punctuation. */
function prose(chars: number): string {
  const words = ['the', 'token', 'meter', 'counts', 'Envoy', 'request', 'of', 'and', 'JSON', 'stream', '42', 'x=1;', 'naïve', '日本'];
  let seed = 12345;
  const out: string[] = [];
  let n = 0;
  while (n < chars) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const w = words[seed % words.length] ?? 'a';
    const sep = seed % 17 === 0 ? '.\n' : seed % 7 === 0 ? ', ' : ' ';
    out.push(w, sep);
    n += w.length + sep.length;
  }
  return out.join('');
}

describe('countText', () => {
  it('is exact for text without long runs', () => {
    const t = prose(50_000);
    expect(countText(o200k, t)).toEqual({ tokens: o200k.count(t), estimated: false });
  });

  it('bounds pathological runs: 100 KB of "a" counts in well under a second, flagged as an estimate', () => {
    const t = 'a'.repeat(100_000);
    const start = performance.now();
    const c = countText(o200k, t);
    const ms = performance.now() - start;
    expect(ms).toBeLessThan(3000); // unsplit, gpt-tokenizer's BPE takes ~16 s on this input (measured 2026-11-23)
    expect(c.estimated).toBe(true);
    // exact is 12 500 (8 a's per token); the cuts cost a few tokens at most
    expect(Math.abs(c.tokens - 12_500) / 12_500).toBeLessThan(0.02);
  });

  it('bounds long whitespace runs and long base64-like runs too', () => {
    const ws = countText(o200k, ' '.repeat(200_000));
    expect(ws.estimated).toBe(true);
    const b64 = Buffer.from(prose(60_000)).toString('base64');
    const start = performance.now();
    const c = countText(o200k, `data: ${b64} end`);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(c.estimated).toBe(true);
    expect(c.tokens).toBeGreaterThan(b64.length / 6);
  });

  it('never splits a surrogate pair', () => {
    const t = '😀'.repeat(DEFAULT_MAX_RUN * 3);
    const c = countText(o200k, t);
    expect(c.estimated).toBe(true);
    expect(c.tokens).toBeGreaterThan(0);
    expect(Math.abs(c.tokens - o200k.count(t)) / o200k.count(t)).toBeLessThan(0.05);
  });
});

describe('safe cuts', () => {
  it.each(ENCODINGS)('%s: counting both sides of a safe cut equals counting the whole', (enc) => {
    const tok = createTokenizer(enc);
    const piece = fc.oneof(
      fc.constantFrom(' ', '\n', '\n\n', '  ', "'s", "'ll", "'", 'I', 'x', 'ab', 'Zz', '12', '123456', '/', '.', ',\n', ' \n', '\r\n', '日本', '😀', '<|endoftext|>',
        '{"', '":', '"}', '":{"', '\\n', '+/', '==', '_', '-'),
      fc.string({ maxLength: 4 }),
    );
    const textArb = fc.array(piece, { minLength: 2, maxLength: 60 }).map((xs) => xs.join(''));
    fc.assert(
      fc.property(textArb, fc.nat(), (t, at) => {
        const cut = findSafeCut(t, at % t.length, t.length);
        if (cut < 0) return true;
        return tok.count(t.slice(0, cut)) + tok.count(t.slice(cut)) === tok.count(t);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('long runs', () => {
  it.each(ENCODINGS)('%s: compact JSON far longer than a run is cut only where it is safe, so it counts exactly', (enc) => {
    const tok = createTokenizer(enc);
    const schema = JSON.stringify({ type: 'object', properties: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`field_${i}`, { type: i % 2 ? 'string' : 'integer', description: `Field number ${i}` }])) });
    const minified = 'function f(a,b){return a+b;}'.repeat(40).replace(/ /g, '');
    for (const t of [schema.replace(/ /g, '_'), minified]) {
      expect(t.length).toBeGreaterThan(DEFAULT_MAX_RUN * 4);
      expect(countText(tok, t)).toEqual({ tokens: tok.count(t), estimated: false });
    }
  });
});

describe('countTextAsync', () => {
  it('equals the sync count on sliced prose', async () => {
    const t = prose(300_000);
    expect(await countTextAsync(o200k, t, { sliceChars: 10_000 })).toEqual(countText(o200k, t));
  });

  it('keeps the event loop responsive while counting 1 MB (max timer lag < 50 ms)', async () => {
    const bodies = [prose(1_000_000), 'a'.repeat(1_000_000), Buffer.from(prose(750_000)).toString('base64')];
    for (const body of bodies) {
      let maxLag = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - last - 5);
        last = now;
      }, 5);
      const c = await countTextAsync(o200k, body);
      clearInterval(timer);
      expect(c.tokens).toBeGreaterThan(0);
      expect(maxLag).toBeLessThan(50);
    }
  });
});
