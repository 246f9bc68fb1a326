/**
 * CPU the spend ledger adds per request, measured across separate processes: ext_proc server processes with the
 * ledger off, on with SQLite (the default) and on with PostgreSQL, each sent the same request sequence
 * (bench/extproc-load.ts: request headers, a 4 KB chat request, response headers, 100 SSE chunks with usage) at
 * concurrency 32. bench/ledger-crossover.ts measures the same cost within the same processes, which this cannot.
 *
 * A shared 2-core machine moves a single run by ±20 %, so: many rounds, and in each round all servers loaded at once
 * (`together`; or one after the other, the order rotating every round), so that load from elsewhere falls on all of
 * them alike; each round ends only after the ledger has written that round's records (the servers run with an
 * explicit --ledger-flush-interval, BENCH_LEDGER_FLUSH_S unless told, and every CPU sample waits that interval plus
 * 0.4 s: the same wait for every server), so a round's CPU includes its own writes. Per server: CPU µs per request
 * over all rounds (server process, all threads: the ext_proc's main thread, the SQLite worker, V8's GC helpers,
 * libuv's pool), the main thread's share (from /proc, 10 ms ticks), and, per round, the ratio to the ledger-off
 * server of the same round: the table gives the median of those paired ratios and their range. For PostgreSQL the
 * database server's own CPU per request is given beside (not in the ratio: the ratio is the ext_proc's cost).
 *
 * What this does not resolve: each process has its own JIT and GC luck (a few percent, fixed for its life), which
 * the paired ratio keeps; fresh sets of processes read a few percent apart, as much as the cost itself.
 *
 * `ledgerProfiles` runs the same rounds with the servers' main threads profiled and returns, per function, self time
 * per request, ledger on minus off (bench/cpu-profile.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess } from './extproc-load.js';
import { postgresCpuUs } from './ledger-write.js';
import { selfTimes, type SelfTime } from './cpu-profile.js';
import { comparePaired, pairedRounds, ROUND_WARM_UP, type PairedResult, type PairedRow, type PairedServer, type RoundsOptions } from './paired-rounds.js';

/** A server's row (bench/paired-rounds.ts); `dbUsPerReq`: PostgreSQL's own processes, µs per request (its row only). */
export type LedgerCpuRow = PairedRow;

export type LedgerCpuResult = PairedResult;

export interface LedgerCpuOptions extends Pick<RoundsOptions, 'rounds' | 'requestsPerRound' | 'concurrency' | 'together'> {
  /** The PostgreSQL row (absent: SQLite only). */
  postgres?: { url: string; port: number };
  /** The servers' --ledger-flush-interval, seconds (default BENCH_LEDGER_FLUSH_S). */
  flushS?: number;
}

/** The --ledger-flush-interval (seconds) the ledger benches run their servers with unless told otherwise. */
export const BENCH_LEDGER_FLUSH_S = 1;

/** The wait before each CPU sample: longer than the flush interval, so a round's records are written in its round. */
export const settleMsFor = (flushS: number): number => flushS * 1000 + 400;

/** The tokenmeter flags that set the flush interval. */
export const flushFlags = (flushS: number): string[] => ['--ledger-flush-interval', String(flushS)];

async function startServers(o: LedgerCpuOptions): Promise<PairedServer[]> {
  const flags = flushFlags(o.flushS ?? BENCH_LEDGER_FLUSH_S);
  const servers: PairedServer[] = [
    { name: 'ledger off', process: await startServerProcess('tokenmeter') },
    { name: 'ledger on, SQLite', process: await startServerProcess('ledger-sqlite', undefined, undefined, undefined, { flags }) },
  ];
  if (o.postgres) {
    const process = await startServerProcess('ledger-postgres', o.postgres.url, undefined, undefined, { flags });
    servers.push({ name: 'ledger on, PostgreSQL', process, dbCpuUs: postgresCpuUs(o.postgres.port) });
  }
  return servers;
}

const roundsOptions = (o: LedgerCpuOptions): LedgerCpuOptions & { settleMs: number } => ({ ...o, settleMs: settleMsFor(o.flushS ?? BENCH_LEDGER_FLUSH_S) });

/** The table: interleaved rounds, CPU per request, median paired ratio to ledger off (see the file comment). */
export async function ledgerCpu(o: LedgerCpuOptions): Promise<LedgerCpuResult> {
  return comparePaired(() => startServers(o), roundsOptions(o));
}

export interface ProfileDiff {
  server: string;
  /** Main-thread self time per request (µs), this server minus ledger off, largest first. */
  functions: (SelfTime & { offUsPerReq: number })[];
  /** Sampled main-thread time per request (µs), idle excluded: this server and ledger off. */
  totalUsPerReq: number;
  offTotalUsPerReq: number;
}

/**
 * The same rounds, with each server's main thread profiled (after the warm-up: V8's sampling profiler through the
 * inspector, server-child.ts); per function, self time per request, ledger on minus off.
 */
export async function ledgerProfiles(o: LedgerCpuOptions, top = 25): Promise<ProfileDiff[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-prof-'));
  const servers = await startServers(o);
  try {
    const perRound = await pairedRounds(servers, roundsOptions(o), async () => {
      const running = await Promise.all(servers.map((s) => s.process.profile()));
      return async () => {
        for (let k = 0; k < servers.length; k++) await running[k]?.stop(join(dir, `${k}.cpuprofile`));
      };
    });
    // Every request each server served while profiled (each round's warm-up on its new connection included).
    const n = perRound.length * (ROUND_WARM_UP + o.requestsPerRound);
    const profiles = servers.map((_, k) => selfTimes(join(dir, `${k}.cpuprofile`)));
    const off = profiles[0] ?? new Map<string, SelfTime>();
    const total = (p: Map<string, SelfTime>): number => [...p.values()].filter((f) => f.name !== '(idle)').reduce((a, f) => a + f.us, 0);
    return servers.slice(1).map((s, i) => {
      const on = profiles[i + 1] ?? new Map<string, SelfTime>();
      const keys = [...new Set([...on.keys(), ...off.keys()])].filter((k) => !k.startsWith('(idle)'));
      const functions = keys.map((k) => {
        const a = on.get(k);
        const b = off.get(k);
        return { name: a?.name ?? b?.name ?? k, where: a?.where ?? b?.where ?? '', us: ((a?.us ?? 0) - (b?.us ?? 0)) / n, offUsPerReq: (b?.us ?? 0) / n };
      }).sort((x, y) => y.us - x.us).slice(0, top);
      return { server: s.name, functions, totalUsPerReq: total(on) / n, offTotalUsPerReq: total(off) / n };
    });
  } finally {
    servers.forEach((s) => s.process.stop());
    rmSync(dir, { recursive: true, force: true });
  }
}
