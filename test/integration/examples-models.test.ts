/**
 * The shipped TokenPolicy examples (manifests/examples) work for a real user: under each example, a tenant sending a
 * handful of ordinary requests — no max_tokens (Anthropic: the model's whole output limit, as agentic clients send),
 * five one after another and five at once — to every current model of OpenAI, Anthropic and Gemini
 * (test/fixtures/models/current-models.json) has them admitted, or is told once, with a non-retryable 400 naming
 * what to change, and is admitted once it does. Never a 429 while it has used a sliver of its budget. Also the
 * composed team + per-user example, end to end. Through the emulated Envoy against a real server (local mode:
 * targetRefs are ignored, so every example applies to every request).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { usageReport } from '../../src/admin/usage-api.js';
import { modelMaxOutput } from '../../src/policy/output-limits.js';
import type { Provider } from '../../src/llm/types.js';
import { FUNCTIONAL_TIMEOUT_MS, runExchange, type ExchangeResult } from '../envoy/emulator.js';
import { budgetServer, closeBudgetServers, type BudgetServer } from '../helpers/budget-server.js';
import { capFieldOf, llmCall, withCap, type LlmCall } from '../helpers/llm-exchange.js';

interface ModelEntry { provider: Provider; model: string; api: 'chat' | 'responses' | 'messages' | 'generateContent' }
const MODELS = (JSON.parse(readFileSync(new URL('../fixtures/models/current-models.json', import.meta.url), 'utf8')) as { models: ModelEntry[] }).models;
const EXAMPLES = ['tenant-budget', 'weighted-output', 'monthly-usd', 'dry-run', 'team-and-user', 'plans'];
const read = (name: string): string => readFileSync(new URL(`../../manifests/examples/tokenpolicy-${name}.yaml`, import.meta.url), 'utf8');

afterAll(closeBudgetServers);

/** Headers an ordinary client of `tenant` sends: every example's subject (tenant, team, user, plan, API key). */
function identity(tenant: string): Record<string, string> {
  return { 'x-tenant-id': tenant, 'x-team-id': `team-${tenant}`, 'x-user-id': tenant, 'x-plan': 'pro', authorization: `Bearer sk-test-${tenant}` };
}

function call(m: ModelEntry, tenant: string, i: number): LlmCall {
  const capped = m.provider === 'anthropic' ? { maxTokens: modelMaxOutput(m.model) ?? 64_000 } : {};
  return {
    provider: m.provider, model: m.model, api: m.api === 'responses' ? 'responses' : 'chat', wants: 150 + 97 * i, headers: identity(tenant),
    prompt: `Request ${i}: write a short note about ${m.model}.`, ...capped,
  };
}

const run = (s: BudgetServer, c: LlmCall): Promise<ExchangeResult> =>
  runExchange(s.t.client, llmCall(c).exchange, { requestBodyMode: 'BUFFERED', responseBodyMode: 'BUFFERED', messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });

interface Outcome { admitted: number; toldOnce: string[]; rateLimited: string[] }

/** A handful of requests to one model: five in turn, then five at once; a 400 is acted on once. */
async function handful(s: BudgetServer, m: ModelEntry, tenant: string): Promise<Outcome> {
  const out: Outcome = { admitted: 0, toldOnce: [], rateLimited: [] };
  let fix: number | undefined;
  const judge = async (c: LlmCall, r: ExchangeResult): Promise<void> => {
    const denied = r.immediate;
    if (!denied) return void out.admitted++;
    if (denied.status?.code === 'TooManyRequests') return void out.rateLimited.push(denied.details);
    const body = denied.body.toString();
    const field = capFieldOf(m.provider, c.api);
    const told = new RegExp(`Set ${field.replace('.', '\\.')} to at most (\\d+)`).exec(body);
    expect(denied.status?.code, body).toBe('BadRequest');
    expect(denied.headers?.set_headers.map((h) => h.header?.key), 'non-retryable: no retry-after').not.toContain('retry-after');
    expect(told, `an actionable message: ${body}`).not.toBeNull();
    out.toldOnce.push(denied.details);
    fix = Number(told?.[1]);
    const again = await run(s, withCap(c, fix));
    expect(again.immediate, `admitted with ${field} ${fix}`).toBeUndefined();
    out.admitted++;
  };
  for (let i = 0; i < 5; i++) {
    const c = fix === undefined ? call(m, tenant, i) : withCap(call(m, tenant, i), fix);
    await judge(c, await run(s, c));
  }
  const batch = Array.from({ length: 5 }, (_, i) => (fix === undefined ? call(m, tenant, 5 + i) : withCap(call(m, tenant, 5 + i), fix)));
  const results = await Promise.all(batch.map((c) => run(s, c)));
  for (const [i, r] of results.entries()) await judge(batch[i] as LlmCall, r);
  return out;
}

