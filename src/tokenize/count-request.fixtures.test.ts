/**
 * Input counts against every recorded exchange in test/fixtures/llm (manifest `usage` = what the provider billed).
 * OpenAI-model requests must be exact; Anthropic/Gemini estimates are measured and bounded (table printed).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../llm/types.js';
import { countInputTokens, countInputTokensAsync } from './count-request.js';
import { knownEncoding } from './encodings.js';
import { TOKENIZER_IMPLS } from './tokenizer.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/llm');

interface Entry {
  dir: string;
  name: string;
  req?: string | null;
  model: string;
  status: number;
  usage: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null ? (v as Obj) : {});
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Entry[];

function endpointOf(dir: string): Endpoint | undefined {
  if (dir.startsWith('openai-chat')) return 'openai.chat';
  if (dir.startsWith('openai-responses')) return 'openai.responses';
  if (dir === 'openai-embeddings') return 'openai.embeddings';
  if (dir.startsWith('anthropic-messages')) return 'anthropic.messages';
  if (dir === 'gemini-generate') return 'gemini.generate';
  if (dir.startsWith('gemini-stream')) return 'gemini.stream';
  return undefined;
}

/** The billed input, in tokenmeter's terms (input includes cache reads and writes; Gemini adds tool-use prompt). */
function billedInput(endpoint: Endpoint, usage: Obj): number | undefined {
  const u = obj(usage['final'] ?? usage['message_start']);
  if (endpoint === 'anthropic.messages') {
    const s = obj(usage['message_start'] ?? usage['final']);
    return num(s['input_tokens']) + num(s['cache_read_input_tokens']) + num(s['cache_creation_input_tokens']);
  }
  if (endpoint.startsWith('gemini')) {
    return u['promptTokenCount'] === undefined ? undefined : num(u['promptTokenCount']) + num(u['toolUsePromptTokenCount']);
  }
  const v = u['prompt_tokens'] ?? u['input_tokens'];
  return typeof v === 'number' ? v : undefined;
}

interface Case {
  name: string;
  dir: string;
  endpoint: Endpoint;
  model: string;
  body: unknown;
  billed: number;
}

const cases: Case[] = [];
for (const e of manifest) {
  const endpoint = endpointOf(e.dir);
  if (!e.req || !endpoint || e.status !== 200) continue;
  const billed = billedInput(endpoint, e.usage);
  if (billed === undefined) continue;
  const body: unknown = JSON.parse(readFileSync(join(FIXTURES, e.req), 'utf8'));
  cases.push({ name: e.name, dir: e.dir, endpoint, model: e.model, body, billed });
}

const isOpenAi = (c: Case): boolean => c.endpoint.startsWith('openai.');
/** Exact-required: OpenAI shapes, an OpenAI model, and a count we can know from the request. */
const exactCases = cases.filter(
  (c) => isOpenAi(c) && knownEncoding(c.model) !== undefined && c.name !== 'llm_gpt-5.5_reasoning-tools-turn3' && c.name !== 'pyd_gpt-5_web-search_cached_stream',
);

describe('OpenAI input counts are exact on the recordings', () => {
  it('covers chat (text and tools), streaming chat, responses and embeddings', () => {
    const dirs = new Set(exactCases.map((c) => c.dir));
    for (const d of ['openai-chat', 'openai-chat-stream-usage', 'openai-responses', 'openai-responses-stream', 'openai-embeddings']) {
      expect(dirs.has(d), d).toBe(true);
    }
    expect(exactCases.filter((c) => JSON.stringify(c.body).includes('"tools"')).length).toBeGreaterThanOrEqual(4);
  });

  for (const impl of TOKENIZER_IMPLS) {
    it.each(exactCases.map((c) => [c.name, c] as const))(`${impl}: %s`, async (_n, c) => {
      const got = countInputTokens(c.endpoint, c.body, { impl });
      expect(got.tokens).toBe(c.billed);
      const gotAsync = await countInputTokensAsync(c.endpoint, c.body, { impl });
      expect(gotAsync).toEqual(got);
      // audio-output request still has text-only input → exact flag holds for all of these
      expect(got.exact).toBe(true);
    });
  }

  it('Azure deployment without a model name: exact once config names the model', () => {
    const c = cases.find((x) => x.name === 'oll_azure_deployment_chat');
    expect(c).toBeDefined();
    if (!c) return;
    const unknown = countInputTokens(c.endpoint, c.body);
    expect(unknown.exact).toBe(false);
    expect(countInputTokens(c.endpoint, c.body, { model: 'gpt-4o' })).toEqual({ tokens: c.billed, encoding: 'o200k_base', exact: true });
    expect(countInputTokens(c.endpoint, c.body, { overrides: { 'openllmetry-testing': 'o200k_base' } }).tokens).toBe(c.billed);
  });
});

function relErr(est: number, billed: number): number {
  return (est - billed) / Math.max(1, billed);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

describe('estimates against the recordings (error table)', () => {
  const rows = cases.map((c) => {
    const got = countInputTokens(c.endpoint, c.body);
    return { ...c, est: got.tokens, exact: got.exact, encoding: got.encoding, err: relErr(got.tokens, c.billed) };
  });

  it('prints the per-fixture table', () => {
    const lines = rows.map(
      (r) =>
        `${r.endpoint.padEnd(18)} ${r.name.padEnd(46)} billed ${String(r.billed).padStart(6)} est ${String(r.est).padStart(6)} ` +
        `diff ${String(r.est - r.billed).padStart(6)} ${(r.err * 100).toFixed(1).padStart(7)}% ${r.exact ? 'exact' : r.encoding}`,
    );
    console.log(['', ...lines].join('\n'));
    expect(rows.length).toBeGreaterThan(30);
  });

  for (const [provider, prefix, bound] of [['anthropic', 'anthropic.', 0.1], ['gemini', 'gemini.', 0.1]] as const) {
    it(`${provider}: median |relative error| below ${bound * 100}%, never exact`, () => {
      const mine = rows.filter((r) => r.endpoint.startsWith(prefix));
      expect(mine.length).toBeGreaterThan(5);
      for (const r of mine) expect(r.exact).toBe(false);
      const med = median(mine.map((r) => Math.abs(r.err)));
      console.log(`${provider}: n=${mine.length} median |err| ${(med * 100).toFixed(1)}%`);
      expect(med).toBeLessThan(bound);
    });
  }

  it('non-OpenAI model on the chat shape (deepseek-chat): a reasonable estimate, flagged', () => {
    const r = rows.find((x) => x.name === 'oll_deepseek-chat_usage-on-last-content-chunk');
    expect(r?.exact).toBe(false);
    expect(Math.abs(r?.err ?? 1)).toBeLessThan(0.5);
  });
});
