/**
 * `npm run bench`: prints numbers, asserts nothing. tokenmeter against a trivial echo ext_proc (the gRPC floor) in
 * the same run, as ratios; tokenizer throughput per library; small-request latency while 1 MB bodies are counted.
 */
import { cpus, totalmem } from 'node:os';
import { runExchange } from '../test/envoy/emulator.js';
import { BENCH_BUFFER_LIMIT, chatExchange, percentile, runLoad, startServerProcess, type LoadResult } from './extproc-load.js';
import { benchLargePrompt } from './large-prompt.js';
import { memoryPerOpenStream } from './open-streams.js';
import { memoryAtRest, vocabularyCosts } from './memory-at-rest.js';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from '../src/cli/runtime-flags.js';
import { benchTokenizers } from './tokenizers.js';
import { benchStores } from './stores.js';
import { benchDecisions } from './decisions.js';
import { decisionCpu } from './decision-cpu.js';
import { benchLimits } from './limits.js';
import { benchOperator, chartNodeOptions } from './operator.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';
import { postgresUnavailable, startPostgresServer, type PostgresServer } from '../test/helpers/postgres-server.js';
import { budgetListing, postgresRows, queueMemory, sqliteRows, type SpendRow, type WriteRow } from './ledger.js';
import { BENCH_BATCH } from './ledger-write.js';
import { BENCH_LEDGER_FLUSH_S, ledgerCpu, ledgerProfiles } from './ledger-cpu.js';
import { ledgerCrossover, type LedgerCrossoverResult } from './ledger-crossover.js';
import type { ServerProcess } from './extproc-load.js';
import { benchConsole } from './console.js';

const quick = process.argv.includes('--quick');
/** `--ledger-flush-interval S`: the flush interval the ledger CPU benches run their servers with. */
const ledgerFlushS = ((): number => {
  const i = process.argv.indexOf('--ledger-flush-interval');
  const s = i < 0 ? BENCH_LEDGER_FLUSH_S : Number(process.argv[i + 1]);
  if (!(s >= 0.01 && s <= 60)) throw new Error(`--ledger-flush-interval: expected seconds from 0.01 to 60, got "${process.argv[i + 1] ?? ''}"`);
  return s;
})();
const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => '| ' + r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ') + ' |';
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  rows.forEach((r) => console.log(line(r)));
  console.log('');
}

async function extprocVsEcho(): Promise<void> {
  const ex = chatExchange(4096, 100);
  const servers = { tokenmeter: await startServerProcess('tokenmeter'), echo: await startServerProcess('echo') };
  const cpuRows: string[][] = [];
  const latRows: string[][] = [];
  try {
    // Memory first, on fresh processes: earlier load leaves garbage that makes RSS deltas meaningless.
    const n = quick ? 1000 : 2000;
    const tmMem = await memoryPerOpenStream(servers.tokenmeter, ex, n);
    const echoMem = await memoryPerOpenStream(servers.echo, ex, n);
    console.log(`## Memory per open stream (${n} streams mid-response, after GC)\n`);
    const kb = (b: number): string => f1(b / 1024);
    table(['server', 'RSS KB/stream', 'heap+external KB/stream'], [
      ['tokenmeter', kb(tmMem.rssPerStream), kb(tmMem.heapPerStream)],
      ['echo floor', kb(echoMem.rssPerStream), kb(echoMem.heapPerStream)],
      ['added', kb(tmMem.rssPerStream - echoMem.rssPerStream), kb(tmMem.heapPerStream - echoMem.heapPerStream)],
    ]);
    for (const s of Object.values(servers)) await runLoad(s, ex, 8, quick ? 20 : 100); // warm-up
    for (const c of [1, 32, 256]) {
      // CPU: chunks pipelined as fast as Envoy can send them (throughput).
      const total = quick ? Math.max(c, 50) : Math.max(2 * c, 400);
      const r: Record<string, LoadResult> = {};
      for (const [name, s] of Object.entries(servers)) r[name] = await runLoad(s, ex, c, total);
      const tm = r.tokenmeter as LoadResult;
      const echo = r.echo as LoadResult;
      cpuRows.push([String(c), f1(tm.cpuUsPerRequest), f1(echo.cpuUsPerRequest), f2(tm.cpuUsPerRequest / echo.cpuUsPerRequest), f1(1e6 / tm.cpuUsPerRequest), f1(total / tm.seconds)]);
      // Latency: chunks paced as an LLM streams them (one every 20 ms), so a reply's latency is its own processing.
      const paced: Record<string, LoadResult> = {};
      for (const [name, s] of Object.entries(servers)) paced[name] = await runLoad(s, ex, c, quick ? c : Math.max(c, 5), 20);
      const pt = paced.tokenmeter as LoadResult;
      const pe = paced.echo as LoadResult;
      const p99 = (x: LoadResult): number => percentile(x.latencies.responseBody, 99);
      latRows.push([String(c), f2(percentile(pt.latencies.all, 50)), f2(percentile(pe.latencies.all, 50)), f2(p99(pt)), f2(p99(pe)), f2(p99(pt) - p99(pe))]);
    }
    console.log('## ext_proc: request headers, 4 KB buffered chat request, response headers, 100 SSE chunks with usage\n');
    console.log('CPU, chunks pipelined back to back (server process CPU time / requests):\n');
    table(['conc', 'CPU µs/req', 'echo µs/req', 'CPU ratio', 'req/s/core', 'req/s seen'], cpuRows);
    console.log('Reply latency, chunks paced 20 ms apart (client-observed, per ext_proc message):\n');
    table(['conc', 'p50 ms', 'echo p50 ms', 'chunk p99 ms', 'echo chunk p99 ms', 'added chunk p99 ms'], latRows);
  } finally {
    Object.values(servers).forEach((s) => s.stop());
  }
}