describe.each(EXAMPLES)('example tokenpolicy-%s.yaml: a handful of ordinary requests to every current model', (example) => {
  // One server per example; each model gets its own tenant (a tenant's budgets are its own under every example).
  let server: Promise<BudgetServer> | undefined;
  it.each(MODELS.map((m) => [`${m.provider} ${m.model}`, m] as const))('%s', async (_n, m) => {
    server ??= budgetServer(read(example));
    const out = await handful(await server, m, `t-${m.model.replace(/[^a-z0-9]/g, '')}`);
    expect(out.rateLimited, 'never a 429 while a sliver of the budget is used').toEqual([]);
    expect(out.toldOnce.length, 'told at most once').toBeLessThanOrEqual(1);
    expect(out.admitted).toBe(10);
  });
});

describe('example tokenpolicy-team-and-user.yaml: a team budget with a per-user budget inside it', () => {
  it('a user is held to their own budget, teammates go on, the team budget stops everyone, and refusals reserve nothing', async () => {
    // Scaled down (the same two policies, budgets / 100): 50,000 per team, 5,000 per user, 20,000 for team-lead.
    const yaml = read('team-and-user').replace('tokens: 5000000', 'tokens: 50000').replace('tokens: 500000 ', 'tokens: 5000 ').replace('tokens: 2000000}', 'tokens: 20000}');
    const s = await budgetServer(yaml);
    const send = async (user: string): Promise<ExchangeResult> => run(s, {
      provider: 'openai', model: 'gpt-4o-mini', wants: 980, maxTokens: 980, headers: { 'x-team-id': 'blue', 'x-user-id': user },
    });
    const source = { policies: () => s.budgets.matcher().policies, store: s.budgets.store, now: Date.now };
    const used = async (policy: string, subject: string): Promise<number> => {
      const p = source.policies().find((q) => q.name === policy);
      if (!p) throw new Error(policy);
      return (await usageReport(source, p, { key: subject, shared: false }, undefined)).limits[0]?.used ?? -1;
    };
    // Each request reserves and uses 998 tokens: five fit a user's 5,000.
    for (let i = 0; i < 5; i++) expect((await send('ann')).immediate).toBeUndefined();
    const refused = await send('ann');
    expect(refused.immediate?.details).toBe('tokenmeter_rate_limited{llm-gateway/user-budget/daily}');
    expect(await used('team-budget', 'blue')).toBe(5 * 998); // ann's refused request reserved nothing on the team
    expect((await send('bob')).immediate).toBeUndefined();
    // The lead's override gives more room inside the same team budget; the team runs out for everyone.
    let lead = 0;
    while (!(await send('team-lead')).immediate) lead++;
    expect(lead).toBe(20); // 20 × 998 ≤ 20,000
    for (const user of ['cat', 'dan', 'eve', 'fay', 'gus']) for (let i = 0; i < 5; i++) await send(user);
    const teamSpent = await send('hal');
    expect(teamSpent.immediate?.details).toBe('tokenmeter_rate_limited{llm-gateway/team-budget/daily}');
    expect(await used('user-budget', 'hal')).toBe(0);
    expect(await used('team-budget', 'blue')).toBeLessThanOrEqual(50_000);
  });
});
