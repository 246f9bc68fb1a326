/**
 * The kind suite's scenario and checks, rehearsed without Docker: the same runScenario / assertUpstreamSaw /
 * checkMetrics / checkAccessLog the cluster run uses, against a real ext_proc in process (the e2e TokenPolicy
 * rendered into the limits document the operator publishes), the Envoy emulator standing in for Envoy Gateway's
 * filter (request body Buffered, response body Streamed, allowModeOverride — what the operator's
 * EnvoyExtensionPolicy asks for), and the real mock LLM process. What this cannot cover — Envoy Gateway's
 * translation, the chart, the image, the operator in a cluster — is what kind.e2e.ts is for.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBudgets, type Budgets } from '../../src/cli/budgets.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { limitsYaml } from '../../src/render/limits.js';
import { runExchange } from '../envoy/emulator.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { MANIFEST_DIR, NAMES, NS } from './config.js';
import { manifest } from './install.js';
import { post, startLocalMock, type LocalMock } from './mock-llm/local.js';
import { checkAccessLog, checkMetrics, formatAccessLine, parseAccessLog } from './observe.js';
import { assertUpstreamSaw, runScenario, warmUp, type GatewayClient, type HttpResponse, type ScenarioReport } from './scenario.js';

/** envoy.type.v3.StatusCode names (enums as strings) of the statuses tokenmeter answers with. */
const STATUS: Readonly<Record<string, number>> = { BadRequest: 400, Unauthorized: 401, PayloadTooLarge: 413, TooManyRequests: 429, ServiceUnavailable: 503 };

/** SSE split into events (Envoy hands the ext_proc data frames; the mock writes one event per frame). */
function frames(body: Buffer, contentType: string): Buffer[] {
  if (!contentType.startsWith('text/event-stream')) return [body];
  const out: Buffer[] = [];
  let start = 0;
  for (let i = body.indexOf('\n\n'); i >= 0; i = body.indexOf('\n\n', start)) {
    out.push(body.subarray(start, i + 2));
    start = i + 2;
  }
  if (start < body.length) out.push(body.subarray(start));
  return out;
}

/**
 * Envoy with the ext_proc filter in front of the mock: the request goes through the ext_proc first; a reply with an
 * immediate response is what the client gets, otherwise the (possibly rewritten) body goes upstream and the
 * response headers get the ext_proc's header mutations. The emulator needs the upstream response up front, so it is
 * read first with x-mock-peek (uncounted: the mock replays the same bytes for the same request).
 */
class EmulatedGateway implements GatewayClient {
  readonly accessLog: string[] = [];

  constructor(private readonly t: TestServer, private readonly mock: LocalMock, private readonly format: string) {}

