/**
 * Operator convergence as it runs: the built `tokenmeter operator` in its own process against the fake kube-apiserver
 * (test/helpers/fake-apiserver.ts, HTTP, list+watch, server-side apply) held by this process, with a real ext_proc
 * (`--policies-configmap`, in this process) behind an EndpointSlice so Programmed/Ready wait for the data plane as
 * in a cluster. 1,000 TokenPolicies (50 namespaces, each with an HTTPRoute target) from an empty state: seconds
 * until every policy reads Ready=True, and the operator process's peak RSS (VmHWM; only the operator, not the fake
 * API or the ext_proc), run with the chart's default NODE_OPTIONS (operator.nodeOptions). Then one policy edited among 1,000: seconds until the ext_proc loaded the limits carrying
 * the new value (it enforces what it loaded: the matcher is swapped on load).
 *
 * BENCH_TRACE=1 prints the Ready count as it grows, the operator's requests by verb and resource, and the CPU seconds
 * of the operator and of this process; BENCH_PROF=1 writes a V8 CPU profile of the operator to /tmp/prof.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { runExtproc } from '../src/cli/extproc.js';
import { loadConfig } from '../src/config/config.js';
import { parsePolicies } from '../src/policy/parse.js';
import type { KubeObject } from '../src/k8s/client.js';
import { createLogger } from '../src/log/logger.js';
import { FakeApiServer } from '../test/helpers/fake-apiserver.js';
import { DEFAULT_RESOURCES, type FakeResource } from '../test/helpers/fake-apiserver-store.js';

const BIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TP = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' };
const NS = 'tokenmeter-system';
const RESOURCES: FakeResource[] = [
  ...DEFAULT_RESOURCES,
  { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'HTTPRoute', plural: 'httproutes', namespaced: true },
  { group: 'gateway.networking.k8s.io', version: 'v1beta1', kind: 'ReferenceGrant', plural: 'referencegrants', namespaced: true },
  // Envoy Gateway installs both: with BackendTrafficPolicy missing, every prune of a policy's children asked discovery.
  { group: 'gateway.envoyproxy.io', version: 'v1alpha1', kind: 'EnvoyExtensionPolicy', plural: 'envoyextensionpolicies', namespaced: true },
  { group: 'gateway.envoyproxy.io', version: 'v1alpha1', kind: 'BackendTrafficPolicy', plural: 'backendtrafficpolicies', namespaced: true },
];

function spec(i: number, tokens: number): Record<string, unknown> {
  return {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'llm' }],
    match: { models: ['gpt-4o*'] },
    subject: { from: 'Header', name: 'x-tenant-id' },
    limits: [{ name: 'per-minute', tokens, window: '1m' }, { name: 'daily', tokens: tokens * 100, window: 'Day', count: 'Weighted', weights: { output: 4 } }],
    enforcement: { mode: i % 10 === 0 ? 'DryRun' : 'Enforce' },
  };
}

export interface OperatorBench {
  policies: number;
  convergeSeconds: number;
  /** CPU time (user + system) the operator process used until every policy was Ready. */
  operatorCpuSeconds: number;
  /** Peak resident set of the operator process (VmHWM). */
  peakRssMiB: number;
  editEnforcedSeconds: number;
  /** The limits ConfigMaps published (the named one and its shards) and the bytes of policies they hold. */
  limitsConfigMaps: number;
  limitsBytes: number;
}

function procKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** user + system CPU seconds of a process (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s on Linux). */
function procCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The V8 flags the Helm chart gives the operator (operator.nodeOptions): the bench runs what ships. */
export function chartNodeOptions(): string {
  const values = parseYaml(readFileSync(new URL('../../charts/tokenmeter/values.yaml', import.meta.url), 'utf8')) as { operator?: { nodeOptions?: string } };
  return values.operator?.nodeOptions ?? '';
}

/** Requests the operator made, by verb and resource (BENCH_TRACE): where convergence spends its round trips. */
function requestSummary(fake: FakeApiServer): string {
  const counts = new Map<string, number>();
  for (const r of fake.requests) {
    const parts = r.path.split('?')[0]?.split('/').filter(Boolean) ?? [];
    const ns = parts.indexOf('namespaces');
    const rest = ns >= 0 ? parts.slice(ns + 2) : parts.slice(parts[0] === 'api' ? 2 : 3);
    const key = `${r.method} ${rest[0] ?? ''}${rest.length > 2 ? `/${rest[2] ?? ''}` : ''}${r.query.watch ? ' (watch)' : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${String(v).padStart(6)} ${k}`).join('\n');
}

/** A policy of `overrides` overrides (tenant-0000… with their own daily budget); `edited` changes tenant-0500's. */
function bigSpec(overrides: number, edited = false): Record<string, unknown> {
  return {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'llm' }],
    subject: { from: 'Header', name: 'x-tenant-id' },
    limits: [{ name: 'per-minute', tokens: 100_000, window: '1m' }, { name: 'daily', tokens: 1_000_000, window: 'Day' }],
    overrides: Array.from({ length: overrides }, (_, i) => ({
      subject: `tenant-${String(i).padStart(4, '0')}`, limits: [{ name: 'daily', tokens: edited && i === 500 ? 7 : 2_000_000 + i }],
    })),
  };
}

