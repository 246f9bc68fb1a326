/**
 * Memory at rest: an ext_proc process idle after start, then idle again after OpenAI gpt-4o-family traffic (the
 * only vocabulary it loads is o200k_base); and each vocabulary's own cost, measured in a fresh process.
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

/** As the image runs it (RUNTIME_NODE_FLAGS, RUNTIME_ENV) by default; `plain`: Node's and glibc's defaults. */
export async function memoryAtRest(plain = false): Promise<AtRest> {
  const server = plain ? await startServerProcess('tokenmeter', undefined, [], {}) : await startServerProcess('tokenmeter');
  try {
    await new Promise((r) => setTimeout(r, 500));
    const start = await server.sample(true);
    await runLoad(server, chatExchange(4096, 20), 4, 400);
    await new Promise((r) => setTimeout(r, 1000));
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
