import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../llm/types.js';
import { countInputTokens, countInputTokensAsync, planInputTokens } from './count-request.js';
import { formatFunctionDefinitions } from './function-defs.js';
import { anthropicImageTokens, geminiImageTokens, openAiImageTokens, sniffImageSize } from './media.js';
import { evaluatePlan } from './plan.js';

const ENDPOINTS: Endpoint[] = [
  'openai.chat', 'openai.completions', 'openai.responses', 'openai.embeddings', 'anthropic.messages', 'gemini.generate', 'gemini.stream',
];

/** A PNG header (signature + IHDR) claiming w×h pixels. */
function pngDataUrl(w: number, h: number): string {
  const b = Buffer.alloc(33);
  b.writeUInt32BE(0x89504e47, 0);
  b.writeUInt32BE(0x0d0a1a0a, 4);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  return `data:image/png;base64,${b.toString('base64')}`;
}

describe('malformed bodies never throw', () => {
  it.each(ENDPOINTS)('%s', (endpoint) => {
    fc.assert(
      fc.property(fc.jsonValue(), (body) => {
        const c = countInputTokens(endpoint, body);
        return Number.isInteger(c.tokens) && c.tokens >= 0;
      }),
      { numRuns: 300 },
    );
    for (const body of [null, 42, 'x', [], { messages: 'nope' }, { messages: [null, 1, { role: 3, content: { a: 1 } }] },
      { input: [{ type: 'reasoning' }, { type: 'message', content: [{ type: 'input_image' }] }] }, { contents: [{ parts: [{ inlineData: {} }] }] },
      { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: ['string', 'null'] }, b: { anyOf: [{ type: 'number' }] }, c: 5 } } } }] }]) {
      expect(() => countInputTokens(endpoint, body)).not.toThrow();
    }
  });
});

describe('OpenAI chat', () => {
  const chat = (messages: unknown[], extra: Record<string, unknown> = {}) => countInputTokens('openai.chat', { model: 'gpt-4o', messages, ...extra });

  it('counts the format overhead and names', () => {
    expect(chat([{ role: 'user', content: 'Hello!' }]).tokens).toBe(9); // 3 + user + 2 + priming 3
    expect(chat([{ role: 'user', content: 'Hello!', name: 'bob' }]).tokens).toBe(11);
    expect(countInputTokens('openai.chat', { model: 'gpt-5', messages: [{ role: 'user', content: 'Hello!' }] }).tokens).toBe(8);
  });

  it('text parts are counted; images are documented estimates and make the count inexact', () => {
    const text = chat([{ role: 'user', content: [{ type: 'text', text: 'Hello!' }] }]);
    expect(text).toEqual({ tokens: 9, encoding: 'o200k_base', exact: true });
    const low = chat([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'low' } }] }]);
    expect(low.exact).toBe(false);
    expect(low.tokens).toBe(7 + 85);
    const high = chat([{ role: 'user', content: [{ type: 'image_url', image_url: { url: pngDataUrl(640, 480) } }] }]);
    expect(high.tokens).toBe(7 + 85 + 170 * 2); // 640×480: no upscaling, 2×1 tiles of 512 px
  });

  it('tool definitions render as the functions namespace', () => {
    const text = formatFunctionDefinitions([{ name: 'f', description: 'Do it.', parameters: { type: 'object', properties: { a: { type: 'string', enum: ['x', 'y'] }, b: { type: 'array', items: { type: 'integer' } } }, required: ['a'] } }]);
    expect(text).toBe('namespace functions {\n\n// Do it.\ntype f = (_: { a: "x" | "y", b?: number[] }) => any;\n\n} // namespace functions');
  });

  it('Responses function tools: counted as in chat, exact on gpt-5 models only', () => {
    const body = (model: string) => ({ model, input: 'Hi', tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} } }] });
    expect(countInputTokens('openai.responses', body('gpt-5-mini')).exact).toBe(true);
    expect(countInputTokens('openai.responses', body('gpt-4o')).exact).toBe(false);
    expect(countInputTokens('openai.responses', body('gpt-4o')).tokens).toBe(countInputTokens('openai.responses', body('gpt-5-mini')).tokens + 1);
    expect(countInputTokens('openai.responses', { model: 'gpt-4o', input: 'Hi' }).exact).toBe(true);
  });

  it('objects render one property per line once any property is described, inline otherwise (nested alike)', () => {
    const nested = { type: 'object', description: 'Where', properties: { city: { type: 'string' } } };
    const text = formatFunctionDefinitions([
      { name: 'g', description: '', parameters: { type: 'object', properties: { at: nested, n: { type: 'integer' } }, required: ['at'] } },
      { name: 'h', parameters: { type: 'object', properties: {} } },
    ]);
    expect(text).toBe('namespace functions {\n\ntype g = (_: {\n// Where\nat: { city?: string },\nn?: number,\n}) => any;\n\ntype h = () => any;\n\n} // namespace functions');
  });

  it('multi-line descriptions: trimmed, one comment line each, unindented, blank lines a bare //', () => {
    const text = formatFunctionDefinitions([
      { name: 'f', description: 'Convert.\n\n    Args:\n        c: Celsius\n    ', parameters: { type: 'object', properties: { c: { type: 'number', description: 'Degrees\n  C.\n' } } } },
    ]);
    expect(text).toBe('namespace functions {\n\n// Convert.\n//\n// Args:\n// c: Celsius\ntype f = (_: {\n// Degrees\n// C.\nc?: number,\n}) => any;\n\n} // namespace functions');
  });

  it('a default goes after its property line and puts the object one property per line', () => {
    const text = formatFunctionDefinitions([
      { name: 'f', parameters: { type: 'object', properties: { v: { type: 'boolean', default: false }, s: { type: 'string', default: 'a' }, e: { type: 'string', enum: ['x', 'y'], default: 'x' } } } },
    ]);
    expect(text).toBe('namespace functions {\n\ntype f = (_: {\nv?: boolean, // default: false\ns?: string, // default: "a"\ne?: "x" | "y", // default: x\n}) => any;\n\n} // namespace functions');
  });
});