async function smallWhileLarge(): Promise<void> {
  const server = await startServerProcess('tokenmeter');
  const small = chatExchange(512, 5);
  const large = chatExchange(1 << 20, 5);
  try {
    await runLoad(server, small, 4, 20);
    let stop = false;
    let largeDone = 0;
    const bigLoop = async (): Promise<void> => {
      while (!stop) {
        await runExchange(server.client, large, { messageTimeoutMs: 60_000, bufferLimitBytes: BENCH_BUFFER_LIMIT });
        largeDone++;
      }
    };
    const bigs = [bigLoop(), bigLoop()];
    await new Promise((r) => setTimeout(r, 300));
    const res = await runLoad(server, small, 4, quick ? 100 : 400);
    stop = true;
    await Promise.all(bigs);
    console.log('## Small requests while 1 MB bodies are counted (2 streams of 1 MB requests in a loop)\n');
    table(['small p50 ms', 'small p99 ms', 'small max ms', '1 MB requests done'], [[
      f2(percentile(res.latencies.all, 50)), f2(percentile(res.latencies.all, 99)), f2(Math.max(...res.latencies.all)), String(largeDone),
    ]]);
  } finally {
    server.stop();
  }
}

/** Budgets: counter stores alone, then the CPU enforcement adds per request over metering alone. */
async function budgets(): Promise<void> {
  let redis: RedisServer | undefined;
  try {
    redis = await startRedisServer();
  } catch (err) {
    console.log(`(redis-server not available: ${String(err)}; Redis rows skipped)\n`);
  }
  try {
    console.log('## Counter stores: reserve+settle pairs (one process, loopback Redis)\n');
    const rows = await benchStores(redis?.url, quick);
    table(['store', 'counters/req', 'in flight', 'pairs/s', 'reserve p50 ms', 'reserve p99 ms', 'settle p99 ms'],
      rows.map((r) => [r.store, String(r.counters), String(r.concurrency), r.pairsPerSec.toFixed(0), r.reserveP50Ms.toFixed(3), r.reserveP99Ms.toFixed(3), r.settleP99Ms.toFixed(3)]));
    const ex = chatExchange(4096, 100);
    const servers: [string, ServerProcess][] = [['metering only', await startServerProcess('tokenmeter')], ['budgets, memory store', await startServerProcess('budgets')]];
    if (redis) servers.push(['budgets, Redis store', await startServerProcess('budgets', redis.url)]);
    try {
      const res: [string, LoadResult][] = [];
      for (const [name, s] of servers) {
        await runLoad(s, ex, 8, quick ? 20 : 100);
        res.push([name, await runLoad(s, ex, 32, quick ? 64 : 400)]);
      }
      const base = (res[0] as [string, LoadResult])[1].cpuUsPerRequest;
      console.log('## Enforcement overhead: same sequence at concurrency 32, two limits per request\n');
      table(['server', 'CPU µs/req', 'vs metering only'], res.map(([name, r]) => [name, f1(r.cpuUsPerRequest), `${f2(r.cpuUsPerRequest / base)}x`]));
    } finally {
      servers.forEach(([, s]) => s.stop());
    }
  } finally {
    await redis?.close();
  }
}

