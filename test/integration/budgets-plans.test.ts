/**
 * Plan tiers, per-subject overrides and requests that can never fit, through the emulated Envoy against a real server
 * enforcing a policy file: two tenants under one policy with different budgets hit their own limits, an exempt
 * subject is never limited but is metered, a tier header switches limit sets, an unknown tier follows onUnknown, a
 * tier change mid-window keeps the counter, and a request that can never fit gets a 400 in its provider's shape.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FUNCTIONAL_TIMEOUT_MS, runExchange, type ExchangeResult } from '../envoy/emulator.js';
import { budgetServer, closeBudgetServers } from '../helpers/budget-server.js';
import { capFieldOf, llmCall, type LlmCall } from '../helpers/llm-exchange.js';
import { eventually, metricValue, type TestServer } from '../helpers/test-server.js';

const POLICY = `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: plans, namespace: llm}
spec:
  subject: {from: Header, name: x-tenant-id}
  limits:
  - {name: daily, tokens: 3000, window: Day}
  tiers:
    selector: {from: Header, name: x-plan}
    default: free
    plans:
    - {name: free}
    - {name: pro, limits: [{name: daily, tokens: 30000}]}
  overrides:
  - {subject: acme, name: acme-contract, limits: [{name: daily, tokens: 12000}]}
  - {subject: eval-job, exempt: true}
  reservation: {output: MaxTokens}
`;

afterEach(closeBudgetServers);

let seq = 0;
async function send(t: TestServer, c: Omit<LlmCall, 'wants'> & { wants?: number }): Promise<ExchangeResult & { id: string }> {
  const id = `req-${++seq}`;
  const call = llmCall({ wants: 100, ...c, requestId: id });
  const res = await runExchange(t.client, call.exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
  return { ...res, id };
}

const tenant = (id: string, plan?: string): Record<string, string> => ({ 'x-tenant-id': id, ...(plan ? { 'x-plan': plan } : {}) });

/** Requests of 1000 reserved tokens (input + max 1000 - input… about 1000) until one is refused; how many got through. */
async function admittedUntilRefused(t: TestServer, headers: Record<string, string>, max = 40): Promise<{ admitted: number; refusal?: ExchangeResult['immediate'] }> {
  for (let i = 0; i < max; i++) {
    const r = await send(t, { provider: 'openai', model: 'gpt-4o-mini', headers, maxTokens: 980, wants: 980 });
    if (r.immediate) return { admitted: i, refusal: r.immediate };
  }
  return { admitted: max };
}

