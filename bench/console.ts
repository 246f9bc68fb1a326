/**
 * The budget console's bench rows (`npm run bench -- --console-only`): the policy page's data (/v1/subjects) for a
 * policy with 10,000 subjects — from the memory counters (local mode) and from the SQLite ledger (`tokenmeter console`
 * without Redis) — against /healthz on the same server in the same run; the first render of that page in Chromium;
 * and the server's CPU with 50 open browser pages following the live updates, against the same traffic with none.
 * The Chromium rows are skipped, with a message, when /usr/bin/chromium is missing.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { startConsoleServer, type ConsoleServer } from '../src/console/serve.js';
import { startAdminServer } from '../src/admin/server.js';
import { counterKey } from '../src/limits/keys.js';
import { createMemoryStore } from '../src/limits/memory-store.js';
import { SqliteLedger } from '../src/ledger/sqlite.js';
import { uuidv7 } from '../src/ledger/ids.js';
import type { UsageRecord } from '../src/ledger/record.js';
import { counterBudget } from '../src/policy/charge.js';
import { parsePolicies } from '../src/policy/parse.js';
import { windowAt } from '../src/policy/windows.js';
import type { TokenPolicy } from '../src/policy/types.js';
import { createEnvoyClient, runExchange } from '../test/envoy/emulator.js';
import { chromiumMissing, launchChromium, launchChromiumBrowser, LIVE } from '../test/helpers/chromium.js';
import { freePort } from '../test/helpers/free-port.js';
import { demoTraffic } from '../demo/traffic.js';

const SUBJECTS = 10_000;
const POLICY_YAML = `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: tenants, namespace: bench}
spec:
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: 1000000, window: Day}
  - {name: monthly-spend, costUSD: 50, window: Month}
  reservation: {output: None}
`;
const BIN = new URL('../src/cli/main.js', import.meta.url).pathname;

type Table = (header: string[], rows: string[][]) => void;
const f1 = (n: number): string => n.toFixed(1);
const cpuMsPer = (since: NodeJS.CpuUsage, n: number): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000 / n;
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** The views a policy page asks for: first page, other sorts, a later page, a search. */
function views(i: number): string {
  const v = [
    'sort=share', 'sort=subject&order=asc', `sort=daily&offset=${(i * 50) % SUBJECTS}`, `q=tenant-${i % 100}`, 'sort=monthly-spend&order=asc&offset=5000',
  ];
  return `/v1/subjects?policy=bench/tenants&page_size=50&${v[i % v.length] ?? ''}`;
}

async function latencies(base: string, path: (i: number) => string, n: number, gapMs = 0): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const t0 = performance.now();
    const res = await fetch(`${base}${path(i)}`);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path(i)}: HTTP ${res.status}`);
    out.push(performance.now() - t0);
  }
  return out;
}

/** 10,000 subjects' live counters in a memory store (two limits each). */
async function countersFor(policy: TokenPolicy, now: number): Promise<ReturnType<typeof createMemoryStore>> {
  const store = createMemoryStore();
  for (let i = 0; i < SUBJECTS; i++) {
    const counters = policy.limits.map((l) => {
      const w = windowAt(l.window, now);
      return { key: counterKey(policy, l, `tenant-${i}`, undefined, w.id), amount: Math.floor(counterBudget(l) * ((i * 7919) % 1000) / 1000), limit: counterBudget(l), windowEndMs: w.end };
    });
    await store.reserve({ id: `r${i}`, counters, nowMs: now, reservationTtlMs: 3_600_000, force: true });
  }
  return store;
}

/** 10,000 subjects' records today (3 each) in a SQLite ledger. */
async function ledgerFor(file: string, now: number): Promise<void> {
  const store = await SqliteLedger.open(file);
  let batch: UsageRecord[] = [];
  for (let i = 0; i < SUBJECTS * 3; i++) {
    const ts = now - (i % 3600) * 1000;
    batch.push({
      id: uuidv7(ts), requestId: `b${i}`, ts, policy: 'bench/tenants', limit: null, tier: null, override: null, subject: `tenant-${i % SUBJECTS}`,
      provider: 'openai', endpoint: 'openai.chat', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini', inputTokens: 100 + (i % 900), cachedInputTokens: 0,
      cacheWriteTokens: 0, outputTokens: 50, reasoningTokens: 0, usageSource: 'provider', costUsd: 0.0001, priceVersion: 'bench', decision: 'allowed', rejected: false,
      status: 200, stream: false, durationMs: 10,
    });
    if (batch.length === 1000) {
      await store.write(batch);
      batch = [];
    }
  }
  await store.close();
}

interface Child {
  pid: number;
  base: string;
  stop(): Promise<void>;
}

async function startChild(args: string[]): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, ...args, '--admin-address', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      if (i > 300) throw new Error(`${args[0] ?? ''} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { pid: child.pid ?? 0, base, stop: () => new Promise((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }) };
}

