/**
 * Replays every recorded exchange in test/fixtures/llm through the response meter and checks the usage against what
 * the provider reported (the manifest), stated here independently of the extractors, in tokenmeter's billing terms.
 * Also: random chunk splits give identical results; the SDK-captured chunk files fed as objects.
 */
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixtureFile, loadManifest, type FixtureEntry } from '../../test/helpers/fixtures.js';
import { createResponseMeter } from './response-meter.js';
import type { ResponseMeterResult } from './response-meter.js';
import { matchRoute } from './routes.js';
import type { Endpoint, Usage } from './types.js';
import { createUsageExtractor, TextCollector } from './usage/index.js';

// ---- the oracle ----------------------------------------------------------------------------------------------------

type ManifestEntry = FixtureEntry;

function readResponse(e: ManifestEntry): Buffer {
  return fixtureFile(e.resp);
}

function endpointOf(e: ManifestEntry): Endpoint {
  if (e.url === null) {
    if (e.name.startsWith('anthropic')) return 'anthropic.messages';
    if (e.name.startsWith('google')) return 'gemini.generate';
    if (e.name.startsWith('openai-responses')) return 'openai.responses';
    return 'openai.chat';
  }
  const u = new URL(e.url);
  const route = matchRoute('POST', u.pathname + u.search);
  if (!route) throw new Error(`no route for ${e.url}`);
  return route.endpoint;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

function clean(u: Usage): Usage {
  return Object.fromEntries(Object.entries(u).filter(([, v]) => v !== undefined));
}

function anthropic(u: Rec): Usage {
  const input = num(u.input_tokens);
  const read = num(u.cache_read_input_tokens);
  const write = num(u.cache_creation_input_tokens);
  const output = num(u.output_tokens);
  const inputTokens = input === undefined ? undefined : input + (read ?? 0) + (write ?? 0);
  return clean({
    inputTokens, outputTokens: output, cachedInputTokens: read, cacheWriteTokens: write,
    totalTokens: inputTokens !== undefined && output !== undefined ? inputTokens + output : undefined,
  });
}

function openai(u: Rec, embeddings: boolean): Usage {
  if ('input_tokens' in u) {
    return clean({
      inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens), totalTokens: num(u.total_tokens),
      cachedInputTokens: num(rec(u.input_tokens_details).cached_tokens),
      reasoningTokens: num(rec(u.output_tokens_details).reasoning_tokens),
    });
  }
  return clean({
    inputTokens: num(u.prompt_tokens), outputTokens: num(u.completion_tokens) ?? (embeddings ? 0 : undefined),
    totalTokens: num(u.total_tokens), cachedInputTokens: num(rec(u.prompt_tokens_details).cached_tokens),
    reasoningTokens: num(rec(u.completion_tokens_details).reasoning_tokens),
  });
}

function gemini(u: Rec): Usage {
  const thoughts = num(u.thoughtsTokenCount);
  return clean({
    inputTokens: (num(u.promptTokenCount) ?? 0) + (num(u.toolUsePromptTokenCount) ?? 0),
    outputTokens: (num(u.candidatesTokenCount) ?? 0) + (thoughts ?? 0),
    totalTokens: num(u.totalTokenCount), cachedInputTokens: num(u.cachedContentTokenCount), reasoningTokens: thoughts,
  });
}

/** The provider-reported usage of an exchange; undefined when the provider reported none (errors, no-usage streams). */
function expectedUsage(e: ManifestEntry): Usage | undefined {
  if (e.status >= 400) return undefined;
  const endpoint = endpointOf(e);
  const u = e.usage;
  if (endpoint === 'anthropic.messages') {
    // Streams are summarised as message_start and message_delta usage: later fields replace earlier ones.
    const final = u.final !== undefined ? rec(u.final) : { ...rec(u.message_start), ...rec(u.message_delta) };
    return anthropic(final);
  }
  if (u.final === undefined) return undefined;
  if (endpoint.startsWith('gemini')) return gemini(rec(u.final));
  return openai(rec(u.final), endpoint === 'openai.embeddings');
}

/** The model the response names, when the manifest recorded it. */
function expectedModel(e: ManifestEntry): string | undefined {
  return typeof e.usage.model === 'string' ? e.usage.model : undefined;
}

// ---- helpers -------------------------------------------------------------------------------------------------------

const manifest = loadManifest();
const wire = manifest.filter((e) => e.dir !== 'vercel-ai-chunks');
const chunked = manifest.filter((e) => e.dir === 'vercel-ai-chunks');
const approxCount = (s: string): number => Math.ceil(s.length / 4);

async function meter(e: ManifestEntry, chunks: Buffer[], contentEncoding?: string): Promise<ResponseMeterResult> {
  const m = createResponseMeter({
    endpoint: endpointOf(e), status: e.status, contentType: e.ctype ?? undefined, contentEncoding,
    stream: e.streaming, maxDecodedBytes: 16 << 20, countText: approxCount,
  });
  for (const c of chunks) m.write(c);
  return m.end();
}

