import { describe, expect, it } from 'vitest';
import { DEFAULT_ENCODING, encodingForModel, knownEncoding, normalizeModel, replyPrimingTokens, resolveEncoding } from './encodings.js';

describe('model → encoding', () => {
  it.each([
    ['gpt-4o', 'o200k_base'],
    ['gpt-4o-mini-2024-07-18', 'o200k_base'],
    ['gpt-4.1-nano', 'o200k_base'],
    ['gpt-4.5-preview', 'o200k_base'],
    ['gpt-5-nano', 'o200k_base'],
    ['gpt-5.5-2026-04-23', 'o200k_base'],
    ['o1-mini', 'o200k_base'],
    ['o3', 'o200k_base'],
    ['o4-mini-2025-04-16', 'o200k_base'],
    ['chatgpt-4o-latest', 'o200k_base'],
    ['omni-moderation-latest', 'o200k_base'],
    ['openai/gpt-4o', 'o200k_base'],
    ['GPT-4O', 'o200k_base'],
    ['gpt-4', 'cl100k_base'],
    ['gpt-4-0613', 'cl100k_base'],
    ['gpt-4-turbo-2024-04-09', 'cl100k_base'],
    ['gpt-4-32k', 'cl100k_base'],
    ['gpt-3.5-turbo', 'cl100k_base'],
    ['gpt-35-turbo', 'cl100k_base'],
    ['text-embedding-3-small', 'cl100k_base'],
    ['text-embedding-ada-002', 'cl100k_base'],
    ['ft:gpt-4o-mini-2024-07-18:org::abc', 'o200k_base'],
  ])('%s → %s', (model, enc) => {
    expect(knownEncoding(model)).toBe(enc);
  });

  it('unknown models use the documented default and are not "known"', () => {
    expect(DEFAULT_ENCODING).toBe('o200k_base');
    expect(knownEncoding('deepseek-chat')).toBeUndefined();
    expect(resolveEncoding('deepseek-chat')).toEqual({ encoding: 'o200k_base', known: false });
    expect(resolveEncoding(undefined)).toEqual({ encoding: 'o200k_base', known: false });
  });

  it('overrides win, by raw or normalised name', () => {
    expect(encodingForModel('my-deployment', { 'my-deployment': 'cl100k_base' })).toBe('cl100k_base');
    expect(resolveEncoding('azure/My-Deployment', { 'my-deployment': 'cl100k_base' })).toEqual({ encoding: 'cl100k_base', known: true });
    expect(encodingForModel('gpt-4o', { 'gpt-4o': 'cl100k_base' })).toBe('cl100k_base');
    expect(encodingForModel('toString', {})).toBe('o200k_base');
  });

  it('normalises prefixes and date suffixes', () => {
    expect(normalizeModel('openai/gpt-4o-2024-08-06')).toBe('gpt-4o');
    expect(normalizeModel('google/gemini-2.0-flash-exp:free')).toBe('gemini-2.0-flash-exp');
    expect(normalizeModel('claude-3-5-sonnet-20240620')).toBe('claude-3-5-sonnet');
    expect(normalizeModel('gpt-4-0613')).toBe('gpt-4');
  });

  it('reply priming: 2 tokens for gpt-5 and later (harmony), 3 before', () => {
    expect(replyPrimingTokens('gpt-5-nano')).toBe(2);
    expect(replyPrimingTokens('gpt-5.5')).toBe(2);
    expect(replyPrimingTokens('gpt-4o-mini')).toBe(3);
    expect(replyPrimingTokens(undefined)).toBe(3);
  });
});
