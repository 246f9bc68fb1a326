/**
 * Reads a V8 CPU profile (`node --cpu-prof`, or the inspector's Profiler.stop; one thread): self time per function, summed over the profile's samples
 * (each sample's time delta goes to the function on top of the stack). Functions are keyed by name and source
 * location; locations inside the project are shown relative to it, dependencies by package.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** The function's name ('(anonymous)' when it has none; V8's '(garbage collector)', '(program)', '(idle)'). */
  name: string;
  /** `path:line`, `pkg:name` for a dependency, `node:…` for Node's own code; '' for V8's pseudo-frames. */
  where: string;
  /** Self time, µs. */
  us: number;
}

export function sourceLocation(url: string, line: number): string {
  if (url === '') return '';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (dep) return `pkg:${dep[1] ?? ''}`;
  const own = /\/(src|bench|test|dist)\/(.*)$/.exec(url);
  return `${own ? `${own[1] ?? ''}/${own[2] ?? ''}` : url}:${line + 1}`;
}

/** Self time per function of the profile in `file`. */
export function selfTimes(file: string): Map<string, SelfTime> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byNode = new Map<number, SelfTime>();
  const out = new Map<string, SelfTime>();
  for (const n of p.nodes) {
    const name = n.callFrame.functionName || '(anonymous)';
    const where = sourceLocation(n.callFrame.url, n.callFrame.lineNumber);
    const key = `${name} ${where}`;
    let t = out.get(key);
    if (!t) {
      t = { name, where, us: 0 };
      out.set(key, t);
    }
    byNode.set(n.id, t);
  }
  // timeDeltas[i] is the time since the previous sample: it belongs to sample i - 1's stack.
  for (let i = 1; i < p.samples.length; i++) {
    const t = byNode.get(p.samples[i - 1] ?? -1);
    if (t) t.us += p.timeDeltas[i] ?? 0;
  }
  return out;
}