describe('media formulas', () => {
  it('reads image sizes from inline headers', () => {
    expect(sniffImageSize(pngDataUrl(640, 480))).toEqual({ width: 640, height: 480 });
    expect(sniffImageSize('not base64 at all')).toBeUndefined();
  });
  it('OpenAI tiles, Anthropic w·h/750, Gemini 258', () => {
    expect(openAiImageTokens('gpt-4o', { width: 1024, height: 1024 }, 'high')).toBe(85 + 170 * 4);
    expect(openAiImageTokens('gpt-4o', { width: 4096, height: 2048 }, 'high')).toBe(85 + 170 * 6);
    expect(openAiImageTokens('gpt-4o-mini', undefined, 'low')).toBe(2833);
    expect(openAiImageTokens('gpt-4.1-mini', { width: 1024, height: 1024 }, 'high')).toBe(Math.ceil(1024 * 1.62));
    expect(anthropicImageTokens({ width: 750, height: 1000 })).toBe(1000);
    expect(geminiImageTokens(undefined)).toBe(258);
  });
});

describe('embeddings and completions', () => {
  it('count strings and token ids directly, without overhead', () => {
    expect(countInputTokens('openai.embeddings', { model: 'text-embedding-3-small', input: [[1, 2, 3], [4]] })).toEqual({ tokens: 4, encoding: 'cl100k_base', exact: true });
    expect(countInputTokens('openai.embeddings', { model: 'text-embedding-3-small', input: [1, 2, 3] }).tokens).toBe(3);
    expect(countInputTokens('openai.completions', { model: 'gpt-3.5-turbo-instruct', prompt: ['Hello!', 'Hello!'] }).tokens).toBe(4);
  });
});

describe('large bodies', () => {
  const big = { model: 'gpt-4o', messages: [{ role: 'user', content: 'lorem ipsum dolor sit amet, '.repeat(40_000) }] };

  it('async equals sync, and an offload hook is used above the threshold', async () => {
    const sync = countInputTokens('openai.chat', big);
    expect(await countInputTokensAsync('openai.chat', big)).toEqual(sync);
    let offloaded = 0;
    const viaHook = await countInputTokensAsync('openai.chat', big, {
      offload: (plan) => {
        offloaded++;
        return Promise.resolve(evaluatePlan(plan));
      },
    });
    expect(offloaded).toBe(1);
    expect(viaHook).toEqual(sync);
  });

  it('a pathological body is counted quickly and flagged', () => {
    const start = performance.now();
    const c = countInputTokens('openai.chat', { model: 'gpt-4o', messages: [{ role: 'user', content: 'a'.repeat(1_000_000) }] });
    expect(performance.now() - start).toBeLessThan(3000);
    expect(c.exact).toBe(false);
    expect(planInputTokens('openai.chat', {}).texts).toEqual([]);
  });
});
