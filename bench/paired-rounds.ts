/**
 * The method of the per-request CPU benches that compare ext_proc servers a few percent apart (ledger on vs off,
 * a policy with tiers and overrides vs one without): separate server processes sent the same request sequence, in
 * many rounds; in each round all servers loaded at once (`together`; or one after the other, the order rotating
 * every round), so that load from elsewhere on a shared machine falls on all of them alike. Per server: CPU µs per
 * request over all rounds (server process, all threads; the main thread's share from /proc, 10 ms ticks) and, per
 * round, the ratio to the first server (the baseline) of the same round: median and range over rounds.
 */
import { loadavg } from 'node:os';
import type { Exchange } from '../test/envoy/emulator.js';
import { chatExchange, runLoad, type ServerProcess, type ServerSample } from './extproc-load.js';

export interface PairedServer {
  name: string;
  process: ServerProcess;
  /** Other CPU that belongs to this server's work (a database server's processes). */
  dbCpuUs?: () => number;
}

export interface RoundsOptions {
  rounds: number;
  requestsPerRound: number;
  concurrency?: number;
  /**
   * true: in each round every server is sent its requests at the same time (one load generator), so each moment's
   * load from elsewhere falls on all of them; false: one after the other, the order rotating every round.
   */
  together: boolean;
  /** The n-th request of the sequence (n from 0, counted over all rounds); default: the same 4 KB chat request. */
  exchange?: (n: number) => Exchange;
  /** Wait before each CPU sample (work the requests left behind, e.g. ledger writes, lands in its own round). */
  settleMs?: number;
  /** Runs before round `r` (e.g. switches what each server does in it). */
  beforeRound?: (r: number) => Promise<void>;
}

export interface Round { cpuUs: number; mainUs: number; dbUs: number; refused: number }

export interface PairedRow {
  server: string;
  /** Over all rounds: server process CPU (all threads) per request, µs. */
  cpuUsPerReq: number;
  /** The main thread's part of it. */
  mainUsPerReq: number;
  /** Median over rounds of this server's CPU per request / the first server's in the same round; and the range. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** Measured requests refused (immediate response) over all rounds. */
  refused: number;
  /** The server's other CPU (dbCpuUs), µs per request; present when the server has one. */
  dbUsPerReq?: number;
}

/** Requests before the first round (JIT, tokenizer, store), and at the start of each round on its new connection. */
export const WARM_UP = 200;
export const ROUND_WARM_UP = 16;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const sameChat = (): ((n: number) => Exchange) => {
  const ex = chatExchange(4096, 100);
  return () => ex;
};

/** Round `r` for `servers`, all loaded at once: each on a new, warmed connection, then the measured requests. */
async function measure(servers: PairedServer[], o: RoundsOptions, r: number): Promise<Round[]> {
  const ex = o.exchange ?? sameChat();
  const settle = o.settleMs ?? 0;
  await Promise.all(servers.map((s) => {
    s.process.reconnect();
    return runLoad(s.process, ex, 8, ROUND_WARM_UP);
  }));
  await sleep(settle);
  const before: ServerSample[] = await Promise.all(servers.map((s) => s.process.sample()));
  const db0 = servers.map((s) => s.dbCpuUs?.() ?? 0);
  const offset = r * o.requestsPerRound;
  const loads = await Promise.all(servers.map((s) => runLoad(s.process, (i) => ex(offset + i), o.concurrency ?? 32, o.requestsPerRound)));
  await sleep(settle);
  const after = await Promise.all(servers.map((s) => s.process.sample()));
  return servers.map((s, k) => {
    const a = after[k] as ServerSample;
    const b = before[k] as ServerSample;
    return { cpuUs: a.cpuUs - b.cpuUs, mainUs: a.mainCpuUs - b.mainCpuUs, dbUs: (s.dbCpuUs?.() ?? 0) - (db0[k] ?? 0), refused: loads[k]?.refused ?? 0 };
  });
}

/** The warm-up, then the rounds; `afterWarmUp` runs between them and its result when they are done. */
export async function pairedRounds(servers: PairedServer[], o: RoundsOptions, afterWarmUp?: () => Promise<() => Promise<void>>): Promise<Round[][]> {
  const ex = o.exchange ?? sameChat();
  for (const s of servers) await runLoad(s.process, ex, 8, WARM_UP); // JIT, tokenizer, store
  const done = await afterWarmUp?.();
  const perRound: Round[][] = [];
  for (let r = 0; r < o.rounds; r++) {
    await o.beforeRound?.(r);
    if (o.together) {
      perRound.push(await measure(servers, o, r));
      continue;
    }
    const here: Round[] = new Array<Round>(servers.length);
    for (let i = 0; i < servers.length; i++) {
      const k = (i + r) % servers.length;
      here[k] = (await measure([servers[k] as PairedServer], o, r))[0] as Round;
    }
    perRound.push(here);
  }
  await done?.();
  return perRound;
}

/** One row per server: CPU per request over all rounds, the median paired ratio to the first server and its range. */
export function pairedRows(servers: PairedServer[], perRound: Round[][], requestsPerRound: number): PairedRow[] {
  const n = perRound.length * requestsPerRound;
  return servers.map((s, k): PairedRow => {
    const mine = perRound.map((r) => r[k] as Round);
    const ratios = perRound.map((r) => (r[k] as Round).cpuUs / (r[0] as Round).cpuUs);
    const sum = (f: (x: Round) => number): number => mine.reduce((a, x) => a + f(x), 0) / n;
    return {
      server: s.name, cpuUsPerReq: sum((x) => x.cpuUs), mainUsPerReq: sum((x) => x.mainUs),
      ratio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), refused: mine.reduce((a, x) => a + x.refused, 0),
      ...(s.dbCpuUs ? { dbUsPerReq: sum((x) => x.dbUs) } : {}),
    };
  });
}

export interface PairedResult {
  rows: PairedRow[];
  rounds: number;
  requestsPerRound: number;
  /** 1-minute load average before and after. */
  load: [number, number];
}

/** Starts the servers, runs the rounds and stops them: each round's figures, with the load average around the run. */
export async function runRounds(start: () => Promise<PairedServer[]>, o: RoundsOptions): Promise<{ servers: PairedServer[]; perRound: Round[][]; load: [number, number] }> {
  const before = loadavg()[0] ?? 0;
  const servers = await start();
  try {
    const perRound = await pairedRounds(servers, o);
    return { servers, perRound, load: [before, loadavg()[0] ?? 0] };
  } finally {
    servers.forEach((s) => s.process.stop());
  }
}

/** runRounds: one row per server, with the load average around the run. */
export async function comparePaired(start: () => Promise<PairedServer[]>, o: RoundsOptions): Promise<PairedResult> {
  const { servers, perRound, load } = await runRounds(start, o);
  return { rows: pairedRows(servers, perRound, o.requestsPerRound), rounds: o.rounds, requestsPerRound: o.requestsPerRound, load };
}
