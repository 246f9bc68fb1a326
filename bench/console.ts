/**
 * The budget console's bench rows (`npm run bench -- --console-only`): the policy page's data (/v1/subjects) for a
 * policy with 10,000 subjects — from the memory counters (local mode) and from the SQLite ledger (`tokenmeter console`
 * without Redis) — against /healthz on the same server in the same run; the first render of that page in Chromium;
 * and the server's CPU with 50 open browser pages following the live updates, against the same traffic with none.
 * The Chromium rows are skipped, with a message, when /usr/bin/chromium is missing.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { startConsoleServer, type ConsoleServer } from '../src/console/serve.js';
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
import { chromiumMissing, launchChromium, LIVE } from '../test/helpers/chromium.js';
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

async function latencies(base: string, path: (i: number) => string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
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
  const server = await startConsoleServer({ registry: new Registry(), ready: () => true, usage: { policies: () => [policy], store, now: Date.now } }, { userHeader: '' }, '127.0.0.1', 0);
  const base = `http://127.0.0.1:${server.port}`;
  const n = quick ? 50 : 300;
  await latencies(base, views, 20); // warm-up
  const subjects = await latencies(base, views, n);
  const health = await latencies(base, () => '/healthz', n);

  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-console-'));
  let ledgerRow: string[] = ['/v1/subjects, SQLite ledger (`tokenmeter console`, no Redis)', 'skipped', '', '', ''];
  try {
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY_YAML);
    await ledgerFor(join(dir, 'data', 'ledger.sqlite'), now);
    const child = await startChild(['console', '--policies', join(dir, 'policy.yaml'), '--data-dir', join(dir, 'data')]);
    try {
      await latencies(child.base, views, 5);
      const fromLedger = await latencies(child.base, views, quick ? 20 : 100);
      ledgerRow = ['/v1/subjects, SQLite ledger (`tokenmeter console`, no Redis)', f1(pct(fromLedger, 50)), f1(pct(fromLedger, 95)), f1(pct(fromLedger, 99)), String(fromLedger.length)];
    } finally {
      await child.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`## Console: a policy with ${SUBJECTS.toLocaleString('en-US')} subjects × 2 limits (one page of 50 rows; sorts, later pages, a search)\n`);
  console.log('Request time on loopback (ms; the server time plus a loopback HTTP round trip — /healthz on the same server shows that floor):\n');
  table(['request', 'p50 ms', 'p95 ms', 'p99 ms', 'requests'], [
    ['/v1/subjects, memory counters (local mode)', f1(pct(subjects, 50)), f1(pct(subjects, 95)), f1(pct(subjects, 99)), String(n)],
    ledgerRow,
    ['/healthz (floor)', f1(pct(health, 50)), f1(pct(health, 95)), f1(pct(health, 99)), String(n)],
  ]);
  return server;
}

async function firstRender(table: Table, base: string, quick: boolean): Promise<void> {
  const browser = await launchChromium();
  try {
    const rows: string[][] = [];
    for (const [name, path, ready] of [
      ['policy page', '/console/policy?name=bench/tenants', 'table[data-table="subjects"] tbody tr'],
      ['overview', '/console/', 'table[data-table="closest"] tbody tr'],
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
  /** The server's CPU over `seconds` while a request arrives every 200 ms (the live feed sees a change every second). */
  const measure = async (withTraffic: boolean): Promise<number> => {
    const c0 = cpuSeconds(server.pid);
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      if (withTraffic) {
        const d = traffic[sent++ % traffic.length];
        if (d) await runExchange(client, { ...d.exchange, requestHeaders: { ...d.exchange.requestHeaders, 'x-request-id': `live-${sent}` } }, { messageTimeoutMs: 10_000 });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return (cpuSeconds(server.pid) - c0) / ((Date.now() - t0) / 1000);
  };
  const browser = await launchChromium();
  try {
    const none = await measure(true);
    const pages = [];
    for (let i = 0; i < 50; i++) {
      const page = await browser.context.newPage();
      await page.goto(`${server.base}/console/policy?name=demo/team-budgets`);
      pages.push(page);
    }
    await Promise.all(pages.map((p) => p.waitForSelector(LIVE, { timeout: 120_000 })));
    const idle = await measure(false);
    const busy = await measure(true);
    console.log(`Live updates: the ext_proc's CPU (share of one core; /proc) with 50 Chromium pages on a policy page, each following /v1/events and refetching its view on every change, over ${seconds} s:\n`);
    table(['pages', 'traffic', 'CPU (cores)', 'per page (cores)'], [
      ['0', '5 requests/s (a change every second)', f1(none * 100) + ' %', ''],
      ['50', 'none (the streams only: pings every 10 s)', f1(idle * 100) + ' %', f1((idle * 100) / 50) + ' %'],
      ['50', '5 requests/s (a change every second)', f1(busy * 100) + ' %', f1(((busy - none) * 100) / 50) + ' % above 0 pages'],
    ]);
  } finally {
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
