import { describe, expect, it } from 'vitest';
import { formatReset, missingSubjectRejection, rateLimitHeaders, storeUnavailableRejection, tokenLimitRejection } from './rejection.js';
import { fixtureFile, loadManifest } from '../../test/helpers/fixtures.js';

const state = { limit: 1000, remaining: -20, resetMs: 61_500 };

describe('formatReset', () => {
  it.each([[0, '0ms'], [20, '20ms'], [999, '999ms'], [1000, '1s'], [1001, '2s'], [60_000, '1m0s'], [61_500, '1m2s'], [3_723_000, '1h2m3s']])('%d ms → %s', (ms, want) => {
    expect(formatReset(ms)).toBe(want);
  });
});

/** The keys of a JSON value, recursively, as paths: compares shapes, not values. */
function shape(v: unknown, prefix = ''): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${prefix}:${v === null ? 'null' : typeof v}`];
  return Object.entries(v).flatMap(([k, x]) => shape(x, `${prefix}.${k}`));
}

describe('tokenLimitRejection', () => {
  it('uses OpenAI headers and a retry-after in whole seconds', () => {
    const r = tokenLimitRejection('openai', 'team', 'per-minute', state, { unit: 'tokens' });
    expect(r.status).toBe(429);
    expect(r.headers).toMatchObject({ 'retry-after': '62', 'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '1m2s' });
    expect(r.details).toBe('tokenmeter_rate_limited{team/per-minute}');
  });

  it('answers in OpenAI\'s official error shape', () => {
    const body = JSON.parse(tokenLimitRejection('openai', 'p', 'l', state, { unit: 'tokens' }).body) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded', param: null });
    // Same fields as a recorded OpenAI error body.
    const recorded = JSON.parse(fixtureFile('errors/openai_chat_400_invalid-image-url_oll.response.json').toString()) as unknown;
    expect(shape(body).map((s) => s.split(':')[0]).sort()).toEqual(shape(recorded).map((s) => s.split(':')[0]).sort());
  });

  it('answers in Gemini\'s shape, identical in structure to the recorded 429', () => {
    const recordedEntry = loadManifest().find((e) => e.name === 'gemini_generate_429_resource-exhausted_crew');
    const recorded = JSON.parse(fixtureFile(recordedEntry?.resp ?? '').toString()) as unknown;
    const ours = JSON.parse(tokenLimitRejection('gemini', 'p', 'l', state, { unit: 'tokens' }).body) as unknown;
    expect(shape(ours)).toEqual(shape(recorded));
    expect((ours as { error: { status: string } }).error.status).toBe('RESOURCE_EXHAUSTED');
  });

  it('answers in Anthropic\'s shape: {type: "error", error: {type, message}}', () => {
    const ours = JSON.parse(tokenLimitRejection('anthropic', 'p', 'l', state, { unit: 'tokens' }).body) as unknown;
    const recorded = JSON.parse(fixtureFile('errors/anthropic_messages_400_invalid-request_pyd.response.json').toString()) as Record<string, unknown>;
    delete recorded.request_id;
    expect(shape(ours).sort()).toEqual(shape(recorded).sort());
    expect(ours).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  it('formats USD budgets', () => {
    const r = tokenLimitRejection('openai', 'p', 'monthly', { limit: 500, remaining: 0.1234567, resetMs: 5000 }, { unit: 'USD' });
    expect(r.headers['x-ratelimit-remaining-tokens']).toBe('0.123457');
    expect(JSON.parse(r.body)).toMatchObject({ error: { message: expect.stringContaining('500 USD') as unknown } });
  });
});

describe('other rejections', () => {
  it('503 for a closed store and 400 for a missing subject, in provider shape', () => {
    expect(storeUnavailableRejection('anthropic', 'p')).toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
    expect(JSON.parse(storeUnavailableRejection('gemini', 'p').body)).toMatchObject({ error: { code: 503, status: 'UNAVAILABLE' } });
    const m = missingSubjectRejection('openai', 'team', 400, 'the x-tenant-id header is missing');
    expect(m.status).toBe(400);
    expect(JSON.parse(missingSubjectRejection('anthropic', 'team', 401, 'no API key').body)).toMatchObject({ error: { type: 'authentication_error' } });
    expect(m.body).toContain('x-tenant-id');
  });

  it('rate limit headers never show negative remaining', () => {
    expect(rateLimitHeaders(state)['x-ratelimit-remaining-tokens']).toBe('0');
  });
});
