/**
 * `node --expose-gc dist/bench/encoding-child.js IMPL ENCODING`: loads one tokenizer vocabulary in a fresh process and
 * prints (JSON) its load time and the RSS and heap it added after GC, so each figure is that vocabulary alone.
 */
import { createTokenizer, isEncodingName, type TokenizerImpl } from '../src/tokenize/tokenizer.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 30));
  }
  return process.memoryUsage();
}

const [impl, encoding] = [process.argv[2] as TokenizerImpl, process.argv[3]];
if (!isEncodingName(encoding)) throw new Error(`unknown encoding ${String(encoding)}`);
const tok = createTokenizer(encoding, impl);
const before = await settle();
const t0 = performance.now();
tok.count('warm up: load the vocabulary');
const loadMs = performance.now() - t0;
const after = await settle();
console.log(JSON.stringify({ name: tok.name, loadMs, rss: after.rss - before.rss, heap: after.heapUsed - before.heapUsed }));
