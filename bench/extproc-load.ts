/**
 * Load against an ext_proc server process through the Envoy emulator: the recommended Envoy sequence (request
 * headers, a 4 KB buffered chat request, response headers, 100 SSE chunks ending with usage).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createEnvoyClient, runExchange, type Exchange } from '../test/envoy/emulator.js';
import type { ExternalProcessorClient } from '../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from '../src/cli/runtime-flags.js';

export interface ServerProcess {
  child: ChildProcess;
  client: ExternalProcessorClient;
  /**
   * A new client on its own connection. Node's HTTP/2 client closes a session after ~1,150 emulated exchanges (1,000
   * frames for streams it already reset, from ending each stream with half-close + cancel): runs longer than that
   * reconnect between rounds.
   */
  reconnect(): void;
  sample(gc?: boolean): Promise<ServerSample>;
  stop(): void;
  /** Starts profiling the server's main thread; `stop` writes the profile to `file`. */
  profile(): Promise<{ stop(file: string): Promise<void> }>;
  /** Switches the spend ledger on or off (the `ledger-toggle-*` kinds; others reject). */
  setLedger(on: boolean): Promise<void>;
}

export interface ServerSample {
  /** CPU time of the process, all threads (µs). */
  cpuUs: number;
  /** CPU time of its main thread (µs, 10 ms ticks). */
  mainCpuUs: number;
  rss: number;
  heap: number;
}

export async function startServerProcess(
  kind: 'tokenmeter' | 'budgets' | 'echo' | 'ledger-sqlite' | 'ledger-postgres' | 'ledger-toggle-sqlite' | 'ledger-toggle-postgres' | 'policy-file', redisUrl?: string,
  nodeFlags: readonly string[] = RUNTIME_NODE_FLAGS, env: Readonly<Record<string, string>> = RUNTIME_ENV,
  /** `messageTimeoutS`: Envoy's message timeout the server is told; `flags`: more tokenmeter flags (e.g. --ledger-flush-interval). */
  more: { messageTimeoutS?: number; flags?: readonly string[] } = {},
): Promise<ServerProcess> {
  const script = fileURLToPath(new URL('./server-child.js', import.meta.url));
  const flags = more.flags ?? [];
  const args = [kind, redisUrl ?? '-', ...(more.messageTimeoutS === undefined ? [] : [String(more.messageTimeoutS)]), ...(flags.length > 0 ? ['--', ...flags] : [])];
  const child = fork(script, args, { execArgv: ['--expose-gc', ...nodeFlags, ...(process.argv.includes('--prof') ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  const ask = (msg: string): Promise<unknown> => new Promise((resolve) => {
    child.once('message', resolve);
    child.send(msg);
  });
  const server: ServerProcess = {
    child, client: createEnvoyClient(`127.0.0.1:${port}`),
    reconnect: () => {
      server.client.close();
      server.client = createEnvoyClient(`127.0.0.1:${port}`, true);
    },
    sample: (gc = false) => new Promise((resolve) => {
      child.once('message', (m: ServerSample) => resolve(m));
      child.send(gc ? 'gc' : 'sample');
    }),
    stop: () => {
      server.client.close();
      child.kill('SIGKILL');
    },
    profile: async () => {
      await ask('profile-start');
      return { stop: (file) => ask(`profile-stop:${file}`).then(() => undefined) };
    },
    setLedger: async (on) => {
      const reply = await ask(on ? 'ledger-on' : 'ledger-off') as { ledger?: unknown };
      if (reply.ledger !== on) throw new Error(`${kind} server cannot switch its ledger (${String(reply.ledger)})`);
    },
  };
  return server;
}

/** Envoy's buffer raised to tokenmeter's 8 MiB body cap, as the README tells deployments to (Envoy's default is 1 MiB). */
export const BENCH_BUFFER_LIMIT = 8 * 1024 * 1024;

const PROSE = 'The quick brown fox jumps over the lazy dog while the committee reviews the quarterly budget. ';

export function chatExchange(requestBytes: number, chunks: number): Exchange {
  const content = PROSE.repeat(Math.ceil(requestBytes / PROSE.length)).slice(0, requestBytes);
  const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content }] }));
  const responseChunks: Buffer[] = [];
  for (let i = 0; i < chunks - 1; i++) {
    responseChunks.push(Buffer.from(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: ' word' } }], usage: null })}\n\n`));
  }
  responseChunks.push(Buffer.from(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 900, completion_tokens: chunks - 1, total_tokens: 900 + chunks - 1 } })}\n\ndata: [DONE]\n\n`));
  return {
    path: '/v1/chat/completions', requestHeaders: { 'content-type': 'application/json' }, requestChunks: [body],
    status: 200, responseHeaders: { 'content-type': 'text/event-stream' }, responseChunks,
  };
}

export interface LoadResult {
  requests: number;
  /** Exchanges the server answered with an immediate response (a refusal: 429, 400...) or Envoy answered itself. */
  refused: number;
  seconds: number;
  cpuUsPerRequest: number;
  latencies: { all: number[]; responseBody: number[] };
}

/**
 * Runs `total` exchanges with `concurrency` in flight; measures the server's CPU and every reply's latency. `ex` is one
 * exchange sent every time, or the i-th exchange of a sequence (i from 0; the same sequence for every server).
 */
export async function runLoad(server: ServerProcess, ex: Exchange | ((i: number) => Exchange), concurrency: number, total: number, chunkIntervalMs = 0): Promise<LoadResult> {
  const all: number[] = [];
  const responseBody: number[] = [];
  const exchange = typeof ex === 'function' ? ex : (): Exchange => ex;
  let next = 0;
  let refused = 0;
  const before = await server.sample();
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      const res = await runExchange(server.client, exchange(next++), { messageTimeoutMs: 60_000, chunkIntervalMs, bufferLimitBytes: BENCH_BUFFER_LIMIT });
      if (res.immediate !== undefined || res.localReply !== undefined) refused++;
      res.latenciesMs.forEach((l, i) => {
        all.push(l);
        if (res.replies[i]?.response === 'response_body') responseBody.push(l);
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  const after = await server.sample();
  return { requests: total, refused, seconds, cpuUsPerRequest: (after.cpuUs - before.cpuUs) / total, latencies: { all, responseBody } };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
