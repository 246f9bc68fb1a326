/**
 * What a policy with 10 tiers and 1,000 overrides costs per request through the ext_proc, against the same policy
 * without them: two server processes (local mode, the policy file through --policies, memory store, ledger off),
 * sent the same request sequence (bench/extproc-load.ts's chat request: headers, a 4 KB buffered body, response
 * headers, 100 SSE chunks with usage), each request carrying the subject and tier headers of bench/decisions.ts's
 * workload (2,000 tenants in turn, half with an override; 10 tiers in turn). Rounds with both servers loaded at
 * once, per-round paired ratios (bench/paired-rounds.ts). The limits are far above the load: refusals are counted so
 * the table shows that both servers served every request.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Exchange } from '../test/envoy/emulator.js';
import { decisionHeaders, decisionPolicy } from './decisions.js';
import { chatExchange, startServerProcess } from './extproc-load.js';
import { comparePaired, type PairedResult, type PairedServer } from './paired-rounds.js';

export type DecisionCpuResult = PairedResult;

/** The n-th request: the chat exchange with decisionHeaders(n) (2,000 distinct exchanges, built once). */
function requestSequence(): (n: number) => Exchange {
  const base = chatExchange(4096, 100);
  const all = Array.from({ length: 2000 }, (_, i): Exchange => ({ ...base, requestHeaders: { ...base.requestHeaders, ...decisionHeaders(i) } }));
  return (n) => all[n % all.length] as Exchange;
}

export async function decisionCpu(o: { rounds: number; requestsPerRound: number }): Promise<DecisionCpuResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-decision-'));
  const start = async (): Promise<PairedServer[]> => {
    const servers: PairedServer[] = [];
    for (const [name, plans] of [['no tiers, no overrides', false], ['10 tiers, 1,000 overrides', true]] as const) {
      const file = join(dir, `${plans ? 'plans' : 'plain'}.yaml`);
      writeFileSync(file, decisionPolicy(plans));
      servers.push({ name, process: await startServerProcess('policy-file', file) });
    }
    return servers;
  };
  try {
    return await comparePaired(start, { ...o, together: true, exchange: requestSequence() });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
