/**
 * The cost of one budget decision (Limiter.admit, then settle; memory store) under a policy with 1,000 overrides and
 * 10 plan tiers, against the same policy without them: time per request, in child processes. Subjects cycle over
 * 2,000 tenants (half of them with an override) and requests name one of the 10 tiers in turn, so every lookup is
 * exercised; the baseline sends the same requests. Returns rows; prints nothing (the child prints its figures).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Limiter, type AdmitInput } from '../src/limits/limiter.js';
import { createMemoryStore } from '../src/limits/memory-store.js';
import { ObservedOutput } from '../src/limits/observed.js';
import { compileMatcher } from '../src/policy/match.js';
import { parsePolicies } from '../src/policy/parse.js';

/**
 * The bench's TokenPolicy (JSON, which is YAML too): two limits on the subject from x-tenant-id; with `plans`, also
 * 10 tiers chosen by x-plan (each changing the daily limit) and 1,000 overrides (tenant-0, tenant-2, ... tenant-1998).
 */
export function decisionPolicy(plans: boolean): string {
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

/** The subject and tier headers of the i-th request: 2,000 tenants in turn (the even ones with an override), 10 tiers in turn. */
export function decisionHeaders(i: number): Record<string, string> {
  return { 'x-tenant-id': `tenant-${i % 2000}`, 'x-plan': `tier-${i % 10}` };
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
  const { policies, errors } = parsePolicies(decisionPolicy(plans));
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const matcher = compileMatcher(policies);
  const store = createMemoryStore();
  const limiter = new Limiter({ store, matcher: () => matcher, observed: new ObservedOutput(), reservationTtlMs: 60_000 });
  const inputs: AdmitInput[] = Array.from({ length: 2000 }, (_, i) => ({
    requestId: `r${i}`, provider: 'openai', endpoint: 'openai.chat', host: 'api.openai.com', path: '/v1/chat/completions', method: 'POST',
    headers: miss ? { 'x-tenant-id': `tenant-${2 * i + 1}` } : decisionHeaders(i), model: 'gpt-4o-mini', maxOutputTokens: 256, inputTokens: 300 + ((i * 7919) % 701),
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
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))] ?? 0;

export interface DecisionRun {
  /** Per kind: CPU µs per decision over all its batches (process.cpuUsage). */
  cpu: Record<Kind, number>;
  /** Per kind: the 10th percentile of the batches' wall µs per decision (the least disturbed batches). */
  p10: Record<Kind, number>;
  /** Per kind: the median over rounds of (this kind's batch / the plain batch of the same round). */
  pairedRatio: Record<Kind, number>;
}

const KINDS: Kind[] = ['plain', 'plans', 'plans-miss'];

/**
 * In a child process (`node dist/bench/decisions.js all ROUNDS`): the three limiters side by side, as a data plane
 * with policies of both kinds holds them, timed in interleaved batches of 500 decisions (the order rotating every
 * round), so the load of a shared machine falls on all three alike. CPU time per kind over all its batches; and,
 * per batch, wall time (finer than the CPU clock's ticks), of which the 10th percentile and the per-round ratio to
 * the plain batch of the same round. One process runs the shared code over both policy shapes, as a data plane with
 * policies of both kinds does (one with plain policies only may run the baseline a little faster).
 */
export async function decisionChild(rounds: number): Promise<DecisionRun> {
  const setups = KINDS.map((k) => [k, setup(k)] as const);
  try {
    for (const [, s] of setups) await s.batch(20_000);
    const wall = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
    const cpu = new Map<Kind, number>(KINDS.map((k) => [k, 0]));
    const ratios = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
    for (let r = 0; r < rounds; r++) {
      const here = new Map<Kind, number>();
      for (let i = 0; i < setups.length; i++) {
        const [k, s] = setups[(i + r) % setups.length] as (typeof setups)[number];
        const t0 = performance.now();
        const c = await s.batch(500);
        here.set(k, ((performance.now() - t0) * 1000) / 500);
        cpu.set(k, (cpu.get(k) ?? 0) + c);
      }
      for (const k of KINDS) {
        wall.get(k)?.push(here.get(k) ?? 0);
        ratios.get(k)?.push((here.get(k) ?? 0) / (here.get('plain') ?? 1));
      }
    }
    const per = (f: (k: Kind) => number): Record<Kind, number> => Object.fromEntries(KINDS.map((k) => [k, f(k)])) as Record<Kind, number>;
    return {
      cpu: per((k) => (cpu.get(k) ?? 0) / rounds), p10: per((k) => quantile(wall.get(k) ?? [], 0.1)), pairedRatio: per((k) => median(ratios.get(k) ?? [])),
    };
  } finally {
    for (const [, s] of setups) await s.close();
  }
}

function child(rounds: number): Promise<DecisionRun> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fileURLToPath(import.meta.url), 'all', String(rounds)], (err, stdout) => (err ? reject(new Error(`decision child: ${err.message}`, { cause: err })) : resolve(JSON.parse(stdout) as DecisionRun)));
  });
}

export interface DecisionRow {
  policy: string;
  /** Median over the processes of the CPU µs per decision. */
  cpuUsPerDecision: number;
  /** Median over the processes of the 10th-percentile batch (wall µs per decision). */
  p10UsPerDecision: number;
  /** Median over the processes of the median per-round ratio to the plain policy; and the range over the processes. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
}

/** Several processes of interleaved batches (see decisionChild); the median over them, and the spread. */
export async function benchDecisions(quick = false): Promise<DecisionRow[]> {
  const runs: DecisionRun[] = [];
  for (let r = 0; r < (quick ? 2 : 5); r++) runs.push(await child(quick ? 100 : 300));
  const names: Record<Kind, string> = { plain: 'no tiers, no overrides', plans: '10 tiers, 1,000 overrides', 'plans-miss': 'same, no tier named, no override hit' };
  return KINDS.map((k) => {
    const ratios = runs.map((x) => x.pairedRatio[k]);
    return {
      policy: names[k], cpuUsPerDecision: median(runs.map((x) => x.cpu[k])), p10UsPerDecision: median(runs.map((x) => x.p10[k])),
      ratio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios),
    };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'all') {
  console.log(JSON.stringify(await decisionChild(Number(process.argv[3] ?? 300))));
}
