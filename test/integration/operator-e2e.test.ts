/**
 * In-process end to end: a TokenPolicy in the fake kube-apiserver → `tokenmeter operator` (real client-node adapter,
 * informer, work queue, Lease leader election, reconciler) publishes the limits ConfigMap → `tokenmeter extproc
 * --policies-configmap` (its own API watch) loads them → the operator asks the ext_proc (found through its
 * EndpointSlice) which version it loaded → the policy reads Ready=True for generation 1 → the emulated Envoy gets
 * 429 once the budget is spent. Then the policy is edited (limit raised) and the ext_proc admits again
 * within 2 s, without a restart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExtproc, type RunningExtproc } from '../../src/cli/extproc.js';
import { runOperator, type RunningOperator } from '../../src/cli/operator.js';
import { tokenmeterVersion } from '../../src/cli/version.js';
import { loadConfig } from '../../src/config/config.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { KubeObject } from '../../src/k8s/client.js';
import type { LeaseSpec } from '../../src/k8s/leader.js';
import { createLogger } from '../../src/log/logger.js';
import { findCondition, type Condition } from '../../src/operator/conditions.js';
import { createEnvoyClient, runExchange, type ExchangeResult } from '../envoy/emulator.js';
import { plannedRequest } from '../helpers/budget-traffic.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';
import { DEFAULT_RESOURCES, type FakeResource } from '../helpers/fake-apiserver-store.js';
import { eventually, metricValue } from '../helpers/test-server.js';

const TP = { apiVersion: 'tokenmeter.dev/v1alpha1', kind: 'TokenPolicy' } as const;
const HTTP_ROUTE: FakeResource = { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'HTTPRoute', plural: 'httproutes', namespaced: true };
const NS = 'team-a';
const LIMITS = 'tokenmeter-system/tokenmeter-policies';

function tokenPolicy(tokens: number): KubeObject {
  return {
    ...TP, metadata: { name: 'tenants', namespace: NS },
    spec: {
      subject: { from: 'Header', name: 'x-tenant-id', onMissing: 'Reject' },
      limits: [{ name: 'daily', tokens, window: 'Day', count: 'Total' }],
      reservation: { output: 'MaxTokens', defaultMaxTokens: 256 },
      enforcement: { mode: 'Enforce', failureMode: 'Open' },
    },
  };
}

interface Status { observedGeneration?: number; loadedVersion?: string; conditions?: Condition[] }

describe('operator → limits ConfigMap → ext_proc → Envoy', () => {
  let fake: FakeApiServer;
  let dir: string;
  let operator: RunningOperator;
  let extproc: RunningExtproc;
  let envoy: ExternalProcessorClient;
  let sent = 0;

  const status = (): Status => (fake.get(TP.apiVersion, TP.kind, NS, 'tenants')?.status ?? {});
  const ready = (): Condition | undefined => findCondition(status().conditions ?? [], 'Ready');
  // Even-numbered planned requests set max_tokens (reserve input + max_tokens, under 400, so each fits the budget): a
  // 429 means the budget is spent.
  const request = (): Promise<ExchangeResult> =>
    runExchange(envoy, plannedRequest(2 * sent++, 'acme', 256).exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED', messageTimeoutMs: 5000 });
  const loadedVersion = async (): Promise<string | undefined> => {
    const json = await extproc.metrics.registry.getSingleMetric('tokenmeter_policies_version_info')?.get();
    return json?.values.find((v) => v.value === 1)?.labels.version as string | undefined;
  };

  beforeAll(async () => {
    fake = await FakeApiServer.start({ resources: [...DEFAULT_RESOURCES, HTTP_ROUTE] });
    dir = mkdtempSync(join(tmpdir(), 'tm-e2e-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, fake.kubeConfig().exportConfig());
    const logger = createLogger('silent');
    // The ext_proc starts first: the limits ConfigMap does not exist yet, it is picked up when the operator writes it.
    const { config } = loadConfig(['extproc', '--policies-configmap', LIMITS, '--kubeconfig', kubeconfig,
      '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--shutdown-grace', '1'], {});
    extproc = await runExtproc(config, logger);
    envoy = createEnvoyClient(`127.0.0.1:${extproc.grpc.port}`);
    // The ext_proc Service's one ready endpoint, as the EndpointSlice controller would publish it: the operator asks
    // it which limits version it loaded before setting Programmed.
    fake.put({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { name: 'tokenmeter-x1', namespace: 'tokenmeter-system', labels: { 'kubernetes.io/service-name': 'tokenmeter' } },
      ports: [{ name: 'grpc', port: extproc.grpc.port }, { name: 'admin', port: extproc.admin.port }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    });
    fake.put(tokenPolicy(1200));
    const parsed = loadConfig(['operator', '--kubeconfig', kubeconfig, '--flavour', 'Envoy', '--extproc-service', 'tokenmeter.tokenmeter-system:50051',
      '--limits-configmap', LIMITS, '--lease-namespace', 'tokenmeter-system', '--admin-address', '127.0.0.1:0', '--resync', '60'], { HOSTNAME: 'op-0' });
    if (!parsed.operator) throw new Error('no operator config');
    expect(parsed.operator.leaderElect).toBe(true);
    operator = await runOperator(parsed.operator, logger, { processMetrics: false, lease: { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 } });
  });

  afterAll(async () => {
    envoy.close();
    await extproc.stop();
    await operator.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enforces the published budget (429) and reports Ready=True for generation 1', async () => {
    const t0 = Date.now();
    await eventually(() => (ready()?.status === 'True' ? true : undefined), 10_000);
    const readyMs = Date.now() - t0;
    expect(ready()).toMatchObject({ status: 'True', observedGeneration: 1 });
    expect(status().observedGeneration).toBe(1);
    const published = fake.get('v1', 'ConfigMap', 'tokenmeter-system', 'tokenmeter-policies') as KubeObject & { data: Record<string, string> };
    expect(published.data['policies.yaml']).toContain('x-tenant-id');
    expect(status().loadedVersion).toBe(published.data.version);

    // Ready means the ext_proc already loaded that version (through its own watch): the operator asked it.
    expect(await loadedVersion()).toBe(published.data.version);
    expect(findCondition(status().conditions ?? [], 'Programmed')?.message).toContain(`Limits version ${published.data.version} loaded by 1/1 ready ext_proc replicas.`);
    expect(await metricValue(extproc.metrics, 'tokenmeter_policies_loaded')).toBe(1);

    let limited: ExchangeResult | undefined;
    for (let i = 0; i < 20 && !limited; i++) {
      const res = await request();
      if (res.immediate) limited = res;
    }
    expect(limited?.immediate?.status?.code).toBe('TooManyRequests');
    expect(sent).toBeGreaterThan(1); // some requests were admitted before the budget ran out

    // Leader election: this operator holds the Lease and runs the queue; probes and metrics answer.
    const lease = fake.get('coordination.k8s.io/v1', 'Lease', 'tokenmeter-system', 'tokenmeter-operator');
    expect((lease?.spec as LeaseSpec).holderIdentity).toBe(operator.identity);
    expect(operator.identity).toMatch(/^op-0-[0-9a-f]{8}$/);
    expect(operator.controller.isLeader()).toBe(true);
    const base = `http://127.0.0.1:${operator.admin.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/v1/count`, { method: 'POST' })).status).toBe(404);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/tokenmeter_operator_reconciles_total\{result="success"\} [1-9]/);
    expect(metrics).toMatch(/tokenmeter_operator_last_successful_sync_timestamp_seconds [1-9]/);
    expect(metrics).toContain('tokenmeter_operator_queue_depth 0');
    expect(metrics).toContain('tokenmeter_operator_leader 1');
    // Both processes name themselves to the API server (audit logs, metrics): never node-fetch's default.
    const agents = new Set(fake.requests.map((r) => r.userAgent));
    expect([...agents].sort()).toEqual([`tokenmeter-extproc/${tokenmeterVersion()}`, `tokenmeter-operator/${tokenmeterVersion()}`]);
    console.info(`[e2e] policy Ready after ${readyMs} ms; 429 after ${sent} requests`);
  });

  it('a status write does not trigger another reconcile; an edit is enforced through the watches, not the 60 s resync', async () => {
    const reconciles = async (): Promise<number> => (await operator.metrics.reconciles.get()).values.reduce((s, v) => s + v.value, 0);
    await operator.controller.idle();
    const before = await reconciles();
    await new Promise((r) => setTimeout(r, 300));
    expect(await reconciles()).toBe(before); // its own status write (same generation) was skipped

    const oldVersion = await loadedVersion();
    expect((await request()).immediate?.status?.code).toBe('TooManyRequests'); // still spent before the edit
    const t0 = Date.now();
    fake.put(tokenPolicy(1_000_000));
    let admittedAfter: number | undefined;
    // The < 2 s target is measured by `npm run bench`; here 10 s (a loaded CI machine) still tells the watches from the
    // 60 s resync this operator runs with.
    while (admittedAfter === undefined && Date.now() - t0 < 10_000) {
      const res = await request();
      if (!res.immediate) admittedAfter = Date.now() - t0;
      else await new Promise((r) => setTimeout(r, 10));
    }
    expect(admittedAfter, 'admitted again within 10 s of the edit').toBeDefined();
    expect(await loadedVersion()).not.toBe(oldVersion);
    await eventually(() => (ready()?.observedGeneration === 2 && ready()?.status === 'True' ? true : undefined), 10_000);
    expect(status().observedGeneration).toBe(2);
    console.info(`[e2e] edit enforced after ${admittedAfter ?? -1} ms`);
  });

  it('a policy waiting for its HTTPRoute is accepted as soon as the route is created (watched, not the 30 s retry)', async () => {
    const routed = { ...tokenPolicy(5000), metadata: { name: 'routed', namespace: NS } };
    fake.put({ ...routed, spec: { ...(routed.spec as object), targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'llm' }] } });
    const accepted = (): Condition | undefined => findCondition((fake.get(TP.apiVersion, TP.kind, NS, 'routed')?.status as Status | undefined)?.conditions ?? [], 'Accepted');
    await eventually(() => (accepted()?.reason === 'TargetNotFound' ? true : undefined), 15_000);
    const t0 = Date.now();
    fake.put({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'llm', namespace: NS }, spec: { parentRefs: [{ name: 'gw' }] } });
    await eventually(() => (accepted()?.status === 'True' ? true : undefined), 15_000);
    const acceptedMs = Date.now() - t0;
    expect(acceptedMs).toBeLessThan(15_000); // the retry alone would take 30 s
    console.info(`[e2e] target created → Accepted after ${acceptedMs} ms`);
  });

  it('stopping releases the Lease; invalid limits content keeps the loaded policies', async () => {
    await operator.stop();
    const lease = fake.get('coordination.k8s.io/v1', 'Lease', 'tokenmeter-system', 'tokenmeter-operator');
    expect((lease?.spec as LeaseSpec).holderIdentity).toBe('');
    expect(operator.controller.isLeader()).toBe(false);

    const version = await loadedVersion();
    const cm = fake.get('v1', 'ConfigMap', 'tokenmeter-system', 'tokenmeter-policies') as KubeObject & { data: Record<string, string> };
    fake.put({ ...cm, data: { 'policies.yaml': 'kind: TokenPolicy\nspec: [', version: 'broken' } });
    await eventually(async () => ((await metricValue(extproc.metrics, 'tokenmeter_policy_reloads_total', { result: 'invalid' })) === 1 ? true : undefined), 10_000);
    expect(await loadedVersion()).toBe(version);
    expect(await metricValue(extproc.metrics, 'tokenmeter_policies_loaded')).toBe(2); // tenants + routed
    expect((await request()).immediate).toBeUndefined(); // the raised limit still applies
  });
});
