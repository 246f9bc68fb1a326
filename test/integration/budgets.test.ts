/**
 * Token budgets through the emulated Envoy against a real server: reserve-then-settle under 200 concurrent requests
 * (compared with check-then-charge), 429s in the provider's shape, x-ratelimit headers, DryRun, a missing subject,
 * a client that disconnects mid-stream, and policy files edited while streams are open.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { ProcessingRequest } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { runExchange, FUNCTIONAL_TIMEOUT_MS } from '../envoy/emulator.js';
import { checkThenCharge, plannedRequest } from '../helpers/budget-traffic.js';
import { budgetServer, closeBudgetServers, type BudgetServer } from '../helpers/budget-server.js';
import { eventually, metricValue, type TestServer } from '../helpers/test-server.js';

function policyYaml(opts: { tokens: number; mode?: string; onMissing?: string; defaultMaxTokens?: number }): string {
  return `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: tenants}
spec:
  subject: {from: Header, name: x-tenant-id, onMissing: ${opts.onMissing ?? 'Reject'}}
  limits:
  - {name: daily, tokens: ${opts.tokens}, window: Day, count: Total}
  reservation: {output: MaxTokens, defaultMaxTokens: ${opts.defaultMaxTokens ?? 256}}
  enforcement: {mode: ${opts.mode ?? 'Enforce'}, failureMode: Open}
`;
}

const serverWith = (yaml: string): Promise<BudgetServer> => budgetServer(yaml);

afterEach(closeBudgetServers);

describe('reserve then settle under concurrency', () => {
  it('200 concurrent requests: admitted usage exceeds the budget by at most one request\'s (real - reserved); check-then-charge overshoots', async () => {
    const budget = 20_000;
    const { t } = await serverWith(policyYaml({ tokens: budget }));
    const requests = Array.from({ length: 200 }, (_, i) => plannedRequest(i, 'acme', 256));
    const results = await Promise.all(requests.map(async (r, i) => {
      await new Promise((res) => setTimeout(res, i % 5));
      return runExchange(t.client, r.exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED', messageTimeoutMs: 10_000 });
    }));
    let used = 0;
    let admitted = 0;
    let worst = 0;
    results.forEach((res, i) => {
      const r = requests[i]!;
      if (res.immediate) {
        expect(res.immediate.status?.code).toBe('TooManyRequests');
        return;
      }
      admitted++;
      used += r.input + r.output;
      worst = Math.max(worst, r.input + r.output - r.reserved);
    });
    const bound = Math.max(0, ...requests.map((r) => r.input + r.output - r.reserved));
    const peers = await checkThenCharge(requests, budget, (i) => 5 + (i % 20));
    console.log(`budget ${budget}: tokenmeter admitted ${admitted}/200, used ${used}, overshoot ${Math.max(0, used - budget)} (bound ${bound}); `
      + `check-then-charge admitted ${peers.admitted}/200, used ${peers.used}, overshoot ${Math.max(0, peers.used - budget)}`);
    expect(admitted).toBeGreaterThan(10);
    expect(admitted).toBeLessThan(200);
    expect(used - budget).toBeLessThanOrEqual(bound);
    expect(peers.used - budget).toBeGreaterThan(bound);
    expect(worst).toBeLessThanOrEqual(bound);
  });
});

describe('what clients see', () => {
  it('allowed responses carry x-ratelimit headers; a spent budget answers 429 in the provider shape', async () => {
    const { t } = await serverWith(policyYaml({ tokens: 1500 }));
    const first = await runExchange(t.client, plannedRequest(0, 'acme', 256).exchange, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(first.responseHeaderMutations).toMatchObject({ 'x-ratelimit-limit-tokens': '1500', 'x-ratelimit-reset-tokens': expect.stringMatching(/^\d+h\d+m\d+s$|^\d+m\d+s$|^\d+s$/) as unknown });
    let denied;
    // Requests with max_tokens (even i): each fits the budget, so once it is spent the answer is a 429 (waiting helps).
    for (let i = 2; i < 40 && !denied; i += 2) denied = (await runExchange(t.client, plannedRequest(i, 'acme', 256).exchange, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS })).immediate;
    expect(denied?.status?.code).toBe('TooManyRequests');
    const headers: Record<string, string> = Object.fromEntries((denied?.headers?.set_headers ?? []).map((h) => [h.header?.key ?? '', h.header?.raw_value.toString() ?? '']));
    expect(Number(headers['retry-after'])).toBeGreaterThan(0);
    expect(headers['x-ratelimit-remaining-tokens']).toBeDefined();
    expect(JSON.parse(denied?.body.toString() ?? '')).toMatchObject({ error: { type: 'tokens', code: 'rate_limit_exceeded' } });
    expect(denied?.details).toBe('tokenmeter_rate_limited{tenants/daily}');
    // Another tenant is unaffected.
    expect((await runExchange(t.client, plannedRequest(2, 'globex', 256).exchange, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS })).immediate).toBeUndefined();
    const limited = await metricValue(t.metrics, 'tokenmeter_limit_decisions_total', { policy: 'tenants', outcome: 'limited' });
    expect(limited).toBeGreaterThanOrEqual(1);
  });

  it('rejects a request without the subject header with 400, and DryRun rejects nothing but logs what it would have', async () => {
    const strict = await serverWith(policyYaml({ tokens: 1000 }));
    const noTenant = plannedRequest(0, '', 256).exchange;
    delete noTenant.requestHeaders?.['x-tenant-id'];
    const res = await runExchange(strict.t.client, noTenant, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(res.immediate?.status?.code).toBe('BadRequest');
    expect(res.immediate?.body.toString()).toContain('x-tenant-id');

    const dry = await serverWith(policyYaml({ tokens: 600, mode: 'DryRun' }));
    for (let i = 0; i < 6; i++) expect((await runExchange(dry.t.client, plannedRequest(i, 'acme', 256).exchange, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS })).immediate).toBeUndefined();
    const line = await eventually(() => dry.t.logs.find((l) => l.decision === 'dry-run-limited'));
    expect(line).toMatchObject({ policies: ['tenants'], dry_run_limited: ['tenants/daily'] });
  });

  it('charges a client that disconnects mid-stream what it consumed and releases the rest', async () => {
    const { t } = await serverWith(policyYaml({ tokens: 100_000 }));
    const r = plannedRequest(3, 'acme', 256);
    const big = { ...r.exchange, responseChunks: [Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"Once upon a time there was"}}]}\n\n'), ...(r.exchange.responseChunks ?? [])] };
    await runExchange(t.client, { ...big, requestHeaders: { ...big.requestHeaders, 'x-request-id': 'gone' } }, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS, cancelAfterResponseChunks: 1 });
    const line = await eventually(() => t.logs.find((l) => l.request_id === 'gone' && l.charged !== undefined));
    const charged = (line.charged as Record<string, number>)['tenants/daily'] ?? -1;
    expect(line.usage_source).toBe('estimated');
    expect(charged).toBeGreaterThan(r.input);
    expect(charged).toBeLessThan(r.reserved);
    const next = await runExchange(t.client, plannedRequest(4, 'acme', 256).exchange, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    const remaining = Number(next.responseHeaderMutations['x-ratelimit-remaining-tokens']);
    expect(remaining).toBe(100_000 - charged - plannedRequest(4, 'acme', 256).reserved);
  });
});

describe('policy files change under running traffic', () => {
  function openStream(t: TestServer, ex: ReturnType<typeof plannedRequest>['exchange']): { call: ClientDuplexStream<ProcessingRequest, ProcessingResponse__Output>; replies: ProcessingResponse__Output[] } {
    const call = t.client.Process();
    const replies: ProcessingResponse__Output[] = [];
    call.on('data', (r: ProcessingResponse__Output) => replies.push(r));
    call.on('error', () => undefined);
    const hdr = (h: Record<string, string>) => ({ headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) });
    call.write({ protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'STREAMED' }, request_headers: { headers: hdr({ ':method': 'POST', ':path': ex.path, ...ex.requestHeaders }) } });
    call.write({ request_body: { body: Buffer.concat(ex.requestChunks ?? []), end_of_stream: true } });
    call.write({ response_headers: { headers: hdr({ ':status': '200', 'content-type': 'text/event-stream' }) } });
    return { call, replies };
  }

  it('an edit applies to new requests without dropping open streams; an invalid edit keeps the old policy', async () => {
    const { t, budgets, file } = await serverWith(policyYaml({ tokens: 100_000 }));
    const r = plannedRequest(5, 'acme', 256);
    const stream = openStream(t, r.exchange);
    await eventually(() => (stream.replies.length === 3 ? true : undefined));
    writeFileSync(file, policyYaml({ tokens: 10 }));
    await eventually(() => (budgets.matcher().policies[0]?.limits[0]?.kind === 'tokens' && (budgets.matcher().policies[0]?.limits[0] as { tokens: number }).tokens === 10 ? true : undefined), 5000);
    // The open stream finishes normally and is accounted.
    for (const c of r.exchange.responseChunks ?? []) stream.call.write({ response_body: { body: c, end_of_stream: false } });
    stream.call.write({ response_body: { body: Buffer.alloc(0), end_of_stream: true } });
    await eventually(() => (stream.replies.at(-1)?.dynamic_metadata ? true : undefined));
    stream.call.end();
    // New requests see the new limit: 10 tokens, which no request can ever fit (400, never-fits).
    const after = (await runExchange(t.client, plannedRequest(6, 'acme', 256).exchange, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS })).immediate;
    expect([after?.status?.code, after?.details]).toEqual(['BadRequest', 'tokenmeter_never_fits{tenants/daily}']);
    // An invalid edit: the previous good policy stays in force.
    writeFileSync(file, policyYaml({ tokens: 10 }).replace('window: Day', 'window: 2x'));
    await eventually(async () => ((await metricValue(t.metrics, 'tokenmeter_policy_reloads_total', { result: 'invalid' })) >= 1 ? true : undefined), 5000);
    expect(budgets.matcher().policies).toHaveLength(1);
    expect((await runExchange(t.client, plannedRequest(7, 'acme', 256).exchange, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS })).immediate?.details).toBe('tokenmeter_never_fits{tenants/daily}');
  });
});
