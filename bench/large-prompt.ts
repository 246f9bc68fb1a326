/**
 * The budget decision for a 7.9 MiB prompt (tokenmeter's default body cap is 8 MiB) against Envoy's timer at the
 * message timeout the operator renders: the echo floor (an ext_proc that answers at once with an empty reply: the
 * prompt's transfer alone), tokenmeter metering only, and tokenmeter with a budget in memory and in Redis. The prompt
 * is a streaming OpenAI chat request without include_usage, so tokenmeter's reply carries the body back (the
 * injection): the worst case. Server processes are separate from the emulator, as Envoy is.
 */
import { resolveSettings } from '../src/render/settings.js';
import { runExchange, type Exchange } from '../test/envoy/emulator.js';
import { BENCH_BUFFER_LIMIT, percentile, startServerProcess } from './extproc-load.js';

const PROSE = 'The quick brown fox jumps over the lazy dog while the committee reviews the quarterly budget. ';

export interface LargePromptRow {
  server: string;
  runs: number;
  p50Ms: number;
  maxMs: number;
  timeouts: number;
  echoesBody: boolean;
}

function prompt(bytes: number): Exchange {
  const content = PROSE.repeat(Math.ceil(bytes / PROSE.length)).slice(0, bytes - 120);
  return {
    path: '/v1/chat/completions', requestHeaders: { 'content-type': 'application/json', 'x-tenant-id': 'acme' },
    requestChunks: [Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content }] }))],
    status: 200, responseHeaders: { 'content-type': 'text/event-stream' }, responseChunks: [Buffer.from('data: [DONE]\n\n')],
  };
}

export async function benchLargePrompt(redisUrl: string | undefined, runs: number): Promise<{ timeoutMs: number; rows: LargePromptRow[] }> {
  const timeoutMs = resolveSettings({}).messageTimeoutMs;
  const ex = prompt(Math.floor(7.9 * 1024 * 1024));
  const kinds: [string, 'echo' | 'tokenmeter' | 'budgets', string | undefined][] = [
    ['echo floor', 'echo', undefined], ['metering only', 'tokenmeter', undefined], ['budget, memory store', 'budgets', undefined],
    ...(redisUrl ? [['budget, Redis store', 'budgets', redisUrl] as [string, 'budgets', string]] : []),
  ];
  const rows: LargePromptRow[] = [];
  for (const [name, kind, redis] of kinds) {
    const server = await startServerProcess(kind, redis, undefined, undefined, { messageTimeoutS: timeoutMs / 1000 });
    try {
      const latencies: number[] = [];
      let timeouts = 0;
      let echoesBody = false;
      for (let i = 0; i < runs + 1; i++) {
        const res = await runExchange(server.client, ex, { requestBodyMode: 'BUFFERED', messageTimeoutMs: timeoutMs, failureModeAllow: true, bufferLimitBytes: BENCH_BUFFER_LIMIT });
        if (i === 0) continue; // warm-up
        if (res.messageTimeout) timeouts++;
        echoesBody ||= res.requestBodyMutation !== undefined;
        const l = res.latenciesMs[1];
        if (l !== undefined) latencies.push(l);
      }
      rows.push({ server: name, runs, p50Ms: percentile(latencies, 50), maxMs: Math.max(...latencies), timeouts, echoesBody });
    } finally {
      server.stop();
    }
  }
  return { timeoutMs, rows };
}