/** CPU seconds (user + system) of a process so far, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function serverTime(table: Table, quick: boolean): Promise<ConsoleServer> {
  const policy = parsePolicies(POLICY_YAML).policies[0] as TokenPolicy;
  const now = Date.now();
  const store = await countersFor(policy, now);
  const deps = { registry: new Registry(), ready: () => true, usage: { policies: () => [policy], store, now: Date.now } };
  const server = await startConsoleServer(deps, { userHeader: '' }, '127.0.0.1', 0);
  const plain = await startAdminServer(deps, '127.0.0.1', 0);
  const base = `http://127.0.0.1:${server.port}`;
  const n = quick ? 50 : 300;
  await latencies(base, views, 20); // warm-up
  // The admin API alone builds the listing for every request; the console's server shares one per change (≤ 1 s old).
  const c0 = process.cpuUsage();
  const cold = await latencies(`http://127.0.0.1:${plain.port}`, views, quick ? 20 : 100);
  const coldCpu = cpuMsPer(c0, cold.length);
  await plain.close();
  const c1 = process.cpuUsage();
  const subjects = await latencies(base, views, n);
  const warmCpu = cpuMsPer(c1, n);
  const health = await latencies(base, () => '/healthz', n);

  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-console-'));
  let ledgerRows: string[][] = [];
  try {
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY_YAML);
    await ledgerFor(join(dir, 'data', 'ledger.sqlite'), now);
    const child = await startChild(['console', '--policies', join(dir, 'policy.yaml'), '--data-dir', join(dir, 'data')]);
    try {
      await latencies(child.base, views, 5);
      const fromLedger = await latencies(child.base, views, quick ? 20 : 100);
      const ledgerCold = await latencies(child.base, views, quick ? 5 : 15, 1100); // > 1 s apart: every one rebuilds
      ledgerRows = [
        ['/v1/subjects, SQLite ledger (`tokenmeter console`, no Redis), each a rebuild', f1(pct(ledgerCold, 50)), f1(pct(ledgerCold, 95)), f1(pct(ledgerCold, 99)), String(ledgerCold.length)],
        ['/v1/subjects, SQLite ledger (`tokenmeter console`, no Redis), back to back', f1(pct(fromLedger, 50)), f1(pct(fromLedger, 95)), f1(pct(fromLedger, 99)), String(fromLedger.length)],
      ];
    } finally {
      await child.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`## Console: a policy with ${SUBJECTS.toLocaleString('en-US')} subjects × 2 limits (one page of 50 rows; sorts, later pages, a search)\n`);
  console.log('Request time on loopback (ms; the server time plus a loopback HTTP round trip — /healthz on the same server shows that floor):\n');
  console.log(`(load average while measuring: ${loadavg().map((l) => l.toFixed(1)).join(', ')}; CPU: this process, server and client together)\n`);
  table(['request', 'p50 ms', 'p95 ms', 'p99 ms', 'requests', 'CPU ms/request'], [
    ['/v1/subjects, memory counters, each a rebuild (admin API alone)', f1(pct(cold, 50)), f1(pct(cold, 95)), f1(pct(cold, 99)), String(cold.length), f1(coldCpu)],
    ['/v1/subjects, memory counters, console server (local mode), back to back', f1(pct(subjects, 50)), f1(pct(subjects, 95)), f1(pct(subjects, 99)), String(n), f1(warmCpu)],
    ...ledgerRows.map((r) => [...r, '']),
    ['/healthz (floor)', f1(pct(health, 50)), f1(pct(health, 95)), f1(pct(health, 99)), String(n), ''],
  ]);
  return server;
}

async function firstRender(table: Table, base: string, quick: boolean): Promise<void> {
  const browser = await launchChromium();
  try {
    const rows: string[][] = [];
    for (const [name, path, ready] of [
      ['policy page (10,000 subjects)', '/console/policy?name=bench/tenants', 'table[data-table="subjects"] tbody tr'],
      ['policy page, sorted by subject, page 101', '/console/policy?name=bench/tenants&sort=subject&order=asc&page=101', 'table[data-table="subjects"] tbody tr'],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < (quick ? 3 : 7); i++) {
        const page = await browser.context.newPage();
        await page.goto(`${base}${path}`);
        await page.waitForSelector(ready);
        times.push(await page.evaluate(() => performance.now()));
        await page.close();
      }
      rows.push([name, f1(pct(times, 50)), f1(Math.max(...times)), String(times.length)]);
    }
    console.log('First render in Chromium (ms from navigation start until the table has rows; includes loading the page, the bundle and the JSON):\n');
    table(['page', 'median ms', 'max ms', 'loads'], rows);
  } finally {
    await browser.close();
  }
}

async function liveCpu(table: Table, quick: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-live-'));
  const grpcPort = await freePort();
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'demo.yaml'), readFileSync(new URL('../../examples/policies/console-demo.yaml', import.meta.url)));
  const server = await startChild(['extproc', '--policies', join(dir, 'policies'), '--data-dir', join(dir, 'data'), '--grpc-address', `127.0.0.1:${grpcPort}`, '--ledger-flush-interval', '0.1']);
  const client = createEnvoyClient(`127.0.0.1:${grpcPort}`);
  const traffic = demoTraffic('bench');
  const seconds = quick ? 8 : 20;
  let sent = 0;
  // One stream of our own counts the changes the pages were told about.
  let changes = 0;
  const ctrl = new AbortController();
  void fetch(`${server.base}/v1/events`, { signal: ctrl.signal }).then(async (res) => {
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      changes += (new TextDecoder().decode(value).match(/event: change/g) ?? []).length;
    }
  }).catch(() => undefined);
  /** The server's CPU, the requests sent and the changes seen over `seconds`, a request every 200 ms (or none). */
  const measure = async (withTraffic: boolean): Promise<{ cpu: number; requests: number; changes: number; seconds: number }> => {
    const c0 = cpuSeconds(server.pid);
    const [s0, ch0] = [sent, changes];
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      if (withTraffic) {
        const d = traffic[sent++ % traffic.length];
        if (d) await runExchange(client, { ...d.exchange, requestHeaders: { ...d.exchange.requestHeaders, 'x-request-id': `live-${sent}` } }, { messageTimeoutMs: 10_000 });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1500)); // the last change and the refetches it causes
    const elapsed = (Date.now() - t0) / 1000;
    return { cpu: cpuSeconds(server.pid) - c0, requests: sent - s0, changes: changes - ch0, seconds: elapsed };
  };
  const browser = await launchChromiumBrowser();
  try {
    // Warm-up: the first requests load the tokenizer's encodings and JIT the paths; the rows compare warm servers.
    for (const d of traffic) await runExchange(client, { ...d.exchange, requestHeaders: { ...d.exchange.requestHeaders, 'x-request-id': `warm-${sent++}` } }, { messageTimeoutMs: 20_000 });
    const none = await measure(true);
    const pages = [];
    for (let i = 0; i < 50; i++) {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      await page.goto(`${server.base}/console/policy?name=demo/team-budgets`, { timeout: 120_000 });
      pages.push(page);
    }
    await Promise.all(pages.map((p) => p.waitForSelector(LIVE, { timeout: 120_000 })));
    const idle = await measure(false);
    const busy = await measure(true);
    const perRequest = none.cpu / Math.max(1, none.requests);
    const pageCpu = busy.cpu - busy.requests * perRequest;
    console.log(`Live updates: the ext_proc's CPU (/proc) with 50 browser sessions (Chromium contexts) on a policy page, each following /v1/events and refetching its view on every change, ${seconds} s per row (load average ${loadavg().map((l) => l.toFixed(1)).join(', ')}; the 50 Chromium sessions load the machine, so fewer requests go out in the same time):\n`);
    const ms = (x: number): string => f1(x * 1000);
    table(['pages', 'traffic', 'requests', 'changes', 'server CPU s', 'CPU % of a core', 'CPU ms per change for the pages'], [
      ['0', 'a request every 200 ms', String(none.requests), String(none.changes), f1(none.cpu), f1((none.cpu / none.seconds) * 100), ''],
      ['50', 'none (the streams only: a ping every 10 s)', '0', String(idle.changes), f1(idle.cpu), f1((idle.cpu / idle.seconds) * 100), ''],
      ['50', 'a request every 200 ms', String(busy.requests), String(busy.changes), f1(busy.cpu), f1((busy.cpu / busy.seconds) * 100), `${ms(pageCpu / Math.max(1, busy.changes))} (${ms(pageCpu / Math.max(1, busy.changes) / 50)} per page)`],
    ]);
  } finally {
    ctrl.abort();
    client.close();
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchConsole(table: Table, quick: boolean): Promise<void> {
  const server = await serverTime(table, quick);
  try {
    const missing = chromiumMissing();
    if (missing) {
      console.log(`Chromium rows skipped: ${missing}\n`);
      return;
    }
    await firstRender(table, `http://127.0.0.1:${server.port}`, quick);
  } finally {
    await server.close();
  }
  await liveCpu(table, quick);
}
