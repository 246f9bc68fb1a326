/**
 * The built binary (`node dist/src/cli/main.js extproc …`) as a child process on free ports, with its JSON log lines
 * collected, an Envoy emulator client, and small synthetic LLM exchanges to load it with. For the ledger tests that
 * need real processes: two replicas, SIGTERM, kill -9.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createEnvoyClient, runExchange, type Exchange } from '../envoy/emulator.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { freePort } from './free-port.js';

export const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface ExtprocProcess {
  child: ChildProcess;
  client: ExternalProcessorClient;
  /** host:port of the gRPC listener. */
  address: string;
  admin: string;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** The value of a metric on /metrics (sum over its series), or 0. */
  metric(name: string): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

async function waitFor(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `command`: `extproc`, or `console` (it takes the same flags; its gRPC address is unused). */
export async function startExtproc(args: string[], env: Record<string, string> = {}, command: 'extproc' | 'console' = 'extproc'): Promise<ExtprocProcess> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build (npm test does)`);
  const [gp, ap] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [BIN, command, '--grpc-address', `127.0.0.1:${gp}`, '--admin-address', `127.0.0.1:${ap}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', ...env },
  });
  const logs: Record<string, unknown>[] = [];
  let partial = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('{')) logs.push(JSON.parse(l) as Record<string, unknown>);
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const admin = `http://127.0.0.1:${ap}`;
  try {
    await Promise.race([waitFor(`${admin}/readyz`, 20_000), exited.then((c) => {
      throw new Error(`${command} exited with ${c}: ${stderr}`);
    })]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const client = createEnvoyClient(`127.0.0.1:${gp}`);
  return {
    child, client, admin, logs, exited, address: `127.0.0.1:${gp}`,
    metric: async (name) => {
      const text = await (await fetch(`${admin}/metrics`)).text();
      let sum = 0;
      for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))) sum += Number(m[1]);
      return sum;
    },
    stop: async (signal = 'SIGTERM') => {
      client.close();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A small OpenAI chat exchange (buffered JSON response with usage) for request i. */
export function smallChat(i: number, tenant: string): { exchange: Exchange; input: number; output: number } {
  const input = 20 + (i % 50);
  const output = 5 + (i % 40);
  const body = { id: `c${i}`, object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }], usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } };
  return {
    input, output,
    exchange: {
      path: '/v1/chat/completions', requestHeaders: { 'content-type': 'application/json', 'x-request-id': `r-${tenant}-${i}`, 'x-tenant-id': tenant },
      requestChunks: [Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: `hello ${i}` }] }))],
      status: 200, responseHeaders: { 'content-type': 'application/json' }, responseChunks: [Buffer.from(JSON.stringify(body))],
    },
  };
}

export interface LoadOutcome {
  /** Request ids whose every reply arrived (the request was served). */
  completed: string[];
  /** Completion times (ms since the epoch), same order. */
  completedAt: number[];
  failed: number;
  /** The first few failure messages. */
  errors: string[];
}

/** Exchanges per client channel before a new one is opened (see load()). */
const PER_CHANNEL = 300;

/**
 * Sends `total` requests with `concurrency` in flight (optionally paced to `perSecond`), until done or `stop()`. Each
 * worker has its own channel and opens a new one every PER_CHANNEL exchanges: Node's HTTP/2 client (the emulator)
 * closes a session that has seen 1,000 frames for streams it already reset, which ending every stream with
 * half-close + cancel produces after about 1,150 exchanges on one channel (failing the streams open on it).
 */
export function load(address: string, tenant: string, total: number, concurrency: number, perSecond?: number): { done: Promise<LoadOutcome>; stop(): void } {
  const out: LoadOutcome = { completed: [], completedAt: [], failed: 0, errors: [] };
  let next = 0;
  let stopped = false;
  const start = Date.now();
  const worker = async (): Promise<void> => {
    let client: ExternalProcessorClient | undefined;
    let used = 0;
    while (!stopped && next < total) {
      const i = next++;
      if (!client || used++ >= PER_CHANNEL) {
        client?.close();
        client = createEnvoyClient(address, true);
        used = 1;
      }
      if (perSecond) {
        const due = start + (i * 1000) / perSecond;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      }
      const { exchange } = smallChat(i, tenant);
      try {
        await runExchange(client, exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: 10_000 });
        out.completed.push(String(exchange.requestHeaders?.['x-request-id']));
        out.completedAt.push(Date.now());
      } catch (err) {
        out.failed++;
        if (out.errors.length < 5) out.errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    client?.close();
  };
  return { done: Promise.all(Array.from({ length: concurrency }, worker)).then(() => out), stop: () => (stopped = true) };
}