/** A 7.9 MiB prompt's budget decision against the operator's rendered message timeout, tokenmeter vs the echo floor. */
async function largePrompt(): Promise<void> {
  let redis: RedisServer | undefined;
  try {
    redis = await startRedisServer();
  } catch (err) {
    console.log(`(redis-server not available: ${String(err)}; the Redis row is skipped)\n`);
  }
  try {
    const r = await benchLargePrompt(redis?.url, quick ? 2 : 6);
    console.log(`## A 7.9 MiB streaming chat prompt: request_body reply latency (Envoy emulator, timer at the rendered ${r.timeoutMs} ms, failure_mode_allow)\n`);
    table(['server', 'p50 ms', 'max ms', 'timer fired', 'reply carries the body'], r.rows.map((x) => [x.server, f1(x.p50Ms), f1(x.maxMs), `${x.timeouts}/${x.runs}`, x.echoesBody ? 'yes' : 'no']));
  } finally {
    await redis?.close();
  }
}

/** The published limits at the stated sizes: ConfigMaps, render and load times. */
function limitsSize(): void {
  const r = benchLimits();
  console.log('## Limits ConfigMaps: 1,000 policies plus 20 policies of 1,000 overrides each (render in the operator, load in the ext_proc)\n');
  table(['policies', 'overrides', 'bytes', 'ConfigMaps', 'largest ConfigMap bytes', 'render ms', 'first load ms', 'reload after one edit ms'],
    [[String(r.policies), String(r.overrides), String(r.bytes), String(r.configMaps), String(r.largestConfigMapBytes), f1(r.renderMs), f1(r.firstLoadMs), f1(r.reloadAfterEditMs)]]);
}

/** Budget decisions with tiers and overrides against a policy without, interleaved in the same processes. */
async function decisions(): Promise<void> {
  const rows = await benchDecisions(quick);
  console.log('## Budget decision (admit + settle, memory store): a policy with 10 tiers and 1,000 overrides vs one without, interleaved batches\n');
  table(['policy', 'CPU µs/decision', 'wall µs/decision (p10 batch)', 'vs none (median paired ratio)', 'range over processes'], rows.map((r) => [
    r.policy, f2(r.cpuUsPerDecision), f2(r.p10UsPerDecision), `${f2(r.ratio)}x`, `${f2(r.ratioMin)}–${f2(r.ratioMax)}x`,
  ]));
  const cpu = await decisionCpu({ rounds: quick ? 2 : 15, requestsPerRound: quick ? 64 : 400 });
  console.log(`## Budget decision per request through the ext_proc: the same policy with 10 tiers and 1,000 overrides vs without (same sequence, concurrency 32; ${cpu.rounds} rounds of ${cpu.requestsPerRound} requests, both servers loaded at once in each round; load avg ${f1(cpu.load[0])} → ${f1(cpu.load[1])})\n`);
  console.log('CPU: the ext_proc process, all threads (memory store, ledger off); requests name 2,000 tenants (half with an override) and 10 tiers in turn. Ratio: per round, this server / no tiers in the same round; median and range over rounds.\n');
  table(['policy', 'CPU µs/req', 'main thread µs/req', 'vs none (median paired ratio)', 'range over rounds', 'refused'], cpu.rows.map((r) => [
    r.server, f1(r.cpuUsPerReq), f1(r.mainUsPerReq), `${f2(r.ratio)}x`, `${f2(r.ratioMin)}–${f2(r.ratioMax)}x`, `${r.refused}/${cpu.rounds * cpu.requestsPerRound}`,
  ]));
}

