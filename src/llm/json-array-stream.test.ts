import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonArrayStream } from './json-array-stream.js';

function parseAll(chunks: (string | Buffer)[], maxObjectBytes?: number): { values: unknown[]; stream: JsonArrayStream } {
  const stream = new JsonArrayStream({ maxObjectBytes });
  const values: unknown[] = [];
  for (const c of chunks) values.push(...stream.feed(typeof c === 'string' ? Buffer.from(c) : c));
  stream.end();
  return { values, stream };
}

const GEMINI = '[{\n  "candidates": [{"content": {"parts": [{"text": "a } ] \\" {"}]}}],\n  "usageMetadata": {"promptTokenCount": 3}\n}\n,\r\n{"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 5}}\n]';

describe('JsonArrayStream', () => {
  it('yields each top-level element, braces inside strings notwithstanding', () => {
    const { values, stream } = parseAll([GEMINI]);
    expect(values).toEqual([
      { candidates: [{ content: { parts: [{ text: 'a } ] " {' }] } }], usageMetadata: { promptTokenCount: 3 } },
      { usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 5 } },
    ]);
    expect(stream.stats).toMatchObject({ objects: 2, garbageBytes: 0, unterminated: false });
  });

  it('yields an element as soon as it closes', () => {
    const s = new JsonArrayStream();
    expect(s.feed(Buffer.from('[{"a":1}'))).toEqual([{ a: 1 }]);
    expect(s.feed(Buffer.from(',{"b":'))).toEqual([]);
    expect(s.feed(Buffer.from('2}]'))).toEqual([{ b: 2 }]);
  });

  it('reads a bare object (an error body) too', () => {
    expect(parseAll(['{"error":{"code":400}}']).values).toEqual([{ error: { code: 400 } }]);
  });

  it('handles escaped backslashes before a closing quote', () => {
    expect(parseAll(['[{"a":"x\\\\"},{"b":"\\\\\\""}]']).values).toEqual([{ a: 'x\\' }, { b: '\\"' }]);
  });

  it('skips and counts garbage between elements', () => {
    const { values, stream } = parseAll(['garbage[{"a":1} oops ,{"b":2}]trailing']);
    expect(values).toEqual([{ a: 1 }, { b: 2 }]);
    expect(stream.stats.garbageBytes).toBeGreaterThan(0);
  });

  it('counts an element that is not valid JSON', () => {
    const { values, stream } = parseAll(['[{"a":1,},{"b":2}]']);
    expect(values).toEqual([{ b: 2 }]);
    expect(stream.stats.invalidObjects).toBe(1);
  });

  it('reports an element left open at the end', () => {
    const { values, stream } = parseAll(['[{"a":1},{"b":']);
    expect(values).toEqual([{ a: 1 }]);
    expect(stream.stats.unterminated).toBe(true);
  });

  it('skips an element over the cap without storing it', () => {
    const big = `{"x":"${'y'.repeat(1000)}"}`;
    const { values, stream } = parseAll(['[', big, ',', '{"ok":true}', ']'], 100);
    expect(values).toEqual([{ ok: true }]);
    expect(stream.stats.droppedObjects).toBe(1);
  });

  it('decodes UTF-8 split between chunks', () => {
    const bytes = Buffer.from('[{"t":"😄é"}]');
    const chunks = Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1));
    expect(parseAll(chunks).values).toEqual([{ t: '😄é' }]);
  });

  it('gives the same values however the bytes are split (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.object(), { maxLength: 5 }), fc.array(fc.nat()), (objs, cuts) => {
        const body = Buffer.from(`[${objs.map((o) => JSON.stringify(o, null, 1)).join('\n,\r\n')}]`);
        const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
        const pieces: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, body.length]) {
          pieces.push(body.subarray(prev, p));
          prev = p;
        }
        expect(parseAll(pieces).values).toEqual(objs.map((o) => JSON.parse(JSON.stringify(o)) as unknown));
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 })), (chunks) => {
        const s = new JsonArrayStream({ maxObjectBytes: 40 });
        for (const c of chunks) s.feed(c);
        s.end();
      }),
    );
  });
});
