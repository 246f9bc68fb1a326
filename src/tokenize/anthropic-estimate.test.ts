import { describe, expect, it } from 'vitest';
import { anthropicFamily, anthropicToolPrompt } from './anthropic-estimate.js';

describe("Anthropic's published tool-use system prompt, by model and tool_choice", () => {
  it.each([
    // [model as sent, auto/none, any/tool] — the current table (Tool use with Claude → Pricing)
    ['claude-opus-4-6', 497, 589],
    ['claude-sonnet-4-6', 497, 589],
    ['claude-sonnet-4-5-20250929', 496, 588],
    ['claude-haiku-4-5-20251001', 496, 588],
    ['claude-opus-4-5', 496, 588],
    ['claude-opus-4-7', 675, 804],
    ['claude-opus-4-8', 290, 410],
    ['claude-opus-5', 286, 406],
    ['claude-sonnet-5', 354, 474],
    ['claude-sonnet-4-20250514', 313, 315],
    ['claude-sonnet-4-0', 313, 315],
    ['claude-opus-4-1-20250805', 313, 315],
    ['claude-opus-4-20250514', 313, 315],
    ['claude-3-5-haiku-20241022', 264, 355],
    // retired models: the earlier revision's rows
    ['claude-3-7-sonnet-latest', 346, 313],
    ['claude-3-5-sonnet-20240620', 346, 313],
    ['claude-3-opus-20240229', 530, 281],
    ['claude-3-sonnet-20240229', 159, 235],
    ['claude-3-haiku-20240307', 264, 340],
    // provider-qualified names (Bedrock, Vertex, gateways)
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 496, 588],
    ['anthropic.claude-sonnet-4-20250514-v1:0', 313, 315],
    ['claude-sonnet-4@20250514', 313, 315],
    ['anthropic/claude-opus-4-6', 497, 589],
  ])('%s: auto %i, forced %i', (model, auto, forced) => {
    expect(anthropicToolPrompt(model, undefined)).toBe(auto);
    expect(anthropicToolPrompt(model, { type: 'auto' })).toBe(auto);
    expect(anthropicToolPrompt(model, { type: 'none' })).toBe(auto);
    expect(anthropicToolPrompt(model, { type: 'any' })).toBe(forced);
    expect(anthropicToolPrompt(model, { type: 'tool', name: 'x' })).toBe(forced);
  });

  it('an unknown Claude model gets the latest generation row, not an old one', () => {
    expect(anthropicToolPrompt('claude-future-9', undefined)).toBe(497);
    expect(anthropicToolPrompt(undefined, { type: 'any' })).toBe(589);
  });
});

describe('model families the accuracy is reported by', () => {
  it.each([
    ['claude-3-opus-latest', 'claude-3'],
    ['claude-3-5-sonnet-20240620', 'claude-3.5'],
    ['claude-3-7-sonnet-latest', 'claude-3.7'],
    ['claude-sonnet-4-20250514', 'claude-4'],
    ['claude-sonnet-4-0', 'claude-4'],
    ['claude-opus-4-1-20250805', 'claude-4'],
    ['claude-sonnet-4-5', 'claude-4.5'],
    ['claude-haiku-4-5-20251001', 'claude-4.5'],
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-4.5'],
    ['claude-opus-4-6', 'claude-4.6'],
    ['claude-opus-5', 'claude-5'],
    ['gpt-4o', 'other'],
  ])('%s → %s', (model, family) => {
    expect(anthropicFamily(model)).toBe(family);
  });
});