/** The ledger's CPU per request within the same processes (bench/ledger-crossover.ts): SQLite, and PostgreSQL when there. */
async function ledgerCrossoverTable(pg: PostgresServer | undefined): Promise<void> {
  const o = { rounds: quick ? 6 : 40, requestsPerRound: quick ? 64 : 400, flushS: ledgerFlushS };
  const results: LedgerCrossoverResult[] = [await ledgerCrossover(o)];
  if (pg) results.push(await ledgerCrossover({ ...o, postgres: { url: pg.url, port: pg.port } }));
  const r0 = results[0] as LedgerCrossoverResult;
  console.log(`## Ledger: CPU per request, ledger on vs off within the same processes (crossover; same sequence, concurrency 32; ${r0.rounds} rounds of ${r0.requestsPerRound} requests per store, the first ${r0.skipped} left out; --ledger-flush-interval ${r0.flushS} s, ${r0.settleMs} ms settle; ± is one standard error)\n`);
  console.log('Two server processes with the ledger on, switched off and on at run time: in each round both loaded at once, one on and one off, swapping every round; per round ln(CPU A / CPU B), the even rounds\' mean minus the odd rounds\' is twice ln(on/off). Each process\'s own bias and the machine\'s round-to-round drift cancel. CPU: the ext_proc process; main thread from /proc (10 ms ticks); other threads: SQLite worker, GC helpers, libuv. The PostgreSQL server\'s CPU per ledgered request is not in the ratio.\n');
  const pct = (e: { se: number }): string => `${f1(e.se * 100)} %`;
  const ratio = (e: { ratio: number; se: number }): string => `${e.ratio.toFixed(3)}x ± ${pct(e)}`;
  const added = (e: { added: number; offMean: number; ratio: number; se: number }): string => `${f1(e.added)} ± ${f1(e.offMean * e.ratio * e.se)}`;
  table(['store', 'on/off, whole process', 'sd of one round', 'off µs/req', 'added µs/req', 'main thread on/off', 'main added µs/req', 'other threads on/off', 'other added µs/req', 'refused', 'PostgreSQL server µs/req', 'load avg', 'run s'], results.map((r) => [
    r.store, ratio(r.process), pct({ se: r.process.roundSd }), f1(r.process.offMean), added(r.process), ratio(r.main), added(r.main), ratio(r.other), added(r.other),
    `${r.refused}/${2 * r.rounds * r.requestsPerRound}`, r.dbUsPerReq === undefined ? '' : f1(r.dbUsPerReq), `${f1(r.load[0])} → ${f1(r.load[1])}`, r.seconds.toFixed(0),
  ]));
}

