/**
 * Running the mock LLM locally, exactly as the pod runs it (`node server.mjs`, configured by environment), for the
 * unit tests: on 127.0.0.1, port 0 (the port is read from its "listening" line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localIndex, MOCK_SERVER_FILE } from './fixtures.js';

export interface LocalMock {
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything it printed. */
  output(): string;
  /** SIGTERM, resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface LocalMockOptions {
  /** The script to run (default test/e2e/mock-llm/server.mjs). */
  script?: string;
  /** MOCK_INDEX; default: an index pointing into test/fixtures/llm. Pass null to let the script use ./index.json. */
  index?: string | null;
  chunkDelayMs?: number;
}

export async function startLocalMock(opts: LocalMockOptions = {}): Promise<LocalMock> {
  let tmp: string | undefined;
  let index = opts.index;
  if (index === undefined) {
    tmp = mkdtempSync(join(tmpdir(), 'tm-mock-llm-'));
    index = join(tmp, 'index.json');
    writeFileSync(index, JSON.stringify(localIndex()));
  }
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', MOCK_CHUNK_DELAY_MS: String(opts.chunkDelayMs ?? 2) };
  if (index === null) delete env.MOCK_INDEX;
  else env.MOCK_INDEX = index;
  const child = spawn(process.execPath, [opts.script ?? MOCK_SERVER_FILE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const cleanup = (): void => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mock-llm did not start in 10 s:\n${out}`)), 10_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /mock-llm listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mock-llm exited with code ${code ?? 'null'}:\n${out}`));
    });
  }).catch((e: unknown) => {
    cleanup();
    throw e;
  });
  return {
    url: `http://127.0.0.1:${port}`, port, process: child, output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      cleanup();
      return code;
    },
  };
}

/** A POST with the raw response (status, lower-case headers, body bytes, and how many chunks the body came in). */
export async function post(url: string, headers: Record<string, string>, body: Buffer | string): Promise<{ status: number; headers: Record<string, string>; body: Buffer; chunks: number }> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    out[k] = v;
  });
  const parts: Buffer[] = [];
  if (res.body) for await (const c of res.body) parts.push(Buffer.from(c as Uint8Array));
  return { status: res.status, headers: out, body: Buffer.concat(parts), chunks: parts.length };
}
