#!/usr/bin/env node
// Fits the Anthropic and Gemini estimate constants on the `fit` split of test/fixtures/llm and writes
// src/tokenize/fitted-constants.ts. Exchanges of the holdout split are filtered out before their files are read:
// the fit never sees them. Needs the compiled dist/ (npm run gen builds first). Used by scripts/gen.mjs.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = join(root, 'test/fixtures/llm');
export const FITTED_PATH = 'src/tokenize/fitted-constants.ts';

const num = (v) => (typeof v === 'number' ? v : 0);

function billed(e) {
  const u = e.usage ?? {};
  if (e.dir.startsWith('anthropic')) {
    const s = u.message_start ?? u.final;
    if (!s) return undefined;
    return num(s.input_tokens) + num(s.cache_read_input_tokens) + num(s.cache_creation_input_tokens);
  }
  if (e.dir.startsWith('gemini')) {
    const f = u.final;
    return f?.promptTokenCount === undefined ? undefined : num(f.promptTokenCount) + num(f.toolUsePromptTokenCount);
  }
  return undefined;
}

const ENDPOINT = { 'anthropic-messages': 'anthropic.messages', 'anthropic-messages-stream': 'anthropic.messages',
  'gemini-generate': 'gemini.generate', 'gemini-stream-sse': 'gemini.stream', 'gemini-stream-array': 'gemini.stream' };

/** The generated file's text. */
// eslint-disable-next-line @typescript-eslint/explicit-module-boundary-types -- plain JS: no annotations
export async function fittedConstantsText() {
  const { fitEstimates, fittedConstantsSource } = await import(pathToFileURL(join(root, 'dist/src/tokenize/fit-estimates.js')).href);
  const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8'));
  const cases = [];
  for (const e of manifest) {
    if (e.split !== 'fit') continue; // the holdout is never read
    const endpoint = ENDPOINT[e.dir];
    const y = billed(e);
    if (!endpoint || !e.req || e.status !== 200 || y === undefined) continue;
    const body = JSON.parse(readFileSync(join(FIXTURES, e.req), 'utf8'));
    cases.push({ name: e.name, split: e.split, endpoint, model: e.model, body, billed: y });
  }
  return fittedConstantsSource(fitEstimates(cases));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const text = await fittedConstantsText();
  writeFileSync(join(root, FITTED_PATH), text);
  process.stdout.write(text);
}