/** The spend ledger: CPU it adds per request, write rate, the month report, queue memory, the budgets listing. */
async function ledger(): Promise<void> {
  const missing = postgresUnavailable();
  let pgServer: PostgresServer | undefined;
  if (missing) console.log(`(PostgreSQL not available: ${missing}; PostgreSQL rows skipped)\n`);
  else pgServer = await startPostgresServer();
  try {
    const pgOpt = pgServer ? { postgres: { url: pgServer.url, port: pgServer.port } } : {};
    await ledgerCrossoverTable(pgServer);
    const cpu = await ledgerCpu({ rounds: quick ? 2 : 15, requestsPerRound: quick ? 64 : 400, together: true, flushS: ledgerFlushS, ...pgOpt });
    console.log(`## Ledger: CPU per request, ledger on vs off in separate processes (same sequence, concurrency 32; ${cpu.rounds} rounds of ${cpu.requestsPerRound} requests, the servers loaded at once in each round; --ledger-flush-interval ${ledgerFlushS} s; load avg ${f1(cpu.load[0])} → ${f1(cpu.load[1])})\n`);
    console.log('CPU: the ext_proc process, all threads (main thread, SQLite worker, GC helpers, libuv), each round including its own ledger writes. Ratio: per round, this server / ledger off in the same round; median and range over rounds.\n');
    table(['server', 'CPU µs/req', 'main thread µs/req', 'other threads µs/req', 'vs ledger off (median paired ratio)', 'range over rounds', 'PostgreSQL server µs/req'], cpu.rows.map((r) => [
      r.server, f1(r.cpuUsPerReq), f1(r.mainUsPerReq), f1(r.cpuUsPerReq - r.mainUsPerReq), `${f2(r.ratio)}x`, `${f2(r.ratioMin)}–${f2(r.ratioMax)}x`, r.dbUsPerReq === undefined ? '' : f1(r.dbUsPerReq),
    ]));
    if (process.argv.includes('--ledger-profile')) {
      for (const d of await ledgerProfiles({ rounds: quick ? 2 : 6, requestsPerRound: quick ? 64 : 400, together: true, flushS: ledgerFlushS, ...pgOpt })) {
        console.log(`## Ledger profile: ${d.server} vs ledger off, main thread self time per request (V8 sampling profiler during the rounds; sampled total ${f1(d.totalUsPerReq)} vs ${f1(d.offTotalUsPerReq)} µs/req)\n`);
        table(['function', 'where', 'on − off µs/req', 'off µs/req'], d.functions.map((x) => [x.name, x.where, f2(x.us), f2(x.offUsPerReq)]));
      }
    }
    const sqlite = await sqliteRows(quick);
    const pgr = pgServer ? await postgresRows(pgServer.url, pgServer.port, quick) : undefined;
    if (pgr) {
      console.log('## PostgreSQL client: 40 batches of 1,000 rows (unnest arrays, ON CONFLICT DO NOTHING), then 2,000 one-row queries, one connection\n');
      table(['client', 'rows/s', 'client CPU µs/row', 'queries/s'], pgr.clients.map((c) => [c.client, c.rowsPerSec.toFixed(0), f2(c.cpuUsPerRow), c.queriesPerSec.toFixed(0)]));
    }
    const writes: WriteRow[] = [sqlite.write, ...(pgr ? [pgr.write] : [])];
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const range = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    console.log(`## Ledger: sustained write rate of one writer (batches of ${BENCH_BATCH}, the default --ledger-batch, with their roll-ups; ${writes[0]?.ledger.length ?? 0} runs each, alternating with the baseline)\n`);
    console.log('Baseline: the same records through the same writer and thread/pool into a plain table (no key, no index, no roll-ups). CPU: this process (all threads) plus the PostgreSQL server\'s processes.\n');
    table(['store', 'records', 'records/s (median, range)', 'CPU µs/record', 'raw INSERT records/s', 'raw CPU µs/record', 'ledger/raw rate', 'ledger/raw CPU', 'load avg'], writes.map((w) => {
      const rate = w.ledger.map((r) => r.perSecond);
      const base = w.baseline.map((r) => r.perSecond);
      const cpu = med(w.ledger.map((r) => r.cpuUsPerRecord));
      const baseCpu = med(w.baseline.map((r) => r.cpuUsPerRecord));
      return [w.store, String(w.records), `${med(rate).toFixed(0)} (${range(rate)})`, f1(cpu), `${med(base).toFixed(0)} (${range(base)})`, f1(baseCpu),
        f2(med(rate) / med(base)), `${f2(cpu / baseCpu)}x`, `${f1(w.load[0])} → ${f1(w.load[1])}`];
    }));
    const reports: SpendRow[] = [sqlite.report, pgr?.report].filter((r): r is SpendRow => r !== undefined);
    if (reports.length > 0) {
      console.log('## GET /v1/spend for a month grouped by subject over 10 M records (29 days of roll-ups + the current day raw; median of 5)\n');
      console.log('Month to date reads the monthly roll-ups; the baseline reads the same 29 whole days from the daily roll-ups (how every month was read before).\n');
      table(['store', 'daily roll-up rows', 'raw rows today', 'records represented', 'subjects', 'month to date ms', 'from daily roll-ups ms', 'ratio'],
        reports.map((r) => [r.store, String(r.rollupRows), String(r.rawRows), String(r.records), String(r.groups), f1(r.ms), f1(r.dailyMs), f2(r.ms / r.dailyMs)]));
    }
    const mem = queueMemory(100_000);
    const list = await budgetListing();
    console.log('## Ledger queue at its bound, and the budgets listing\n');
    table(['what', 'value'], [
      [`queue memory, ${mem.records} records (the default --ledger-queue)`, `${f1(mem.mib)} MiB (${mem.bytesPerRecord.toFixed(0)} B/record)`],
      [`GET /v1/budgets page of 100 of ${list.subjects} subjects (memory counters)`, `${f2(list.ms)} ms`],
    ]);
  } finally {
    await pgServer?.close();
  }
}

