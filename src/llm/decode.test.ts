import { randomBytes } from 'node:crypto';
import { brotliCompressSync, constants, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBodyDecoder, parseContentEncoding } from './decode.js';
import type { DecodeResult } from './decode.js';

async function decode(encoding: string | undefined, chunks: Buffer[], maxDecodedBytes = 1 << 24): Promise<{ out: Buffer; result: DecodeResult }> {
  const parts: Buffer[] = [];
  const d = createBodyDecoder({ encoding, maxDecodedBytes, onData: (c) => parts.push(Buffer.from(c)) });
  for (const c of chunks) d.write(c);
  const result = await d.end();
  return { out: Buffer.concat(parts), result };
}

function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

const CODECS: [string, (b: Buffer) => Buffer][] = [
  ['gzip', gzipSync], ['x-gzip', gzipSync], ['deflate', deflateSync], ['deflate', deflateRawSync],
  ['br', brotliCompressSync], ['gzip, br', (b) => brotliCompressSync(gzipSync(b))], ['identity', (b) => b],
  ['', (b) => b], ['GZIP , identity', gzipSync],
];

describe('parseContentEncoding', () => {
  it('lists the codings applied, in order', () => {
    expect(parseContentEncoding(undefined)).toEqual([]);
    expect(parseContentEncoding('identity')).toEqual([]);
    expect(parseContentEncoding('x-gzip, BR')).toEqual(['gzip', 'br']);
    expect(parseContentEncoding('zstd')).toBeUndefined();
    expect(parseContentEncoding('gzip, compress')).toBeUndefined();
  });
});

describe('createBodyDecoder', () => {
  it.each(CODECS.map(([enc, f], i) => [`${enc || '(none)'} #${i}`, enc, f] as const))(
    'round-trips %s split at random points (property)', async (_n, enc, compress) => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 20_000 }), fc.array(fc.nat(), { maxLength: 30 }), async (data, cuts) => {
          const plain = Buffer.from(data);
          const { out, result } = await decode(enc, split(compress(plain), cuts));
          expect(result.problem).toBeUndefined();
          expect(out.equals(plain)).toBe(true);
          expect(result.decodedBytes).toBe(plain.length);
        }),
        { numRuns: 30 },
      );
    },
  );

  it('decodes a deflate body whose first chunk is one byte, in both forms', async () => {
    const plain = Buffer.from('hello hello hello');
    for (const z of [deflateSync(plain), deflateRawSync(plain)]) {
      const { out } = await decode('deflate', [z.subarray(0, 1), z.subarray(1)]);
      expect(out.toString()).toBe('hello hello hello');
    }
  });

  it('delivers identity bytes synchronously', () => {
    const seen: string[] = [];
    const d = createBodyDecoder({ encoding: undefined, maxDecodedBytes: 10, onData: (c) => seen.push(c.toString()) });
    d.write(Buffer.from('abc'));
    expect(seen).toEqual(['abc']);
    expect(d.synchronous).toBe(true);
  });

  it('stops a decompression bomb at the cap, quickly', async () => {
    const bomb = gzipSync(Buffer.alloc(50 << 20));
    expect(bomb.length).toBeLessThan(100_000);
    const t0 = performance.now();
    const { out, result } = await decode('gzip', split(bomb, [1000, 5000, 20_000]), 1 << 20);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(result.problem).toBe('decode_too_large');
    expect(out.length).toBe(1 << 20);
    expect(result.decodedBytes).toBe(1 << 20);
  });

  it('stops a brotli bomb and a nested bomb at the cap', async () => {
    const br = brotliCompressSync(Buffer.alloc(50 << 20), { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
    const nested = gzipSync(gzipSync(Buffer.alloc(50 << 20), { level: 1 }));
    const t0 = performance.now();
    expect((await decode('br', [br], 1 << 20)).result.problem).toBe('decode_too_large');
    const r = await decode('gzip, gzip', [nested], 1 << 20);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.result.problem).toBe('decode_too_large');
    expect(r.out.length).toBeLessThanOrEqual(1 << 20);
  });

  it('reports a truncated gzip body and keeps what was decoded', async () => {
    const plain = randomBytes(50_000).toString('hex');
    const z = gzipSync(Buffer.from(plain));
    const { out, result } = await decode('gzip', [z.subarray(0, z.length - 20)]);
    expect(result.problem).toBe('truncated');
    expect(plain.startsWith(out.toString())).toBe(true);
  });

  it('reports corrupt data as decode_failed, never throwing', async () => {
    const { result } = await decode('gzip', [Buffer.from('this is not gzip at all')]);
    expect(result.problem).toBe('decode_failed');
    // Not random bytes: about 4 % of random 1 KB buffers are a complete, valid brotli stream (measured: 791 of 20,000).
    const br = await decode('br', [Buffer.from('this is not brotli at all'.repeat(40))]);
    expect(br.result.problem).toBe('decode_failed');
  });

  it('reports an unsupported encoding and passes nothing on', async () => {
    const { out, result } = await decode('zstd', [Buffer.from('abc')]);
    expect(result.problem).toBe('encoding_unsupported');
    expect(out.length).toBe(0);
  });

  it('treats an empty compressed body as empty', async () => {
    const { out, result } = await decode('gzip', []);
    expect(result.problem).toBeUndefined();
    expect(out.length).toBe(0);
  });

  it('ignores writes after end() and survives a throwing consumer', async () => {
    const d = createBodyDecoder({ encoding: 'gzip', maxDecodedBytes: 1000, onData: () => { throw new Error('boom'); } });
    d.write(gzipSync(Buffer.from('abc')));
    const r = await d.end();
    d.write(Buffer.from('late'));
    expect(r.decodedBytes).toBe(3);
    expect(await d.end()).toBe(r);
  });

  it('never throws or rejects on garbage in any encoding (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('gzip', 'deflate', 'br', 'gzip, br', 'identity', 'bogus'), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }), async (enc, chunks) => {
        const { result } = await decode(enc, chunks.map((c) => Buffer.from(c)), 4096);
        expect(result.decodedBytes).toBeLessThanOrEqual(enc === 'identity' ? Infinity : 4096);
      }),
      { numRuns: 100 },
    );
  });
});
