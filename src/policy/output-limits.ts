/**
 * The most output tokens a model can produce in one response — what a request without max_tokens can cost at most,
 * so the MaxTokens reservation for it is a true upper bound. Documented limits as of 2025-11 (providers' model
 * pages); longest-prefix match on the normalised model name; undefined for unknown models (the policy's
 * defaultMaxTokens applies). Pure.
 */

const MAX_OUTPUT: readonly (readonly [prefix: string, tokens: number])[] = [
  ['gpt-5', 128_000], ['gpt-4.1', 32_768], ['gpt-4o-mini', 16_384], ['gpt-4o', 16_384], ['chatgpt-4o', 16_384],
  ['gpt-4-turbo', 4_096], ['gpt-4', 8_192], ['gpt-3.5-turbo', 4_096], ['o1-mini', 65_536], ['o1', 100_000],
  ['o3', 100_000], ['o4-mini', 100_000], ['gpt-oss', 131_072],
  ['claude-opus-4', 32_000], ['claude-sonnet-4', 64_000], ['claude-haiku-4', 64_000], ['claude-3-7-sonnet', 64_000],
  ['claude-3-5-sonnet', 8_192], ['claude-3-5-haiku', 8_192], ['claude-3-opus', 4_096], ['claude-3-haiku', 4_096],
  ['gemini-3', 65_536], ['gemini-2.5', 65_536], ['gemini-2.0-flash', 8_192], ['gemini-1.5', 8_192],
];

const BY_LENGTH = [...MAX_OUTPUT].sort((a, b) => b[0].length - a[0].length);

export function modelMaxOutput(model: string | undefined): number | undefined {
  if (!model) return undefined;
  const m = model.trim().toLowerCase().replace(/^models\//, '').replace(/^(openai|anthropic|google)[/.]/, '');
  return BY_LENGTH.find(([prefix]) => m.startsWith(prefix))?.[1];
}
