/**
 * The recorded LLM exchanges in test/fixtures/llm and the usage each provider reported, mapped to tokenmeter's billing
 * terms (the ground truth the replay tests compare against).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Usage } from '../../src/llm/types.js';

/** test/fixtures/llm, from the sources (tests) or from dist/test/helpers (the compiled demo and bench). */
export const FIXTURE_DIR = [new URL('../fixtures/llm/', import.meta.url), new URL('../../../test/fixtures/llm/', import.meta.url)]
  .map((u) => fileURLToPath(u)).find((d) => existsSync(`${d}manifest.json`)) ?? fileURLToPath(new URL('../fixtures/llm/', import.meta.url));

export interface FixtureEntry {
  dir: string;
  name: string;
  req?: string;
  resp: string;
  /** null for response-only recordings (vercel-ai-chunks). */
  url: string | null;
  status: number;
  ctype: string | null;
  enc: string | null;
  model: string;
  streaming: boolean;
  usage: Record<string, unknown>;
  body_fidelity?: string;
}

export function loadManifest(): FixtureEntry[] {
  return JSON.parse(readFileSync(`${FIXTURE_DIR}manifest.json`, 'utf8')) as FixtureEntry[];
}

/** An exchange recorded on the wire: it has a request URL. */
export type WireEntry = FixtureEntry & { url: string };

/** The exchanges recorded on the wire (all but the response-only vercel-ai-chunks). */
export function wireEntries(): WireEntry[] {
  return loadManifest().filter((e): e is WireEntry => e.url !== null);
}

export function fixtureFile(rel: string): Buffer {
  return readFileSync(`${FIXTURE_DIR}${rel}`);
}

export function hasRequest<E extends FixtureEntry>(e: E): e is E & { req: string } {
  return e.req !== undefined && existsSync(`${FIXTURE_DIR}${e.req}`);
}

type Raw = Record<string, unknown>;
const num = (o: Raw | undefined, k: string): number | undefined => (typeof o?.[k] === 'number' ? o[k] : undefined);
const obj = (o: Raw | undefined, k: string): Raw | undefined => (typeof o?.[k] === 'object' && o[k] !== null ? (o[k] as Raw) : undefined);

export type Family = 'openai' | 'anthropic' | 'gemini';

export function familyOf(e: FixtureEntry): Family {
  if (e.dir.startsWith('anthropic') || e.name.startsWith('anthropic')) return 'anthropic';
  if (e.dir.startsWith('gemini') || e.name.startsWith('gemini') || e.name.startsWith('google')) return 'gemini';
  return 'openai';
}

/** The usage the provider reported, in tokenmeter terms; undefined when it reported none (or an error). */
export function expectedUsage(e: FixtureEntry): Usage | undefined {
  const u = e.usage;
  if (!u || u.error !== undefined) return undefined;
  const final = obj(u, 'final');
  switch (familyOf(e)) {
    case 'anthropic': {
      const start = obj(u, 'message_start');
      const last = final ?? { ...start, ...obj(u, 'message_delta') };
      const read = num(last, 'cache_read_input_tokens');
      const write = num(last, 'cache_creation_input_tokens');
      const input = (num(last, 'input_tokens') ?? 0) + (read ?? 0) + (write ?? 0);
      const out: Usage = { inputTokens: input, outputTokens: num(last, 'output_tokens') ?? 0 };
      if (read !== undefined) out.cachedInputTokens = read;
      if (write !== undefined) out.cacheWriteTokens = write;
      return out;
    }
    case 'gemini': {
      if (!final) return undefined;
      const thoughts = num(final, 'thoughtsTokenCount');
      const out: Usage = {
        inputTokens: (num(final, 'promptTokenCount') ?? 0) + (num(final, 'toolUsePromptTokenCount') ?? 0),
        outputTokens: (num(final, 'candidatesTokenCount') ?? 0) + (thoughts ?? 0),
        totalTokens: num(final, 'totalTokenCount'),
      };
      if (num(final, 'cachedContentTokenCount') !== undefined) out.cachedInputTokens = num(final, 'cachedContentTokenCount');
      if (thoughts !== undefined) out.reasoningTokens = thoughts;
      return out;
    }
    default: {
      if (!final) return undefined;
      const input = num(final, 'prompt_tokens') ?? num(final, 'input_tokens');
      const output = num(final, 'completion_tokens') ?? num(final, 'output_tokens') ?? (num(final, 'prompt_tokens') !== undefined ? 0 : undefined);
      const details = obj(final, 'prompt_tokens_details') ?? obj(final, 'input_tokens_details');
      const outDetails = obj(final, 'completion_tokens_details') ?? obj(final, 'output_tokens_details');
      const out: Usage = { inputTokens: input, outputTokens: output, totalTokens: num(final, 'total_tokens') };
      if (num(details, 'cached_tokens') !== undefined) out.cachedInputTokens = num(details, 'cached_tokens');
      if (num(outDetails, 'reasoning_tokens') !== undefined) out.reasoningTokens = num(outDetails, 'reasoning_tokens');
      return out;
    }
  }
}

/** The recorded response body as the provider sent it on the wire (gzip re-applied where it sent gzip), with its headers. */
export function wireResponse(e: FixtureEntry): { body: Buffer; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  if (e.ctype) headers['content-type'] = e.ctype;
  if (e.enc !== 'gzip') return { body: fixtureFile(e.resp), headers };
  headers['content-encoding'] = 'gzip';
  return { body: gzipSync(fixtureFile(e.resp)), headers };
}
