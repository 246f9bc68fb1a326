/**
 * Which Gemma vocabulary a Gemini model tokenizes with, and the per-turn framing Gemini adds, as the recordings show
 * (test/fixtures/llm, every text-only Gemini request):
 *
 * - Gemini 1.x and 2.0 count text with the Gemma 1/2 vocabulary (256,000 pieces) and add nothing per turn:
 *   crew_gemini-2.0-flash-exp_sse (163), pyd_gemini-2.0-flash_instructions (13 = 7 + 6),
 *   pyd_gemini-2.0-flash_response-schema (8), llmgem_gemini-1.5-flash-latest_pelican (9).
 * - Gemini 2.5, 3.x and the `-latest` aliases count with the Gemma 3 vocabulary (262,144 pieces) plus one token per
 *   content (each `contents[]` entry and the system instruction): oll_gemini_thoughts (4 + 1), llmgem_gemini-flash-
 *   latest_hi (1 + 1), llmgem_gemini-3-flash-preview_say-hello (3 + 1), pyd_gemini-2.5-flash_system_top-p
 *   (13 + 2), pyd_gemini-2.5-flash_system_empty-user (6 + 0 + 2), oi_gemini_reasoning_sse (10 + 1).
 *   Two recordings disagree and are listed as exemptions by the tests: a Vertex AI request (otel_vertex_gemini-2.5-
 *   flash, one less) and a request the safety filter blocked (pyd_gemini-2.5-flash_system_safety-block, two less).
 *
 * The vocabulary files live in vocab/ (see vocab/SOURCES.md) and are read on the first Gemini request only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SentencePieceBpe } from './sentencepiece.js';
import type { Tokenizer } from './tokenizer.js';

export type GemmaVocabulary = 'gemma' | 'gemma3';

export interface GeminiTokenization {
  vocabulary: GemmaVocabulary;
  /** Tokens added per content entry (and per system instruction). */
  perContent: number;
}

/** Model name (as in the URL: `gemini-2.5-flash`, `models/gemini-2.0-flash`, …) → vocabulary and framing. */
export function geminiTokenization(model: string | undefined): GeminiTokenization {
  const m = (model ?? '').toLowerCase().replace(/^.*\//, '');
  if (/^gemini-(1\.|2\.0)/.test(m)) return { vocabulary: 'gemma', perContent: 0 };
  return { vocabulary: 'gemma3', perContent: 1 };
}

/** The vocab/ folder, found upwards from this file (works from src/ under vitest and from dist/src/). */
function vocabDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'vocab');
    if (existsSync(join(candidate, 'gemma3.spbpe.gz'))) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/** One loaded vocabulary per name, shared by every caller; `null` when its file could not be read. */
const loaded = new Map<GemmaVocabulary, SentencePieceBpe | null>();

function load(name: GemmaVocabulary): SentencePieceBpe | null {
  const cached = loaded.get(name);
  if (cached !== undefined) return cached;
  let bpe: SentencePieceBpe | null = null;
  try {
    const dir = vocabDir();
    if (dir !== undefined) bpe = new SentencePieceBpe(readFileSync(join(dir, `${name}.spbpe.gz`)));
  } catch {
    bpe = null; // unreadable file: callers fall back to the estimate
  }
  loaded.set(name, bpe);
  return bpe;
}

/**
 * A tokenizer over a Gemma vocabulary, loaded by the first call (~0.4 s and ~35 MiB of RSS, once per process; the
 * first Gemini request pays it), or undefined when the vocabulary file is missing or unreadable (callers then fall
 * back to the o200k estimate).
 */
export function gemmaTokenizer(name: GemmaVocabulary): Tokenizer | undefined {
  const bpe = load(name);
  if (bpe === null) return undefined;
  return { name: `sentencepiece/${name}`, encoding: name, count: (text: string): number => bpe.count(text) };
}

/** Vocabularies this process has loaded (for /v1/models and the memory probe). */
export function loadedGemmaVocabularies(): string[] {
  return [...loaded.entries()].filter(([, v]) => v !== null).map(([k]) => `sentencepiece/${k}`);
}
