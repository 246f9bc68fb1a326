/**
 * Memory at rest: an ext_proc process idle after start, then idle again after OpenAI gpt-4o-family traffic (the
 * only vocabulary it loads is o200k_base), with the spend ledger off and with the default SQLite ledger on; and each
 * vocabulary's own cost, measured in a fresh process.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chatExchange, runLoad, startServerProcess } from './extproc-load.js';

export interface AtRest {
  idleAfterStartMiB: number;
  idleAfterGpt4oMiB: number;
}

export interface VocabularyCost {
  name: string;
  loadMs: number;
  rssMiB: number;
  heapMiB: number;
}

const MiB = 1024 * 1024;
/** Idle time before each sample: the ledger's SQLite thread stops after 10 s without work (src/ledger/sqlite-worker.ts). */
const IDLE_MS = 13_000;

/**
 * As the image runs it (RUNTIME_NODE_FLAGS, RUNTIME_ENV) by default; `plain`: Node's and glibc's defaults. `kind`:
 * the ledger off (`tokenmeter`) or the default SQLite ledger on (`ledger-sqlite`); both idle the same time before
 * each sample (the ledger opens its file, and so starts its thread, at start-up).
 */
export async function memoryAtRest(plain = false, kind: 'tokenmeter' | 'ledger-sqlite' = 'tokenmeter'): Promise<AtRest> {
  const server = plain ? await startServerProcess(kind, undefined, [], {}) : await startServerProcess(kind);
  try {
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const start = await server.sample(true);
    await runLoad(server, chatExchange(4096, 20), 4, 400);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const after = await server.sample(true);
    return { idleAfterStartMiB: start.rss / MiB, idleAfterGpt4oMiB: after.rss / MiB };
  } finally {
    server.stop();
  }
}

export function vocabularyCosts(): VocabularyCost[] {
  const script = fileURLToPath(new URL('./encoding-child.js', import.meta.url));
  const rows: VocabularyCost[] = [];
  for (const [impl, enc] of [['compact', 'o200k_base'], ['compact', 'cl100k_base'], ['gpt-tokenizer', 'o200k_base'], ['gpt-tokenizer', 'cl100k_base'], ['js-tiktoken', 'o200k_base']]) {
    const out = execFileSync(process.execPath, ['--expose-gc', script, impl as string, enc as string], { encoding: 'utf8' });
    const r = JSON.parse(out) as { name: string; loadMs: number; rss: number; heap: number };
    rows.push({ name: r.name, loadMs: r.loadMs, rssMiB: r.rss / MiB, heapMiB: r.heap / MiB });
  }
  return rows;
}
