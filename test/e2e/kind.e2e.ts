/**
 * tokenmeter end to end on kind: image from the repository's Dockerfile, Envoy Gateway, the Helm chart, a mock LLM
 * replaying recorded OpenAI exchanges, a TokenPolicy on an HTTPRoute — then traffic through the Gateway, checked at
 * the client (metering headers, 429s), the upstream, Envoy's access log and the ext_proc's metrics.
 *
 *   npm run e2e          (vitest run --config test/e2e/vitest.e2e.config.ts; see test/e2e/README.md)
 *
 * Skipped, saying why, when no Docker engine answers (E2E_REQUIRE=1 turns that into a failure). The steps run in
 * order; after a failure the rest are skipped and diagnostics are written to test/e2e/logs/.
 */
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAndLoadImages, deleteCluster, ensureCluster, type Kube } from './cluster.js';
import { EXTPROC_ADMIN_PORT, EXTPROC_SERVICEMONITOR, NAMES, NS, e2eSettings } from './config.js';
import { dumpDiagnostics } from './diagnostics.js';
import { missingLines, sampleChecks } from './crd-checks.js';
import {
  applyGateway, applyPolicy, deployMock, extprocPods, installChart, installCrd, installEnvoyGateway, installServiceMonitorCrd, type EnvoyTarget,
} from './install.js';
import { checkAccessLog, checkMetrics, parseAccessLog } from './observe.js';
import { assertUpstreamSaw, runScenario, summarize, warmUp, type ScenarioReport, type SentRequest } from './scenario.js';
import { log, poll, probeTools, suiteDecision, SKIP_MESSAGE, withDeadline } from './tools.js';
import { envoyGateway, envoyLogs, extprocMetrics, mockStats, type ForwardedGateway } from './traffic.js';

const settings = e2eSettings();
const probe = await probeTools();
const decision = suiteDecision(probe, settings.require);
if (decision.notice) console.warn(`\n*** ${decision.notice} ***\n`);

describe('kind e2e suite: run or skip', () => {
  it('says why it is skipped when there is no Docker engine', () => {
    if (probe.docker.ok) {
      expect(decision.skip).toBe(false);
      return;
    }
    expect(decision.notice).toContain(SKIP_MESSAGE);
    expect(decision.skip).toBe(!settings.require);
  });
});

interface State {
  failed: boolean;
  kube?: Kube;
  envoy?: EnvoyTarget;
  gateway?: ForwardedGateway;
  report?: ScenarioReport;
  /** Requests of the scenario with their responses, as they happen. */
  sent: SentRequest[];
  runId: string;
  /** Extra files for the diagnostics. */
  notes: Record<string, string>;
}

/** A run id makes the tenants unique, so a reused cluster's counters from earlier runs cannot interfere. */
const state: State = { failed: false, runId: `e2e${Date.now().toString(36)}`, sent: [], notes: {} };

function notes(): Record<string, string> {
  const sent = state.sent.map((r) => `${r.label} ${r.fixture} tenant=${r.tenant ?? '-'}\n  ${summarize(r.response)}`).join('\n');
  return { ...state.notes, ...(sent ? { 'scenario.txt': `${sent}\n` } : {}) };
}

const MIN = 60_000;
/** Time left to a failed step for dumpDiagnostics (dozens of kubectl calls and `kind export logs`). */
const DIAGNOSTICS_MS = 10 * MIN;

/**
 * One step of the suite: skipped after an earlier failure; on failure, diagnostics are dumped once. `timeoutMs` is
 * the step's own deadline (withDeadline); vitest's timeout is longer by the diagnostics' time, because a vitest
 * timeout would fail the test without ever reaching the catch below: no diagnostics, and the next steps would run.
 */
function step(name: string, timeoutMs: number, fn: () => Promise<void> | void): void {
  it(name, async (ctx) => {
    if (state.failed) {
      ctx.skip();
      return;
    }
    try {
      await withDeadline(`step "${name}"`, timeoutMs, Promise.resolve().then(fn));
    } catch (e) {
      state.failed = true;
      const dir = await dumpDiagnostics(state.kube, settings, `${name}\n\n${(e as Error).stack ?? String(e)}`, notes()).catch((d: unknown) => `(diagnostics failed: ${String(d)})`);
      log(`step failed: ${name}; diagnostics in ${dir}`);
      throw e;
    }
  }, timeoutMs + DIAGNOSTICS_MS);
}