/** Splits a buffer at the given cut points (any order, duplicates and out-of-range points allowed). */
function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(buf.length, Math.max(0, c))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    if (p > prev) out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

function bytesOf(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}

/** What a replay must give for an exchange. */
function checkResult(e: ManifestEntry, r: ResponseMeterResult): void {
  expect(r.problems).toEqual([]);
  const usage = expectedUsage(e);
  const model = expectedModel(e);
  if (model !== undefined) expect(r.model).toBe(model);
  if (e.status >= 400) {
    expect(r.usageSource).toBe('none');
    expect(r.usage).toEqual({ outputTokens: 0 });
    expect(r.error).toBeDefined();
  } else if (usage) {
    expect(r.usageSource).toBe('provider');
    expect(r.usage).toEqual(usage);
    expect(r.estimatedOutputTokens).toBeUndefined();
  } else {
    expect(r.usageSource).toBe('estimated');
    expect(r.usage.outputTokens).toBeGreaterThan(0);
    expect(r.outputText?.text.length).toBeGreaterThan(0);
  }
}

// ---- tests ---------------------------------------------------------------------------------------------------------

describe('replay of every recorded exchange', () => {
  it('covers the whole manifest', () => {
    expect(wire.length + chunked.length).toBe(manifest.length);
    expect(wire.length).toBe(153);
    for (const e of wire) expect(readResponse(e).length, e.name).toBeGreaterThan(0);
  });

  it.each(wire.map((e) => [`${e.dir}/${e.name}`, e] as const))('%s: whole body', async (_n, e) => {
    checkResult(e, await meter(e, [readResponse(e)]));
  });

  it.each(wire.map((e) => [`${e.dir}/${e.name}`, e] as const))('%s: one byte at a time', async (_n, e) => {
    checkResult(e, await meter(e, bytesOf(readResponse(e))));
  });

  it('recognises each error body', async () => {
    const errors = wire.filter((e) => e.status >= 400);
    const types = await Promise.all(errors.map(async (e) => (await meter(e, [readResponse(e)])).error));
    expect(types).toEqual([
      { type: 'invalid_request_error' }, { type: 'not_found_error' }, { type: 'not_found', code: '404' },
      { type: 'resource_exhausted', code: '429' }, { type: 'invalid_request_error', code: 'invalid_image_url' },
      { type: 'invalid_request_error', code: 'unsupported_parameter' },
      { type: 'invalid_request_error', code: 'model_not_found' }, { code: '429' },
      { type: 'invalid_request_error', code: 'unsupported_value' },
    ]);
  });
});

describe('random chunk splits (property)', () => {
  it.each(wire.map((e) => [`${e.dir}/${e.name}`, e] as const))('%s', async (_n, e) => {
    const body = readResponse(e);
    const whole = await meter(e, [body]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: body.length }), { maxLength: 40 }), async (cuts) => {
        expect(await meter(e, splitAt(body, cuts))).toEqual(whole);
      }),
      { numRuns: 25 },
    );
  });
});

describe('compressed replays split at random points', () => {
  const codecs: [string, (b: Buffer) => Buffer][] = [
    ['gzip', (b) => gzipSync(b)], ['deflate', (b) => deflateSync(b)], ['deflate', (b) => deflateRawSync(b)],
    ['br', (b) => brotliCompressSync(b)], ['gzip, br', (b) => brotliCompressSync(gzipSync(b))],
  ];
  const sample = wire.filter((_e, i) => i % 4 === 0);
  it.each(codecs.map(([enc, f], i) => [`${enc} #${i}`, enc, f] as const))('%s', async (_n, enc, compress) => {
    for (const e of sample) {
      const body = compress(readResponse(e));
      const plain = await meter(e, [readResponse(e)]);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.nat({ max: body.length }), { maxLength: 20 }), async (cuts) => {
          const r = await meter(e, splitAt(body, cuts), enc);
          expect({ ...r, decodedBytes: 0 }).toEqual({ ...plain, decodedBytes: 0 });
          expect(r.decodedBytes).toBe(readResponse(e).length);
        }),
        { numRuns: 5 },
      );
    }
  });
});

describe('SDK-captured chunks (vercel-ai), fed as objects', () => {
  it.each(chunked.map((e) => [e.name, e] as const))('%s', (_n, e) => {
    const text = readResponse(e).toString('utf8');
    const x = createUsageExtractor(endpointOf(e), new TextCollector());
    if (e.resp.endsWith('.jsonl')) for (const line of text.split('\n')) if (line.trim()) x.accept(JSON.parse(line));
    if (!e.resp.endsWith('.jsonl')) x.accept(JSON.parse(text));
    const r = x.result();
    expect(r.usage).toEqual(expectedUsage(e));
    expect(r.final).toBe(true);
    expect(r.model).toBe(expectedModel(e));
  });
});
