/**
 * The recorded exchanges the mock LLM replays (from test/fixtures/llm, see its README and manifest.json) and the
 * files that ship it: an index (fixture key → response file and content type) plus the response bodies, either
 * pointing into test/fixtures/llm (local runs) or flattened into one ConfigMap next to server.mjs (the cluster).
 *
 * - `chat`: OpenAI chat, not streamed, gpt-3.5-turbo with a tool definition; OpenAI reported 70 prompt + 46
 *   completion tokens.
 * - `chat-stream`: OpenAI chat streamed (SSE) with include_usage, gpt-4o-mini; 23 prompt + 8 completion tokens.
 *
 * Both request bodies were recorded verbatim, so tokenmeter's pre-count must equal the prompt tokens OpenAI reported.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LLM_FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/llm/', import.meta.url));
export const MOCK_SERVER_FILE = fileURLToPath(new URL('./server.mjs', import.meta.url));

export type FixtureKey = 'chat' | 'chat-stream';

export interface MockFixture {
  key: FixtureKey;
  /** Paths relative to test/fixtures/llm. */
  request: string;
  response: string;
  contentType: string;
  stream: boolean;
  /** What OpenAI reported for this exchange (manifest.json `usage.final`). */
  usage: { prompt: number; completion: number; total: number };
  /** The model the response names (the `model` label of the metrics, before normalisation). */
  responseModel: string;
}

interface ManifestEntry {
  dir: string;
  name: string;
  req?: string;
  resp: string;
  ctype: string | null;
  streaming: boolean;
  body_fidelity?: string;
  usage: { final?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number }; model?: string };
}

const CHOSEN: Record<FixtureKey, { dir: string; name: string }> = {
  chat: { dir: 'openai-chat', name: 'oll_gpt-3.5-turbo_parallel-tools' },
  'chat-stream': { dir: 'openai-chat-stream-usage', name: 'oll_agno_gpt-4o-mini_include-usage' },
};

let cached: Record<FixtureKey, MockFixture> | undefined;

function responseModel(body: Buffer, stream: boolean): string {
  if (!stream) return (JSON.parse(body.toString('utf8')) as { model: string }).model;
  for (const line of body.toString('utf8').split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const m = (JSON.parse(line.slice(6)) as { model?: string }).model;
    if (m) return m;
  }
  throw new Error('no model in the SSE fixture');
}

/** The two fixtures, checked against manifest.json (verbatim bodies, usage reported). */
export function mockFixtures(): Record<FixtureKey, MockFixture> {
  if (cached) return cached;
  const manifest = JSON.parse(readFileSync(join(LLM_FIXTURE_DIR, 'manifest.json'), 'utf8')) as ManifestEntry[];
  const build = (key: FixtureKey): MockFixture => {
    const want = CHOSEN[key];
    const e = manifest.find((m) => m.dir === want.dir && m.name === want.name);
    if (!e?.req) throw new Error(`fixture ${want.dir}/${want.name} (with a request) not in manifest.json`);
    const f = e.usage.final;
    if (f?.prompt_tokens === undefined || f.completion_tokens === undefined || f.total_tokens === undefined) {
      throw new Error(`fixture ${want.dir}/${want.name}: no provider usage in manifest.json`);
    }
    if (e.body_fidelity !== 'verbatim') throw new Error(`fixture ${want.dir}/${want.name}: body not verbatim (${e.body_fidelity ?? '?'})`);
    return {
      key, request: e.req, response: e.resp, contentType: e.ctype ?? 'application/json', stream: e.streaming,
      usage: { prompt: f.prompt_tokens, completion: f.completion_tokens, total: f.total_tokens },
      responseModel: responseModel(readFileSync(join(LLM_FIXTURE_DIR, e.resp)), e.streaming),
    };
  };
  cached = { chat: build('chat'), 'chat-stream': build('chat-stream') };
  return cached;
}

export function fixtureResponse(key: FixtureKey): Buffer {
  return readFileSync(join(LLM_FIXTURE_DIR, mockFixtures()[key].response));
}

export function fixtureRequest(key: FixtureKey): Record<string, unknown> {
  return JSON.parse(readFileSync(join(LLM_FIXTURE_DIR, mockFixtures()[key].request), 'utf8')) as Record<string, unknown>;
}

/** server.mjs's index: fixture key → response file (relative to the index's directory, or absolute) and content type. */
export type MockIndex = Record<string, { file: string; contentType: string }>;

/** The index for a local run: absolute paths into test/fixtures/llm. */
export function localIndex(): MockIndex {
  return Object.fromEntries(Object.values(mockFixtures()).map((f) => [f.key, { file: join(LLM_FIXTURE_DIR, f.response), contentType: f.contentType }]));
}

function flatName(f: MockFixture): string {
  return `${f.key}.response.${f.stream ? 'sse' : 'json'}`;
}

export interface ConfigMapObject {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  data: Record<string, string>;
  binaryData?: Record<string, string>;
}

/**
 * ConfigMap content for files: text that survives a UTF-8 round trip goes in `data` (readable with kubectl), anything
 * else base64 in `binaryData`, so the pod reads exactly these bytes. Also a short hash of names and contents.
 */
export function configMapFiles(files: Readonly<Record<string, Buffer>>): { data: Record<string, string>; binaryData?: Record<string, string>; hash: string } {
  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  const hash = createHash('sha256');
  for (const [k, buf] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(k).update('\0').update(buf).update('\0');
    const text = buf.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(buf)) data[k] = text;
    else binaryData[k] = buf.toString('base64');
  }
  return { data, ...(Object.keys(binaryData).length > 0 ? { binaryData } : {}), hash: hash.digest('hex').slice(0, 16) };
}

/** The ConfigMap mounted at /mock in the cluster: server.mjs, index.json and the response bodies under flat names. */
export function mockConfigMap(name: string, namespace: string): { configMap: ConfigMapObject; hash: string } {
  const files: Record<string, Buffer> = { 'server.mjs': readFileSync(MOCK_SERVER_FILE) };
  const index: MockIndex = {};
  for (const f of Object.values(mockFixtures())) {
    files[flatName(f)] = readFileSync(join(LLM_FIXTURE_DIR, f.response));
    index[f.key] = { file: flatName(f), contentType: f.contentType };
  }
  files['index.json'] = Buffer.from(`${JSON.stringify(index, null, 2)}\n`);
  const { hash, ...content } = configMapFiles(files);
  const configMap: ConfigMapObject = {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'tokenmeter-e2e' } },
    ...content,
  };
  return { configMap, hash };
}
