/**
 * Two ext_proc processes (the built binary) sharing one real redis-server: the joint budget holds with the same bound
 * as one replica; Redis killed mid-run: failureMode Open allows and Closed answers 503; Redis back: counting resumes
 * and no reservation leaks. Needs `npm run build` (npm test builds first) and redis-server (CI installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnvoyClient, runExchange } from '../envoy/emulator.js';
import { plannedRequest } from '../helpers/budget-traffic.js';
import { eventually } from '../helpers/test-server.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { freePort } from '../helpers/free-port.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

function yaml(tokens: number, failureMode: 'Open' | 'Closed'): string {
  return `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: shared}
spec:
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: ${tokens}, window: Day}
  reservation: {output: MaxTokens, defaultMaxTokens: 256}
  enforcement: {mode: Enforce, failureMode: ${failureMode}}
`;
}

interface Replica {
  proc: ChildProcess;
  client: ExternalProcessorClient;
  admin: number;
}

async function startReplica(policies: string, redisUrl: string): Promise<Replica> {
  const [grpc, admin] = [await freePort(), await freePort()];
  const proc = spawn(process.execPath, [BIN, 'extproc', '--grpc-address', `127.0.0.1:${grpc}`, '--admin-address', `127.0.0.1:${admin}`,
    // A generous Redis timeout: this test measures the budget bound, which holds while the store answers (a timeout
    // applies failureMode, tested below); on a loaded 2-core CI machine a 200-request burst can exceed 250 ms.
    // The server's own decision deadline matches the emulator's 10 s message timeout.
    '--policies', policies, '--redis-url', redisUrl, '--redis-timeout', '5', '--message-timeout', '10', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const until = Date.now() + 10_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > until) throw new Error('replica did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, client: createEnvoyClient(`127.0.0.1:${grpc}`), admin };
}

/** Settle round trips replica `r` has made to Redis, from its /metrics. */
async function redisSettles(r: Replica): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('tokenmeter_store_duration_seconds_count{') && l.includes('store="redis"') && l.includes('op="settle"'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe.skipIf(skipWithoutRedis())('budgets shared through Redis by two ext_proc processes', () => {
  let redis: RedisServer;
  let dir: string;
  let replicas: Replica[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    dir = mkdtempSync(join(tmpdir(), 'tm-redis-policies-'));
    writeFileSync(join(dir, 'policy.yaml'), yaml(20_000, 'Open'));
    replicas = [await startReplica(dir, redis.url), await startReplica(dir, redis.url)];
  });
  afterAll(async () => {
    for (const r of replicas) {
      r.client.close();
      r.proc.kill('SIGKILL');
    }
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds one joint budget across replicas with the single-replica overshoot bound', async () => {
    const budget = 20_000;
    const requests = Array.from({ length: 200 }, (_, i) => plannedRequest(i, 'joint', 256));
    const results = await Promise.all(requests.map(async (r, i) => {
      await new Promise((res) => setTimeout(res, i % 5));
      return runExchange((replicas[i % 2] as Replica).client, r.exchange, { messageTimeoutMs: 10_000 });
    }));
    let used = 0;
    let admitted = 0;
    results.forEach((res, i) => {
      if (res.immediate) return;
      admitted++;
      used += requests[i]!.input + requests[i]!.output;
    });
    const bound = Math.max(0, ...requests.map((r) => r.input + r.output - r.reserved));
    const codes = (k: number): string => [...new Set(results.filter((_, i) => i % 2 === k).map((r) => String(r.immediate?.status?.code ?? 'admitted')))].join(',');
    console.log(`two replicas, budget ${budget}: admitted ${admitted}/200 (replica A ${results.filter((r, i) => i % 2 === 0 && !r.immediate).length}: ${codes(0)}; B: ${codes(1)}), used ${used}, overshoot ${Math.max(0, used - budget)} (bound ${bound})`);
    for (const r of replicas) {
      const m = await (await fetch(`http://127.0.0.1:${r.admin}/metrics`)).text();
      expect(m, 'no store errors: every decision was made by Redis').not.toMatch(/tokenmeter_store_errors_total\{store="redis"\} [1-9]/);
    }
    expect(admitted).toBeGreaterThan(10);
    expect(admitted).toBeLessThan(200);
    expect(used - budget).toBeLessThanOrEqual(bound);
  });

  it('Redis killed: Open allows, Closed answers 503; Redis back: counting resumes and nothing leaks', async () => {
    const [a, b] = replicas as [Replica, Replica];
    await redis.kill();
    const t0 = Date.now();
    const during = await runExchange(a.client, plannedRequest(1, 'outage', 256).exchange, { messageTimeoutMs: 10_000 });
    expect(during.immediate).toBeUndefined();
    expect(during.responseHeaderMutations['x-ratelimit-limit-tokens']).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(3000); // a refused connection fails at once, not after the 5 s --redis-timeout
    const metrics = await (await fetch(`http://127.0.0.1:${a.admin}/metrics`)).text();
    expect(metrics).toMatch(/tokenmeter_limit_decisions_total\{policy="shared",limit="daily",outcome="store-error"\} [1-9]/);

    writeFileSync(join(dir, 'policy.yaml'), yaml(20_000, 'Closed'));
    const until = Date.now() + 5000;
    let closed;
    while (Date.now() < until) {
      closed = await runExchange(b.client, plannedRequest(2, 'outage', 256).exchange, { messageTimeoutMs: 10_000 });
      if (closed.immediate) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(closed?.immediate?.status?.code).toBe('ServiceUnavailable');

    await redis.restart();
    const first = plannedRequest(3, 'after', 256);
    const second = plannedRequest(4, 'after', 256);
    let ok;
    let settledBefore = 0;
    for (let i = 0; i < 50; i++) {
      settledBefore = await redisSettles(a);
      ok = await runExchange(a.client, first.exchange, { messageTimeoutMs: 10_000 });
      if (!ok.immediate) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok?.responseHeaderMutations['x-ratelimit-remaining-tokens']).toBe(String(20_000 - first.reserved));
    // Settled on replica A (its settle runs as the stream closes), seen from replica B: only the real usage remains;
    // the reservation did not leak.
    await eventually(async () => ((await redisSettles(a)) > settledBefore ? true : undefined));
    const next = await runExchange(b.client, second.exchange, { messageTimeoutMs: 10_000 });
    expect(next.responseHeaderMutations['x-ratelimit-remaining-tokens']).toBe(String(20_000 - (first.input + first.output) - second.reserved));
  });
});