/** Every limits ConfigMap the operator published, joined in order (the named one, then its shards). */
function publishedLimits(fake: FakeApiServer): { version?: string; text: string; maps: number } {
  const cm = fake.get('v1', 'ConfigMap', NS, 'tokenmeter-policies') as (KubeObject & { data: Record<string, string> }) | undefined;
  if (!cm) return { text: '', maps: 0 };
  const shards = (cm.data.shards ?? '').split('\n').filter(Boolean).map((l) => l.split(' ')[0] ?? '');
  const chunks = shards.map((name) => (fake.get('v1', 'ConfigMap', NS, name) as (KubeObject & { data: Record<string, string> }) | undefined)?.data['policies.yaml'] ?? '');
  return { version: cm.data.version, text: (cm.data['policies.yaml'] ?? '') + chunks.join(''), maps: 1 + shards.length };
}

export interface OperatorBenchOptions {
  /** Further policies of `overrides` overrides each (their edit is one override's budget). */
  big?: { policies: number; overrides: number };
}

export async function benchOperator(n = 1000, nodeOptions = chartNodeOptions(), options: OperatorBenchOptions = {}): Promise<OperatorBench> {
  const fake = await FakeApiServer.start({ resources: RESOURCES });
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-op-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, fake.kubeConfig().exportConfig());
  const { config } = loadConfig(['extproc', '--policies-configmap', `${NS}/tokenmeter-policies`, '--kubeconfig', kubeconfig,
    '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--shutdown-grace', '1'], {});
  const extproc = await runExtproc(config, createLogger('silent'));
  fake.put({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name: 'tokenmeter-b1', namespace: NS, labels: { 'kubernetes.io/service-name': 'tokenmeter' } },
    ports: [{ name: 'admin', port: extproc.admin.port }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  });
  const ns = (i: number): string => `team-${i % 50}`;
  for (let t = 0; t < 50; t++) fake.put({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'llm', namespace: `team-${t}` }, spec: { parentRefs: [{ name: 'gw' }] } });
  for (let i = 0; i < n; i++) fake.put({ ...TP, metadata: { name: `p${i}`, namespace: ns(i) }, spec: spec(i, 100_000) });
  const big = options.big?.policies ?? 0;
  for (let i = 0; i < big; i++) fake.put({ ...TP, metadata: { name: `big${i}`, namespace: ns(i) }, spec: bigSpec(options.big?.overrides ?? 0) });
  const total = n + big;
  const objectName = (i: number): string => (i < n ? `p${i}` : `big${i - n}`);
  const loaded = async (): Promise<string | null> => ((await (await fetch(`http://127.0.0.1:${extproc.admin.port}/v1/policies`)).json()) as { version: string | null }).version;

  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeOptions.split(' ').filter(Boolean), ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), BIN, 'operator', '--kubeconfig', kubeconfig, '--admin-address', '127.0.0.1:0',
    '--leader-elect', 'false', '--log-level', 'warn', '--resync', '0'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid ?? NaN;
  try {
    const isReady = (o: KubeObject | undefined): boolean => ((o?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [])
      .some((c) => c.type === 'Ready' && c.status === 'True');
    // Only the policies not yet Ready are read again, every 100 ms: the poll must not compete with the fake API server
    // and the ext_proc (this process) for the two cores.
    const waiting = new Set(Array.from({ length: total }, (_, i) => i));
    await until('every policy Ready', 180_000, async () => {
      if (child.exitCode !== null) throw new Error(`operator exited with ${child.exitCode}`);
      for (const i of waiting) if (isReady(fake.get(TP.apiVersion, TP.kind, ns(i < n ? i : i - n), objectName(i)))) waiting.delete(i);
      if (process.env.BENCH_TRACE) console.error(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${total - waiting.size} Ready`);
      if (waiting.size === 0) return true;
      await new Promise((r) => setTimeout(r, 100));
      return undefined;
    });
    const convergeSeconds = (performance.now() - t0) / 1000;
    const operatorCpuSeconds = procCpuSeconds(pid);
    if (process.env.BENCH_TRACE) {
      const cpu = process.cpuUsage();
      console.error(requestSummary(fake));
      console.error(`bench process (fake API + ext_proc) CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
    }

    // The edit: one small policy's limit, or (with big policies) one override's budget in one of them.
    const edited = Math.floor(n / 2);
    const editedName = big > 0 ? 'big0' : `p${edited}`;
    const before = await loaded();
    const t1 = performance.now();
    if (big > 0) fake.put({ ...TP, metadata: { name: 'big0', namespace: ns(0) }, spec: bigSpec(options.big?.overrides ?? 0, true) });
    else fake.put({ ...TP, metadata: { name: `p${edited}`, namespace: ns(edited) }, spec: spec(edited, 7) });
    let published = publishedLimits(fake);
    await until('the edit loaded by the ext_proc', 30_000, async () => {
      const v = await loaded();
      if (v === before) return undefined;
      published = publishedLimits(fake);
      if (published.version !== v) return undefined;
      const p = parsePolicies(published.text).policies.find((q) => q.name === editedName);
      const limit = big > 0 ? p?.overrides?.find((o) => o.subject === 'tenant-0500')?.limits[0] : p?.limits[0];
      return limit?.kind === 'tokens' && limit.tokens === 7 ? true : undefined;
    });
    const editEnforcedSeconds = (performance.now() - t1) / 1000;
    return {
      policies: total, convergeSeconds, operatorCpuSeconds, peakRssMiB: procKiB(pid, 'VmHWM') / 1024, editEnforcedSeconds,
      limitsConfigMaps: published.maps, limitsBytes: Buffer.byteLength(published.text),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await extproc.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
