/**
 * The cost of one budget decision (Limiter.admit, then settle; memory store; in this process) under a policy with
 * 1,000 overrides and 10 plan tiers, against the same policy without them: CPU time per request. Subjects cycle over
 * 2,000 tenants (half of them with an override) and requests name one of the 10 tiers in turn, so every lookup is
 * exercised; the baseline sends the same requests. Returns rows; prints nothing (the child prints its figure).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Limiter, type AdmitInput } from '../src/limits/limiter.js';
import { createMemoryStore } from '../src/limits/memory-store.js';
import { ObservedOutput } from '../src/limits/observed.js';
import { compileMatcher } from '../src/policy/match.js';
import { parsePolicies } from '../src/policy/parse.js';

export interface DecisionRow {
  policy: string;
  /** Median over the processes of each process's median batch. */
  cpuUsPerDecision: number;
  /** The least-disturbed process (shared machines: other load only adds). */
  minCpuUsPerDecision: number;
}

function policy(plans: boolean): string {
  const spec: Record<string, unknown> = {
    subject: { from: 'Header', name: 'x-tenant-id' },
    limits: [{ name: 'daily', tokens: 1e12, window: 'Day' }, { name: 'per-minute', tokens: 1e11, window: '1m' }],
    reservation: { output: 'MaxTokens' },
  };
  if (plans) {
    spec.tiers = {
      selector: { from: 'Header', name: 'x-plan' }, default: 'tier-0',
      plans: Array.from({ length: 10 }, (_, i) => ({ name: `tier-${i}`, limits: [{ name: 'daily', tokens: 1e12 + i }] })),
    };
    spec.overrides = Array.from({ length: 1000 }, (_, i) => ({ subject: `tenant-${i * 2}`, limits: [{ name: 'per-minute', tokens: 1e11 + i }] }));
  }
  return JSON.stringify({ apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy', metadata: { name: plans ? 'plans' : 'plain' }, spec });
}

type Kind = 'plain' | 'plans' | 'plans-miss';

/**
 * A limiter over one of the two policies and a function timing `n` decisions (CPU µs per decision). `plans-miss`:
 * the policy with tiers and overrides, but requests that name no tier and whose subjects have no override (the
 * lookups alone).
 */
function setup(kind: Kind): { batch: (n: number) => Promise<number>; close: () => Promise<void> } {
  const plans = kind !== 'plain';
  const miss = kind === 'plans-miss';
  const { policies, errors } = parsePolicies(policy(plans));
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const matcher = compileMatcher(policies);
  const store = createMemoryStore();
  const limiter = new Limiter({ store, matcher: () => matcher, observed: new ObservedOutput(), reservationTtlMs: 60_000 });
  const inputs: AdmitInput[] = Array.from({ length: 2000 }, (_, i) => ({
    requestId: `r${i}`, provider: 'openai', endpoint: 'openai.chat', host: 'api.openai.com', path: '/v1/chat/completions', method: 'POST',
    headers: miss ? { 'x-tenant-id': `tenant-${2 * i + 1}` } : { 'x-tenant-id': `tenant-${i}`, 'x-plan': `tier-${i % 10}` }, model: 'gpt-4o-mini', maxOutputTokens: 256, inputTokens: 300 + ((i * 7919) % 701),
  }));
  // Varied usage, as real traffic has: counters (and the x-ratelimit values) differ from subject to subject.
  const usages = Array.from({ length: 997 }, (_, i) => ({ input: 300 + ((i * 7919) % 701), cachedInput: 0, cacheWrite: 0, output: 20 + ((i * 104_729) % 236), reasoning: 0 }));
  let next = 0;
  return {
    batch: async (n) => {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        const a = await limiter.admit(inputs[next % inputs.length] as AdmitInput);
        await a.settle(usages[next++ % usages.length] as (typeof usages)[number], 'gpt-4o-mini');
      }
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / n;
    },
    close: () => store.close(),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** In a child process (`node dist/bench/decisions.js plain|plans|plans-miss N`): the median CPU µs per decision over batches. */
export async function decisionChild(kind: Kind, batches: number): Promise<number> {
  const s = setup(kind);
  try {
    await s.batch(20_000);
    const xs: number[] = [];
    for (let r = 0; r < batches; r++) xs.push(await s.batch(5000));
    return median(xs);
  } finally {
    await s.close();
  }
}

function child(kind: Kind, batches: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fileURLToPath(import.meta.url), kind, String(batches)], (err, stdout) => (err ? reject(new Error(`decision child ${kind}: ${err.message}`, { cause: err })) : resolve(Number(stdout.trim()))));
  });
}

/**
 * Each policy in its own process (one policy shape per process, as a data plane with one policy set runs: two
 * shapes in one process would make the shared code polymorphic and measure that instead), alternating, several
 * processes each; the median per policy.
 */
export async function benchDecisions(quick = false): Promise<DecisionRow[]> {
  const kinds: [Kind, string][] = [['plain', 'no tiers, no overrides'], ['plans', '10 tiers, 1,000 overrides'], ['plans-miss', 'same, no tier named, no override hit']];
  const runs = new Map<Kind, number[]>(kinds.map(([k]) => [k, []]));
  for (let r = 0; r < (quick ? 3 : 7); r++) for (const [k] of kinds) runs.get(k)?.push(await child(k, quick ? 10 : 30));
  return kinds.map(([k, policy]) => {
    const xs = runs.get(k) ?? [];
    return { policy, cpuUsPerDecision: median(xs), minCpuUsPerDecision: Math.min(...xs) };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kind = process.argv[2];
  if (kind === 'plain' || kind === 'plans' || kind === 'plans-miss') console.log(await decisionChild(kind, Number(process.argv[3] ?? 30)));
}
