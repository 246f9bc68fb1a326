/**
 * `tokenmeter count FILE|-` as a user runs it: the built binary (`npm run build` first; `npm test` does), a fixture
 * file and stdin, options, and exit code 2 with a clear message for unusable input. The JSON is the one
 * POST /v1/count returns (the same function computes both).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { estimateRequest } from '../../src/metering/request-estimate.js';
import { FIXTURE_DIR, expectedUsage, fixtureFile, loadManifest } from '../helpers/fixtures.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'count', ...args], { encoding: 'utf8', input, env: { PATH: process.env['PATH'] ?? '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const entry = loadManifest().find((e) => e.name === 'oll_gpt-4o-mini_prompt-cache_miss');
if (!entry?.req) throw new Error('fixture oll_gpt-4o-mini_prompt-cache_miss missing');
const FILE = `${FIXTURE_DIR}${entry.req}`;

describe('tokenmeter count', () => {
  it('is built', () => expect(existsSync(BIN), 'run `npm run build` first (npm test does)').toBe(true));

  it('counts a file: the provider-reported prompt tokens, pretty JSON equal to the API answer', async () => {
    const r = run([FILE]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\{\n {2}"input_tokens": \d+,\n/);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ input_tokens: expectedUsage(entry)?.inputTokens, exact: true, endpoint: 'openai.chat', model: 'gpt-4o-mini' });
    const api = await estimateRequest({ body: JSON.parse(fixtureFile(entry.req ?? '').toString('utf8')) });
    expect(api.ok && api.estimate).toEqual(out);
  });

  it('reads stdin with -, and takes --endpoint (name or path) and --model', () => {
    const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Why is the sky blue?' }] }] });
    const sniffed = JSON.parse(run(['-'], body).stdout) as Record<string, unknown>;
    expect(sniffed).toMatchObject({ endpoint: 'gemini.generate', encoding: 'sentencepiece/gemma3', exact: true, model: null, price: null });
    const withModel = run(['-', '--model', 'gemini-2.5-flash'], body);
    expect(withModel.status).toBe(0);
    expect(JSON.parse(withModel.stdout)).toMatchObject({ model: 'gemini-2.5-flash', price: { input: 0.3 } });
    const byPath = JSON.parse(run(['-', '--endpoint', '/v1beta/models/gemini-2.5-pro:streamGenerateContent'], body).stdout) as Record<string, unknown>;
    expect(byPath).toMatchObject({ endpoint: 'gemini.stream', endpoint_from: 'path', model: 'gemini-2.5-pro' });
    const chat = JSON.stringify({ model: 'claude-x-local', messages: [{ role: 'user', content: 'hi' }] });
    expect(JSON.parse(run(['--endpoint', 'anthropic.messages', '-'], chat).stdout)).toMatchObject({ endpoint: 'anthropic.messages' });
  });

  it('exits 2 with a clear message on bad JSON, an unreadable file, an unknown endpoint or a missing FILE', () => {
    const bad = run(['-'], '{"model": "gpt-4o",');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^tokenmeter count: stdin: invalid JSON: /);
    const missing = run(['/nonexistent/body.json']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('cannot read /nonexistent/body.json');
    const endpoint = run([FILE, '--endpoint', 'openai.nope']);
    expect(endpoint.status).toBe(2);
    expect(endpoint.stderr).toContain('unknown endpoint "openai.nope"');
    const none = run([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('expected one FILE');
  });
});
