import { describe, expect, it } from 'vitest';
import { accuracyCases, mustBeExact } from '../../test/helpers/accuracy.js';
import { expectedUsage, fixtureFile, hasRequest, wireEntries, type WireEntry } from '../../test/helpers/fixtures.js';
import type { Endpoint } from '../llm/types.js';
import { knownEncoding } from '../tokenize/encodings.js';
import { countInputTokens } from '../tokenize/count-request.js';
import { estimateRequest, parseJsonBody, sniffEndpoint, type RequestEstimate } from './request-estimate.js';

async function estimate(input: Parameters<typeof estimateRequest>[0]): Promise<RequestEstimate> {
  const r = await estimateRequest(input);
  if (!r.ok) throw new Error(r.message);
  return r.estimate;
}

const CHAT = { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Hello there, how are you?' }] };

describe('estimateRequest: every format', () => {
  const bodies: [Endpoint, Record<string, unknown>, string][] = [
    ['openai.chat', CHAT, 'o200k_base'],
    ['openai.responses', { model: 'gpt-5', input: 'Write a haiku about tokens.', max_output_tokens: 50 }, 'o200k_base'],
    ['openai.completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test', max_tokens: 7 }, 'cl100k_base'],
    ['openai.embeddings', { model: 'text-embedding-3-small', input: ['a', 'b c'] }, 'cl100k_base'],
    ['anthropic.messages', { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello, Claude' }] }, 'estimate:anthropic'],
    ['gemini.generate', { contents: [{ role: 'user', parts: [{ text: 'Explain how AI works' }] }], generationConfig: { maxOutputTokens: 64 } }, 'sentencepiece/gemma3'],
  ];

  it.each(bodies)('%s: sniffed, counted like the data plane, with the encoding', async (endpoint, body, encoding) => {
    const got = await estimate({ body });
    expect(got.endpoint).toBe(endpoint);
    expect(got.endpoint_from).toBe('body');
    expect(got.encoding).toBe(encoding);
    expect(got.input_tokens).toBe(countInputTokens(endpoint, body).tokens);
    expect(got.input_tokens).toBeGreaterThan(0);
    expect(await estimate({ body, endpoint })).toMatchObject({ endpoint, endpoint_from: 'endpoint', input_tokens: got.input_tokens });
  });

  it('prices the input and the output cap at the catalogue price', async () => {
    const got = await estimate({ body: CHAT });
    expect(got).toMatchObject({
      exact: true, model: 'gpt-4o', max_output_tokens: 100,
      price: { model: 'gpt-4o', input: 2.5, cached_input: 1.25, output: 10, as_of: expect.stringMatching(/^\d{4}-\d\d-\d\d$/) as unknown },
      estimated_cost_usd: { output_at_max_tokens: 0.001 },
    });
    expect(got.estimated_cost_usd?.input).toBeCloseTo((got.input_tokens * 2.5) / 1e6, 12);
    const dated = await estimate({ body: { ...CHAT, model: 'gpt-4o-mini-2024-07-18', max_tokens: undefined } });
    expect(dated.price?.model).toBe('gpt-4o-mini');
    expect(Object.keys(dated.estimated_cost_usd ?? {})).toEqual(['input']);
    expect(dated.estimated_cost_usd?.input).toBeCloseTo((dated.input_tokens * 0.15) / 1e6, 12);
    expect(String(dated.estimated_cost_usd?.input)).toMatch(/^[\d.e-]{1,12}$/); // no float noise
    expect(dated).not.toHaveProperty('max_output_tokens');
  });

  it('embeddings have no output cost; unknown models no price', async () => {
    expect((await estimate({ body: { model: 'text-embedding-3-small', input: 'x', max_tokens: 5 } })).estimated_cost_usd).not.toHaveProperty('output_at_max_tokens');
    const unknown = await estimate({ body: { model: 'my-local-llama', messages: [{ role: 'user', content: 'hi' }] } });
    expect(unknown).toMatchObject({ exact: false, encoding: 'o200k_base', model: 'my-local-llama', price: null, estimated_cost_usd: null });
  });

  it('model option overrides the body model for counting and price; overrides make an unknown model exact', async () => {
    const body = { model: 'my-deployment', messages: [{ role: 'user', content: 'hi' }] };
    expect(await estimate({ body, model: 'gpt-4.1' })).toMatchObject({ model: 'gpt-4.1', exact: true, price: { model: 'gpt-4.1' } });
    expect(await estimate({ body, overrides: { 'my-deployment': 'cl100k_base' } })).toMatchObject({ exact: true, encoding: 'cl100k_base' });
  });

  it('path: classified like the data plane (Gemini and Azure path models)', async () => {
    const gem = await estimate({ body: { contents: [{ parts: [{ text: 'hi' }] }] }, path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse' });
    expect(gem).toMatchObject({ endpoint: 'gemini.stream', endpoint_from: 'path', model: 'gemini-2.5-flash', price: { model: 'gemini-2.5-flash' } });
    const azure = await estimate({ body: { messages: [{ role: 'user', content: 'hi' }] }, path: '/openai/deployments/prod-4o/chat/completions' });
    expect(azure).toMatchObject({ endpoint: 'openai.chat', model: 'prod-4o', exact: false, price: null });
  });

  it('sniffing rules', () => {
    expect(sniffEndpoint({ model: 'anthropic.claude-3-5-haiku-20241022-v1:0', messages: [] })).toBe('anthropic.messages');
    expect(sniffEndpoint({ anthropic_version: 'bedrock-2023-05-31', messages: [] })).toBe('anthropic.messages');
    expect(sniffEndpoint({ model: 'gpt-4o', messages: [] })).toBe('openai.chat');
    expect(sniffEndpoint({ contents: [] })).toBe('gemini.generate');
    expect(sniffEndpoint({ model: 'text-embedding-ada-002', input: 'x' })).toBe('openai.embeddings');
    expect(sniffEndpoint({ model: 'gpt-5', input: 'x' })).toBe('openai.responses');
    expect(sniffEndpoint({ prompt: 'x' })).toBe('openai.completions');
    expect(sniffEndpoint({ model: 'gpt-4o' })).toBeUndefined();
  });

  it('errors: not an object, unknown endpoint, unmetered path, unknown shape', async () => {
    expect(await estimateRequest({ body: [1, 2] })).toMatchObject({ ok: false, kind: 'body_not_object' });
    expect(await estimateRequest({ body: CHAT, endpoint: 'openai.chat2' })).toMatchObject({ ok: false, kind: 'endpoint_unknown', message: expect.stringContaining('openai.chat,') as unknown });
    expect(await estimateRequest({ body: CHAT, path: '/v1/models' })).toMatchObject({ ok: false, kind: 'path_unmetered' });
    expect(await estimateRequest({ body: { model: 'gpt-4o' } })).toMatchObject({ ok: false, kind: 'format_unknown' });
  });

  it('parseJsonBody', () => {
    expect(parseJsonBody(Buffer.from('{"a":1}'))).toEqual({ ok: true, body: { a: 1 } });
    expect(parseJsonBody('  ')).toMatchObject({ ok: false, message: expect.stringContaining('empty body') as unknown });
    expect(parseJsonBody('{"a":')).toMatchObject({ ok: false, message: expect.stringContaining('invalid JSON') as unknown });
  });
});

describe('estimateRequest on the recorded exchanges', () => {
  const withBodies = wireEntries().filter(hasRequest).map((e) => ({ e, body: JSON.parse(fixtureFile(e.req).toString('utf8')) as unknown }));
  const pathOf = (e: WireEntry): string => {
    const u = new URL(e.url);
    return u.pathname + u.search;
  };
  const family = (endpoint: string): string => endpoint.replace('gemini.stream', 'gemini.generate');

  it.each(withBodies.map((x) => [x.e.name, x] as const))('%s: sniffing agrees with the path', async (_n, { e, body }) => {
    const byPath = await estimate({ body, path: pathOf(e) });
    const sniffed = await estimate({ body });
    expect(family(sniffed.endpoint)).toBe(family(byPath.endpoint));
    if (byPath.model === (body as { model?: string }).model) expect(sniffed.input_tokens).toBe(byPath.input_tokens);
  });

  // The recordings the replay test holds to exact counts (tool-definition rendering included), minus its exemptions.
  const exactNames = new Set(accuracyCases().filter(mustBeExact).map((c) => c.name));
  const exact = withBodies.filter(({ e }) => e.status === 200 && e.dir.startsWith('openai-chat') && knownEncoding(e.model) !== undefined
    && expectedUsage(e)?.inputTokens !== undefined && exactNames.has(e.name));

  it('covers the OpenAI chat recordings with reported usage', () => expect(exact.length).toBeGreaterThanOrEqual(8));

  it.each(exact.map((x) => [x.e.name, x] as const))('%s: input_tokens = the provider-reported prompt tokens', async (_n, { e, body }) => {
    const got = await estimate({ body });
    expect(got).toMatchObject({ endpoint: 'openai.chat', exact: true, input_tokens: expectedUsage(e)?.inputTokens });
    expect(got.price).not.toBeNull();
  });

  it('the Azure deployment recording is exact once the model is named', async () => {
    const x = withBodies.find(({ e }) => e.name === 'oll_azure_deployment_chat');
    if (!x) throw new Error('fixture missing');
    const got = await estimate({ body: x.body, path: pathOf(x.e), model: 'gpt-4o' });
    expect(got).toMatchObject({ exact: true, input_tokens: expectedUsage(x.e)?.inputTokens, price: { model: 'gpt-4o' } });
  });
});
