import { describe, expect, it } from 'vitest';
import { compileMatcher, globToRegExp, hostOf, pathHasPrefix, type MatchInput } from './match.js';
import { parsePolicies } from './parse.js';
import type { TokenPolicy } from './types.js';

function policy(name: string, spec: string, namespace?: string): TokenPolicy {
  const ns = namespace ? `, namespace: ${namespace}` : '';
  const text = `apiVersion: tokenmeter.dev/v1alpha1\nkind: TokenPolicy\nmetadata: {name: ${name}${ns}}\nspec:\n  limits: [{name: l, tokens: 1, window: 1m}]\n${spec}\n`;
  const { policies, errors } = parsePolicies(text);
  expect(errors).toEqual([]);
  return policies[0] as TokenPolicy;
}

const req = (over: Partial<MatchInput> = {}): MatchInput => ({
  host: 'api.openai.com', path: '/v1/chat/completions', method: 'POST', model: 'gpt-4o-2024-08-06', endpoint: 'openai.chat', ...over,
});

describe('globs', () => {
  it.each([
    ['gpt-4o*', 'gpt-4o', true], ['gpt-4o*', 'gpt-4o-mini', true], ['gpt-4o*', 'gpt-4', false],
    ['gpt-?o', 'gpt-4o', true], ['gpt-?o', 'gpt-40o', false], ['*', '', true], ['claude-*-4-5*', 'claude-sonnet-4-5-20250929', true],
    ['a.b', 'axb', false], ['a+b', 'a+b', true], ['(x)', '(x)', true], ['GPT-4O', 'gpt-4o', true], ['*.openai.com', 'api.openai.com', true],
    ['*.openai.com', 'openai.com', false], ['x*', 'x\ny', true],
  ])('%s ~ %j = %s', (glob, s, want) => {
    expect(globToRegExp(glob).test(s)).toBe(want);
  });
});

describe('hostOf / pathHasPrefix', () => {
  it.each([
    ['API.OpenAI.com:443', 'api.openai.com'], ['api.openai.com.', 'api.openai.com'], ['[::1]:8080', '[::1]'], ['10.0.0.1:80', '10.0.0.1'],
    [' localhost ', 'localhost'],
  ])('host of %j is %j', (authority, want) => {
    expect(hostOf(authority)).toBe(want);
  });

  it.each([
    ['/v1/chat/completions', '/v1/chat', true], ['/v1/chat', '/v1/chat', true], ['/v1/chatter', '/v1/chat', false],
    ['/v1/chat/completions?x=1', '/v1/chat/completions', true], ['/v1/chat/', '/v1/chat/', true], ['/v1/chat/x', '/v1/chat/', true],
    ['/anything', '/', true], ['/v2/chat', '/v1', false], ['/v1#frag', '/v1', true],
  ])('%s has prefix %s: %s', (path, prefix, want) => {
    expect(pathHasPrefix(path, prefix)).toBe(want);
  });
});

describe('compileMatcher', () => {
  const all = policy('all', '');
  const openaiHost = policy('openai-host', '  hosts: ["api.openai.com", "*.openai.azure.com"]');
  const chatOnly = policy('chat', '  match: {paths: [/v1/chat]}');
  const gpt4o = policy('gpt4o', '  match: {models: ["gpt-4o*"]}');
  const routed = policy('routed', '  targetRefs: [{kind: HTTPRoute, name: openai}]', 'llm');
  const m = compileMatcher([all, openaiHost, chatOnly, gpt4o, routed]);
  const names = (input: MatchInput): string[] => m.match(input).map((p) => p.name);

  it.each<[string, Partial<MatchInput>, string[]]>([
    ['everything matches a plain chat request', {}, ['all', 'openai-host', 'chat', 'gpt4o', 'routed']],
    ['unmetered traffic matches nothing', { endpoint: undefined }, []],
    ['host globs, port and case ignored', { host: 'MyRes.OpenAI.Azure.com:443' }, ['all', 'openai-host', 'chat', 'gpt4o', 'routed']],
    ['another host', { host: 'api.anthropic.com', path: '/v1/messages', model: 'claude-sonnet-4-5', endpoint: 'anthropic.messages' },
      ['all', 'routed']],
    ['path prefix is segment-wise', { path: '/v1/responses' }, ['all', 'openai-host', 'gpt4o', 'routed']],
    ['no model: model filters do not match', { model: undefined }, ['all', 'openai-host', 'chat', 'routed']],
    ['model after a provider prefix', { model: 'openai/gpt-4o-mini' }, ['all', 'openai-host', 'chat', 'gpt4o', 'routed']],
    ['model globs are case-insensitive', { model: 'GPT-4o' }, ['all', 'openai-host', 'chat', 'gpt4o', 'routed']],
    ['attached policies (Kubernetes mode) select policies with targetRefs', { attachedPolicies: ['other/x'] }, ['all', 'openai-host', 'chat', 'gpt4o']],
    ['attached by namespace/name', { attachedPolicies: ['llm/routed'] }, ['all', 'openai-host', 'chat', 'gpt4o', 'routed']],
  ])('%s', (_name, over, want) => {
    expect(names(req(over))).toEqual(want);
  });

  it('keeps the set it was built from', () => {
    expect(m.policies.length).toBe(5);
    expect(compileMatcher([]).match(req())).toEqual([]);
  });
});