describe('tiers and overrides through Envoy', () => {
  it('two tenants under one policy hit their own limits (an override); the log line and metrics say which', async () => {
    const { t } = await budgetServer(POLICY);
    const globex = await admittedUntilRefused(t, tenant('globex'));
    const acme = await admittedUntilRefused(t, tenant('acme'));
    // Each request uses 998 tokens (18 input + 980 output): 3 fit the default 3000, 12 acme's 12000.
    expect(llmCall({ provider: 'openai', model: 'gpt-4o-mini', wants: 0 }).input).toBe(18);
    expect([globex.admitted, acme.admitted]).toEqual([3, 12]);
    expect(acme.refusal?.status?.code).toBe('TooManyRequests');
    const line = await eventually(() => t.logs.find((l) => l.msg === 'request metered' && (l.overrides as Record<string, string> | undefined)?.['llm/plans'] === 'acme-contract'));
    expect(line).toMatchObject({ tiers: { 'llm/plans': 'free' }, decision: 'allowed' });
    expect(await metricValue(t.metrics, 'tokenmeter_limit_decisions_total', { policy: 'llm/plans', limit: 'daily', tier: 'free', outcome: 'limited' })).toBe(2);
    expect(await metricValue(t.metrics, 'tokenmeter_limit_decisions_total', { policy: 'llm/plans', limit: 'daily', tier: 'free', outcome: 'allowed' })).toBe(15);
  });

  it('an exempt subject is never limited but is metered and counted', async () => {
    const { t } = await budgetServer(POLICY);
    for (let i = 0; i < 8; i++) expect((await send(t, { provider: 'openai', model: 'gpt-4o-mini', headers: tenant('eval-job'), maxTokens: 980, wants: 980 })).immediate).toBeUndefined();
    await eventually(async () => ((await metricValue(t.metrics, 'tokenmeter_limit_decisions_total', { outcome: 'exempt' })) === 8 ? true : undefined));
    const lines = t.logs.filter((l) => l.msg === 'request metered' && (l.exempt as string[] | undefined)?.includes('llm/plans'));
    expect(lines).toHaveLength(8);
    expect(lines.every((l) => typeof l.output_tokens === 'number' && (l.output_tokens) === 980)).toBe(true);
    expect(await metricValue(t.metrics, 'tokenmeter_tokens_total', { type: 'output' })).toBe(8 * 980);
    // Counted against the limit it would have (beyond its budget), so its usage is visible.
    const charged = lines.map((l) => (l.charged as Record<string, number>)['llm/plans/daily'] ?? 0).reduce((a, b) => a + b, 0);
    expect(charged).toBeGreaterThan(3000);
  });

  it('the tier header switches limit sets; an unknown tier falls back to the default; a tier change keeps the counter', async () => {
    const { t } = await budgetServer(POLICY);
    expect((await admittedUntilRefused(t, tenant('initech', 'free'))).admitted).toBe(3);
    // Same tenant on pro: the counter keeps the 3 × 998 it used on free (not reset, not doubled), plus this request.
    const pro = await send(t, { provider: 'openai', model: 'gpt-4o-mini', headers: tenant('initech', 'pro'), maxTokens: 980, wants: 980 });
    expect(pro.immediate).toBeUndefined();
    expect(Number(pro.responseHeaderMutations['x-ratelimit-remaining-tokens'])).toBe(30000 - 4 * 998);
    // An unknown plan: the default tier (free), already spent; the log line says the tier was unknown.
    const gold = await send(t, { provider: 'openai', model: 'gpt-4o-mini', headers: tenant('initech', 'gold'), maxTokens: 980 });
    expect(gold.immediate?.status?.code).toBe('TooManyRequests');
    const line = await eventually(() => t.logs.find((l) => l.request_id === gold.id));
    expect(line).toMatchObject({ tiers: { 'llm/plans': 'free' }, tier_unknown: ['llm/plans'], decision: 'limited' });
  });

  it('onUnknown: Reject answers 400 in the provider shape', async () => {
    const { t } = await budgetServer(POLICY.replace('default: free', 'default: free\n    onUnknown: Reject'));
    const r = await send(t, { provider: 'anthropic', model: 'claude-haiku-4-5', headers: tenant('initech', 'gold'), maxTokens: 100 });
    expect(r.immediate?.status?.code).toBe('BadRequest');
    expect(JSON.parse(r.immediate?.body.toString() ?? '')).toEqual({
      type: 'error', error: { type: 'invalid_request_error', message: 'Request rejected by policy "llm/plans": unknown plan tier "gold" in header x-plan: expected one of free, pro' },
    });
  });
});

describe('requests that can never fit, through Envoy', () => {
  const TIGHT = POLICY.replace('tokens: 3000, window: Day', 'tokens: 3000, window: 1m');
  it.each<[LlmCall['provider'], string, Record<string, unknown>]>([
    ['openai', 'gpt-5', { error: { type: 'invalid_request_error', param: 'max_completion_tokens', code: 'token_budget_exceeded' } }],
    ['anthropic', 'claude-sonnet-4-5', { type: 'error', error: { type: 'invalid_request_error' } }],
    ['gemini', 'gemini-2.5-pro', { error: { code: 400, status: 'INVALID_ARGUMENT' } }],
  ])('%s %s: a non-retryable 400 in the provider\'s shape, no retry-after, naming what would fit', async (provider, model, shape) => {
    const { t } = await budgetServer(TIGHT);
    const r = await send(t, { provider, model, headers: tenant('globex'), ...(provider === 'anthropic' ? { maxTokens: 64000 } : {}) });
    expect(r.immediate?.status?.code).toBe('BadRequest');
    const headers = Object.fromEntries((r.immediate?.headers?.set_headers ?? []).map((h) => [h.header?.key ?? '', h.header?.raw_value.toString() ?? '']));
    expect(headers).not.toHaveProperty('retry-after');
    expect(r.immediate?.details).toBe('tokenmeter_never_fits{llm/plans/daily}');
    const body = JSON.parse(r.immediate?.body.toString() ?? '') as Record<string, Record<string, string>>;
    expect(body).toMatchObject(shape);
    const message = body.error?.message ?? '';
    const fits = Number(new RegExp(`Set ${capFieldOf(provider).replace('.', '\\.')} to at most (\\d+)`).exec(message)?.[1]);
    expect(message).toContain('Request can never fit limit "daily" of policy "llm/plans"');
    expect(fits).toBeGreaterThan(2900);
    // Told once: doing what it says is admitted.
    expect((await send(t, { provider, model, headers: tenant('globex'), maxTokens: fits })).immediate).toBeUndefined();
  });
});
