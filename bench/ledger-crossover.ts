/**
 * CPU the spend ledger adds per request, measured within the same processes (a crossover). Two ext_proc server
 * processes with the same store (SQLite, or PostgreSQL), both able to switch their ledger off and on at run time
 * (bench/ledger-toggle.ts: the sessions' `deps.ledger` set or deleted; with it off, nothing of the ledger runs per
 * request). In every round both are sent the same request sequence at once (bench/paired-rounds.ts: a new, warmed
 * connection, then the measured requests at concurrency 32; the chat exchange of bench/extproc-load.ts), one with the
 * ledger on and the other off, swapping every round (A on in even rounds). Each process's own JIT and GC luck and
 * what the machine does in a round cancel (bench/crossover.ts); what is left is the ledger's cost, with a standard
 * error from the spread of the rounds. The first rounds are left out (the JIT still settling: the process on first
 * reads high). The servers run with an explicit --ledger-flush-interval and each CPU sample waits that interval plus
 * 0.4 s, so a round's records are written, and their CPU counted, in their own round. Given for the whole process
 * (all threads), for its main thread (/proc, 10 ms ticks) and for the other threads (SQLite's worker, V8's GC
 * helpers, libuv's pool); for PostgreSQL also the database server's CPU per ledgered request (one process is on in
 * every round, so it is the database's CPU in the round over the round's requests; not in the ratio).
 *
 * What it does not cover: the process with the ledger off still has the store open (SQLite's idle worker thread until
 * it retires after 10 s without work; PostgreSQL's idle pool), so their idle cost is in neither side; garbage from
 * one round's records may be collected in the next round, in the other state, which dilutes the difference rather
 * than inflating it; and it is the cost at this load (400 requests in about half a second, batches of a few hundred
 * records), not at a steady rate of its own.
 */
import { startServerProcess } from './extproc-load.js';
import { crossoverEstimate, type CrossoverEstimate } from './crossover.js';
import { BENCH_LEDGER_FLUSH_S, flushFlags, settleMsFor } from './ledger-cpu.js';
import { postgresCpuUs } from './ledger-write.js';
import { runRounds, type PairedServer, type Round } from './paired-rounds.js';

export interface LedgerCrossoverOptions {
  rounds: number;
  requestsPerRound: number;
  /** PostgreSQL as the store (absent: SQLite). */
  postgres?: { url: string; port: number };
  /** The servers' --ledger-flush-interval, seconds (default BENCH_LEDGER_FLUSH_S). */
  flushS?: number;
}

export interface LedgerCrossoverResult {
  store: 'SQLite' | 'PostgreSQL';
  /** CPU per request, µs: the whole process (all threads), its main thread, and the rest. */
  process: CrossoverEstimate;
  main: CrossoverEstimate;
  other: CrossoverEstimate;
  /** PostgreSQL's own processes, µs per ledgered request (PostgreSQL only). */
  dbUsPerReq?: number;
  rounds: number;
  /** Rounds left out at the start. */
  skipped: number;
  requestsPerRound: number;
  flushS: number;
  settleMs: number;
  /** Measured requests refused (immediate response), both processes, all rounds. */
  refused: number;
  /** 1-minute load average before and after. */
  load: [number, number];
  /** Wall time of the run, servers' start-up included. */
  seconds: number;
}

/** Rounds left out at the start (JIT still settling). */
export const CROSSOVER_SKIP = 2;

export async function ledgerCrossover(o: LedgerCrossoverOptions): Promise<LedgerCrossoverResult> {
  const flushS = o.flushS ?? BENCH_LEDGER_FLUSH_S;
  const settleMs = settleMsFor(flushS);
  const kind = o.postgres ? 'ledger-toggle-postgres' : 'ledger-toggle-sqlite';
  const start = async (): Promise<PairedServer[]> => {
    const servers: PairedServer[] = [];
    for (const name of ['A', 'B']) {
      const process = await startServerProcess(kind, o.postgres?.url, undefined, undefined, { flags: flushFlags(flushS) });
      // The database's CPU is read through A only: it is the same server for both.
      servers.push({ name, process, ...(o.postgres && name === 'A' ? { dbCpuUs: postgresCpuUs(o.postgres.port) } : {}) });
    }
    return servers;
  };
  const t0 = performance.now();
  let servers: PairedServer[] = [];
  const { perRound, load } = await runRounds(async () => (servers = await start()), {
    rounds: o.rounds, requestsPerRound: o.requestsPerRound, together: true, settleMs,
    beforeRound: async (r) => {
      await Promise.all(servers.map((s, k) => s.process.setLedger((r + k) % 2 === 0)));
    },
  });
  const n = o.requestsPerRound;
  const series = (k: number, f: (x: Round) => number): number[] => perRound.map((round) => f(round[k] as Round) / n);
  const estimate = (f: (x: Round) => number): CrossoverEstimate => crossoverEstimate(series(0, f), series(1, f), CROSSOVER_SKIP);
  const used = perRound.slice(CROSSOVER_SKIP);
  return {
    store: o.postgres ? 'PostgreSQL' : 'SQLite',
    process: estimate((x) => x.cpuUs), main: estimate((x) => x.mainUs), other: estimate((x) => x.cpuUs - x.mainUs),
    ...(o.postgres ? { dbUsPerReq: used.reduce((a, round) => a + (round[0]?.dbUs ?? 0), 0) / (used.length * n) } : {}),
    rounds: o.rounds, skipped: CROSSOVER_SKIP, requestsPerRound: n, flushS, settleMs,
    refused: perRound.reduce((a, round) => a + round.reduce((b, x) => b + x.refused, 0), 0), load, seconds: (performance.now() - t0) / 1000,
  };
}