async function operator(): Promise<void> {
  const r = await benchOperator(1000);
  const o = await benchOperator(1000, chartNodeOptions(), { big: { policies: 20, overrides: 1000 } });
  console.log(`## Operator: 1,000 TokenPolicies, then 1,000 plus 20 of 1,000 overrides each (operator process with NODE_OPTIONS "${chartNodeOptions()}" vs fake kube-apiserver over HTTP, one ext_proc)\n`);
  table(['policies', 'limits ConfigMaps', 'limits bytes', 'converge to Ready s', 'operator CPU s', 'operator peak RSS MiB', 'edit enforced s'], [r, o].map((x, i) => [
    i === 0 ? String(x.policies) : '1000 + 20 × 1,000 overrides', String(x.limitsConfigMaps), String(x.limitsBytes), f2(x.convergeSeconds), f1(x.operatorCpuSeconds),
    f1(x.peakRssMiB), `${f2(x.editEnforcedSeconds)}${i === 0 ? '' : ' (one override)'}`,
  ]));
}

async function atRest(): Promise<void> {
  // Ledger off and on side by side (the same load at the same time); then Node's and glibc's defaults.
  const [image, ledgerOn] = await Promise.all([memoryAtRest(), memoryAtRest(false, 'ledger-sqlite')]);
  const plain = await memoryAtRest(true);
  console.log(`## Memory at rest (ext_proc process, after GC; 400 gpt-4o-mini requests of 4 KB, 13 s idle before each sample; ledger off and on measured side by side)\n`);
  table(['state', `RSS MiB, ledger off, as the image runs (${RUNTIME_NODE_FLAGS.join(' ')}, ${Object.entries(RUNTIME_ENV).map(([k, v]) => `${k}=${v}`).join(' ')})`,
    'RSS MiB, ledger off, Node and glibc defaults', 'RSS MiB, SQLite ledger on (the default), as the image runs', 'ledger on − off MiB'], [
    ['idle after start', f1(image.idleAfterStartMiB), f1(plain.idleAfterStartMiB), f1(ledgerOn.idleAfterStartMiB), f1(ledgerOn.idleAfterStartMiB - image.idleAfterStartMiB)],
    ['idle after gpt-4o-mini traffic (o200k_base loaded)', f1(image.idleAfterGpt4oMiB), f1(plain.idleAfterGpt4oMiB), f1(ledgerOn.idleAfterGpt4oMiB), f1(ledgerOn.idleAfterGpt4oMiB - image.idleAfterGpt4oMiB)],
  ]);
  console.log('## Vocabulary cost, each loaded alone in a fresh process\n');
  table(['tokenizer', 'load ms', 'RSS MiB', 'heap MiB'], vocabularyCosts().map((v) => [v.name, f1(v.loadMs), f1(v.rssMiB), f1(v.heapMiB)]));
}

async function main(): Promise<void> {
  console.log(`# tokenmeter bench — ${new Date().toISOString()}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n`);
  if (process.argv.includes('--budgets-only')) return budgets();
  if (process.argv.includes('--decisions-only')) {
    limitsSize();
    return decisions();
  }
  if (process.argv.includes('--operator-only')) return operator();
  if (process.argv.includes('--large-prompt-only')) return largePrompt();
  if (process.argv.includes('--memory-only')) return atRest();
  if (process.argv.includes('--ledger-only')) return ledger();
  if (process.argv.includes('--console-only')) return benchConsole(table, quick);
  console.log('## Tokenizers (MB/s, higher is better)\n');
  const tok = await benchTokenizers();
  table(Object.keys(tok[0] ?? {}), tok.map((r) => Object.values(r).map(String)));
  await atRest();
  await extprocVsEcho();
  await smallWhileLarge();
  await largePrompt();
  await budgets();
  limitsSize();
  await decisions();
  await ledger();
  await benchConsole(table, quick);
  await operator();
}

await main();