  async post(path: string, headers: Record<string, string>, body: Buffer): Promise<HttpResponse> {
    const peek = await post(`${this.mock.url}${path}`, { ...headers, 'x-mock-peek': '1' }, body);
    const contentType = peek.headers['content-type'] ?? '';
    const ex = await runExchange(this.t.client, {
      method: 'POST', path, authority: 'llm-gateway.tokenmeter-e2e', requestHeaders: headers, requestChunks: [body],
      status: peek.status, responseHeaders: { 'content-type': contentType }, responseChunks: frames(peek.body, contentType),
    }, { requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED', allowModeOverride: true, messageTimeoutMs: 5000 });
    const metadata = ex.dynamicMetadata['io.tokenmeter'];
    const log = (code: number, details: string): void => {
      this.accessLog.push(formatAccessLine(this.format, { code, method: 'POST', path, tenant: headers['x-tenant-id'], details, metadata }));
    };
    if (ex.immediate) {
      const code = STATUS[ex.immediate.status?.code ?? ''];
      if (code === undefined) throw new Error(`unexpected immediate status ${ex.immediate.status?.code ?? '?'}`);
      const out: Record<string, string> = {};
      for (const h of ex.immediate.headers?.set_headers ?? []) if (h.header) out[h.header.key] = h.header.raw_value.toString();
      log(code, ex.immediate.details);
      return { status: code, headers: out, body: Buffer.from(ex.immediate.body) };
    }
    const real = await post(`${this.mock.url}${path}`, headers, ex.requestBodyMutation ?? body);
    log(real.status, 'via_upstream');
    return { status: real.status, headers: { ...real.headers, ...ex.responseHeaderMutations }, body: real.body };
  }
}

describe('the kind scenario, rehearsed against an in-process ext_proc and the real mock LLM', () => {
  let dir: string;
  let t: TestServer;
  let budgets: Budgets;
  let mock: LocalMock;
  let gw: EmulatedGateway;
  let report: ScenarioReport;
  const lines: string[] = [];

  beforeAll(async () => {
    // What the operator publishes for the e2e TokenPolicy (limits ConfigMap, policies.yaml), loaded as a file.
    const { policies, errors } = parsePolicies(readFileSync(join(MANIFEST_DIR, 'tokenpolicy.yaml'), 'utf8'));
    expect(errors).toEqual([]);
    dir = mkdtempSync(join(tmpdir(), 'tm-e2e-rehearsal-'));
    writeFileSync(join(dir, 'policies.yaml'), limitsYaml(policies));
    const { config } = loadConfig(['extproc', '--policies', dir], {});
    const metrics = createMetrics({ maxModelLabels: 50, processMetrics: false });
    const b = await createBudgets(config, createLogger('silent'), metrics);
    if (!b) throw new Error('no budgets');
    budgets = b;
    t = await startTestServer({ deps: { limiter: budgets.limiter, metrics } });
    mock = await startLocalMock({ chunkDelayMs: 0 });
    const proxy = manifest('gateway.yaml').find((o) => o.kind === 'EnvoyProxy') as unknown as { spec: { telemetry: { accessLog: { settings: { format: { text: string } }[] } } } };
    gw = new EmulatedGateway(t, mock, proxy.spec.telemetry.accessLog.settings[0]?.format.text ?? '');
  });

  afterAll(async () => {
    await t?.close();
    await budgets?.close();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('warm-up succeeds at once when tokenmeter is in the path', async () => {
    expect(await warmUp(gw, 'rehearsal', 10_000)).toBe(1);
  });

  it('meters, limits at the 5th request of a tenant, keeps tenants apart and rejects a missing tenant', async () => {
    report = await runScenario(gw, 'rehearsal', (m) => lines.push(m));
    expect(report.admitted).toBe(4);
    expect(lines).toHaveLength(8);
    expect(lines[4]).toMatch(/^request 5\/5: chat tenant=rehearsal-acme → 429/);
  });

  it('only admitted requests reached the upstream', async () => {
    assertUpstreamSaw(await (await fetch(`${mock.url}/mock/stats`)).json() as { byTenant: Record<string, number> }, report);
  });

  it('the access log lines (as Envoy would print them) carry the provider\'s usage in io.tokenmeter', () => {
    const result = checkAccessLog(parseAccessLog(gw.accessLog.join('')), report);
    expect(result.lines).toBe(6);
    expect(result.limitedDetails).toBe(`tokenmeter_rate_limited{${NS.app}/${NAMES.policy}/${NAMES.limit}}`);
  });

  it('the metrics count tokens per model and the limited decisions of the policy', async () => {
    const summary = checkMetrics(await t.metrics.registry.metrics(), `${NS.app}/${NAMES.policy}`, NAMES.limit);
    // Admitted: chat ×5 (warm-up 1, tenant 3, other tenant 1) and stream ×2 (warm-up, tenant); rejections count no tokens.
    expect(summary.tokens).toMatchObject({ 'gpt-3.5-turbo-0125/input': 70 * 5, 'gpt-3.5-turbo-0125/output': 46 * 5, 'gpt-4o-mini/input': 23 * 2, 'gpt-4o-mini/output': 8 * 2 });
    expect(summary.limited).toBe(2);
  });
});