describe.skipIf(decision.skip)(`tokenmeter on kind (cluster ${settings.clusterName})`, () => {
  afterAll(async () => {
    state.gateway?.close();
    if (decision.skip || !probe.kind.ok) return;
    if (settings.keepCluster) {
      log(`KEEP_CLUSTER=1: cluster "${settings.clusterName}" kept; kubectl --kubeconfig ${settings.kubeconfig} get tpol -A`);
    } else {
      await deleteCluster(settings);
    }
  }, 10 * MIN);

  step('docker, kind, kubectl and helm are installed', MIN, () => {
    rmSync(settings.logDir, { recursive: true, force: true }); // diagnostics of an earlier run
    if (decision.missing.length > 0) throw new Error(`missing: ${decision.missing.join(', ')}`);
    log(`docker ${probe.docker.detail}; ${probe.kind.detail}; kubectl ${probe.kubectl.detail}; helm ${probe.helm.detail}`);
  });

  step(`kind cluster ${settings.clusterName} is up`, 25 * MIN, async () => {
    const { kube, reused } = await ensureCluster(settings);
    state.kube = kube;
    log(`${reused ? 'reused' : 'created'} cluster ${settings.clusterName}; kubeconfig ${settings.kubeconfig}`);
  });

  step('image tokenmeter:e2e is built from the Dockerfile and loaded into kind', 45 * MIN, async () => {
    await buildAndLoadImages(settings);
  });

  step(`Envoy Gateway ${settings.egVersion} and the ServiceMonitor CRD are installed`, 25 * MIN, async () => {
    const kube = state.kube as Kube;
    await installEnvoyGateway(kube, settings);
    await installServiceMonitorCrd(kube, settings);
  });

  step('the TokenPolicy CRD, CEL rules included, applies server-side from crds/ (the apiserver compiles and costs the rules)', 5 * MIN, async () => {
    await installCrd(state.kube as Kube);
  });

  step('the tokenmeter chart is installed and its deployments are available', 15 * MIN, async () => {
    await installChart(state.kube as Kube, settings);
  });

  step('the mock LLM serves the recorded fixtures in the cluster', 10 * MIN, async () => {
    const kube = state.kube as Kube;
    await deployMock(kube);
    // Polled: the Service proxy can answer 503 for a moment after the rollout, until the endpoints list the pod.
    const stats = await poll('the mock\'s /mock/stats through the Service proxy', 60_000, 2000, () => mockStats(kube));
    expect(typeof stats.requests).toBe('number');
  });

  step('GatewayClass, Gateway (with the access log) and HTTPRoute are accepted; Envoy is running', 25 * MIN, async () => {
    state.envoy = await applyGateway(state.kube as Kube);
    state.gateway = envoyGateway(state.kube as Kube, state.envoy.service);
  });

  step(`TokenPolicy ${NAMES.policy} becomes Ready and Envoy Gateway accepts the EnvoyExtensionPolicy the operator renders`, 10 * MIN, async () => {
    await applyPolicy(state.kube as Kube);
  });

  step('the apiserver refuses the bad TokenPolicy samples with the lines they expect (CEL messages, fieldPath, reason) and takes the good ones', 10 * MIN, async () => {
    const kube = state.kube as Kube;
    const wrong: string[] = [];
    for (const c of sampleChecks(NS.app)) {
      const r = await kube.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: JSON.stringify(c.object), check: false, quiet: true });
      const out = `${r.stdout}${r.stderr}`;
      if (c.expected.length === 0 && r.code !== 0) wrong.push(`${c.file}: refused: ${out.trim()}`);
      if (c.expected.length > 0 && r.code === 0) wrong.push(`${c.file}: accepted`);
      const missing = missingLines(out, c.expected);
      if (c.expected.length > 0 && r.code !== 0 && missing.length > 0) wrong.push(`${c.file}: missing ${JSON.stringify(missing)} in ${out.trim()}`);
    }
    if (wrong.length > 0) throw new Error(`TokenPolicy samples on the real apiserver:\n${wrong.join('\n')}`);
  });

  step('kubectl get tpol shows the limit count; the operator\'s objects carry its field manager; it was never refused (403)', 3 * MIN, async () => {
    const kube = state.kube as Kube;
    const table = (await kube.kubectl(['get', `tokenpolicies.tokenmeter.dev/${NAMES.policy}`, '--namespace', NS.app], { quiet: true })).stdout.trim().split('\n');
    const [head, row] = table.map((l) => l.trim().split(/\s+/));
    if (head?.[3] !== 'LIMITS' || row?.[3] !== '1') throw new Error(`kubectl get tpol: expected LIMITS 1:\n${table.join('\n')}`);
    const list = await kube.json<{ items: { metadata: { name: string; managedFields?: { manager: string; operation: string }[] } }[] }>(
      ['get', 'envoyextensionpolicies.gateway.envoyproxy.io', '--namespace', NS.app, '--show-managed-fields'], { quiet: true });
    for (const p of list.items) {
      const managers = (p.metadata.managedFields ?? []).map((m) => `${m.manager} ${m.operation}`);
      if (!managers.includes('tokenmeter-operator Apply')) throw new Error(`${p.metadata.name}: field managers ${JSON.stringify(managers)}`);
    }
    // Real ServiceAccount tokens and the chart's RBAC: a refused call is logged by the operator with its status.
    const logs = (await kube.kubectl(['logs', '--namespace', NS.tokenmeter, `deployment/${NAMES.helmRelease}-operator`, '--all-containers'], { quiet: true })).stdout;
    const refused = logs.split('\n').filter((l) => l.includes('"status":403'));
    if (refused.length > 0) throw new Error(`the operator was refused:\n${refused.slice(0, 5).join('\n')}`);
  });

  step(`the operator applied ServiceMonitor ${EXTPROC_SERVICEMONITOR} and reports the policy Monitored`, 5 * MIN, async () => {
    const kube = state.kube as Kube;
    await kube.kubectl([
      'wait', '--for=condition=Monitored', `tokenpolicies.tokenmeter.dev/${NAMES.policy}`, '--namespace', NS.app, '--timeout=180s',
    ], { timeoutMs: 190_000 });
    await kube.kubectl(['get', `servicemonitors.monitoring.coreos.com/${EXTPROC_SERVICEMONITOR}`, '--namespace', NS.tokenmeter]);
  });

  step('traffic through the Gateway is metered (headers) and limited (429 in OpenAI\'s shape)', 15 * MIN, async () => {
    const gw = state.gateway as ForwardedGateway;
    try {
      const attempts = await warmUp(gw, state.runId, 5 * MIN, log);
      log(`tokenmeter is in the path (warm-up attempts: ${attempts})`);
      state.report = await runScenario(gw, state.runId, log, state.sent);
    } catch (e) {
      // Some of Envoy's local replies (e.g. the 500 for a rejected ext_proc mutation) have an empty body: the reason is in
      // the access log's details field, so put the log beside the failure.
      const envoy = state.envoy as EnvoyTarget;
      state.notes['envoy-access.log'] = await envoyLogs(state.kube as Kube, envoy.selector).catch((err: unknown) => `(kubectl logs failed: ${String(err)})\n`);
      throw e;
    }
  });

  step('only admitted requests reached the upstream', 2 * MIN, async () => {
    assertUpstreamSaw(await mockStats(state.kube as Kube), state.report as ScenarioReport);
  });

  step('Envoy\'s access log carries the io.tokenmeter dynamic metadata', 3 * MIN, async () => {
    const kube = state.kube as Kube;
    const envoy = state.envoy as EnvoyTarget;
    const report = state.report as ScenarioReport;
    // Envoy flushes its access log file about once a second: poll.
    const result = await poll('the access log lines of the scenario', 90_000, 3000, async (note) => {
      const text = await envoyLogs(kube, envoy.selector);
      state.notes['envoy-access.log'] = text;
      try {
        return checkAccessLog(parseAccessLog(text), report);
      } catch (e) {
        note((e as Error).message);
        return undefined;
      }
    });
    log(`access log: ${result.lines} lines for ${report.tenant}; 429 details: ${result.limitedDetails || '-'}`);
  });

  step('the ext_proc /metrics count tokens per model and limited decisions', 3 * MIN, async () => {
    const kube = state.kube as Kube;
    const pods = await extprocPods(kube, EXTPROC_ADMIN_PORT);
    if (pods.length === 0) throw new Error(`no ext_proc pod found in ${NS.tokenmeter} (a container running "extproc" or exposing ${EXTPROC_ADMIN_PORT})`);
    const text = await extprocMetrics(kube, pods, EXTPROC_ADMIN_PORT);
    mkdirSync(settings.logDir, { recursive: true });
    writeFileSync(join(settings.logDir, 'extproc-metrics.txt'), text);
    const summary = checkMetrics(text, `${NS.app}/${NAMES.policy}`, NAMES.limit);
    log(`metrics: ${JSON.stringify(summary)}`);
  });
});
