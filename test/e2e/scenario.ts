/**
 * The traffic the e2e suite sends and what it asserts about each response, written against a small GatewayClient
 * interface so the very same scenario runs through Envoy Gateway in kind (kind.e2e.ts) and, in `npm test`,
 * through the Envoy emulator against an in-process ext_proc (rehearsal.test.ts) — which is how the expectations
 * below are checked on machines without Docker.
 *
 * The budget (manifests/tokenpolicy.yaml): 400 tokens per tenant (x-tenant-id), count Total, output reserved from
 * the request's max_tokens (50 here). With the two recorded exchanges (chat: 70 in + 46 out; streamed chat: 23 in +
 * 8 out) a tenant is admitted 4 times — chat, stream, chat, chat — and the 5th request gets 429, whether or not the
 * previous request's reservation was settled when the next one arrives (`budgetPlan` works both out).
 */
import { fixtureRequest, fixtureResponse, mockFixtures, type FixtureKey } from './mock-llm/fixtures.js';

export const CHAT_PATH = '/v1/chat/completions';
export const BUDGET_TOKENS = 400;
export const MAX_TOKENS = 50;
export const TENANT_HEADER = 'x-tenant-id';

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface GatewayClient {
  post(path: string, headers: Record<string, string>, body: Buffer): Promise<HttpResponse>;
}

export interface SentRequest {
  label: string;
  tenant: string | undefined;
  fixture: FixtureKey;
  response: HttpResponse;
}

export interface ScenarioReport {
  runId: string;
  tenant: string;
  otherTenant: string;
  /** Requests of `tenant` that were admitted (reached the upstream). */
  admitted: number;
  /** The 429 that ended them. */
  limited: HttpResponse;
  sent: SentRequest[];
}

/** A request body: the recorded one, with max_tokens set and (streamed chat) stream_options removed, so that the
 * include_usage tokenmeter injects is visible upstream. Neither changes the input tokens. */
export function chatBody(key: FixtureKey): Buffer {
  const body: Record<string, unknown> = { ...fixtureRequest(key), max_tokens: MAX_TOKENS };
  if (key === 'chat-stream') delete body.stream_options;
  return Buffer.from(JSON.stringify(body));
}

export function requestHeaders(tenant: string | undefined): Record<string, string> {
  return { 'content-type': 'application/json', authorization: 'Bearer sk-e2e-not-a-real-key', ...(tenant === undefined ? {} : { [TENANT_HEADER]: tenant }) };
}

// ---------------------------------------------------------------------------------------------------------------
// The budget arithmetic

export interface BudgetPlan {
  /** Fixtures sent by one tenant until the first rejection (the last one is rejected). */
  sequence: FixtureKey[];
  /** x-ratelimit-remaining-tokens on the first admitted request. */
  firstRemaining: number;
}

/**
 * Reserve (input + max_tokens; never more than the whole budget, or the request could never fit) then settle (the
 * provider's total) for the sequence chat, stream, chat, chat…, under the two orders a real gateway can produce: the
 * previous request settled before the next is admitted, or still holding its reservation. Throws if they disagree on
 * where the 429 falls (the scenario would then be timing dependent).
 */
export function budgetPlan(budget = BUDGET_TOKENS, maxTokens = MAX_TOKENS): BudgetPlan {
  const fx = mockFixtures();
  const order = (i: number): FixtureKey => (i === 1 ? 'chat-stream' : 'chat');
  const reserve = (k: FixtureKey): number => {
    const r = fx[k].usage.prompt + maxTokens;
    if (r > budget) throw new Error(`${k} reserves ${r}, more than the whole budget ${budget}: it could never fit (400)`);
    return r;
  };
  const firstRejected = (previousStillReserved: boolean): number => {
    let settled = 0;
    let held = 0; // the previous request's reservation, when it is still in flight
    for (let i = 0; i < 100; i++) {
      const k = order(i);
      if (settled + held + reserve(k) > budget) return i;
      if (previousStillReserved) {
        settled += i > 0 ? fx[order(i - 1)].usage.total : 0;
        held = reserve(k);
      } else {
        settled += fx[k].usage.total;
      }
    }
    throw new Error('the budget is never exhausted');
  };
  const a = firstRejected(false);
  const b = firstRejected(true);
  if (a !== b) throw new Error(`budget plan depends on settle timing: 429 at request ${a + 1} or ${b + 1}`);
  return { sequence: Array.from({ length: a + 1 }, (_, i) => order(i)), firstRemaining: budget - reserve('chat') };
}

// ---------------------------------------------------------------------------------------------------------------
// Assertions (plain Errors with the response attached, usable outside vitest)

export function summarize(r: HttpResponse): string {
  const interesting = Object.entries(r.headers).filter(([k]) => k.startsWith('x-') || ['content-type', 'retry-after'].includes(k));
  const head = r.body.subarray(0, 300).toString('utf8').replace(/\s+/g, ' ');
  return `HTTP ${r.status} ${JSON.stringify(Object.fromEntries(interesting))} body: ${head}${r.body.length > 300 ? '…' : ''}`;
}

function check(ok: boolean, what: string, r?: HttpResponse): void {
  if (!ok) throw new Error(`${what}${r ? `\n  got ${summarize(r)}` : ''}`);
}

function headerIs(r: HttpResponse, name: string, want: string, why: string): void {
  check(r.headers[name] === want, `${name} should be ${JSON.stringify(want)} (${why}), was ${JSON.stringify(r.headers[name])}`, r);
}

/** A 200 replayed by the mock through the gateway and metered by tokenmeter. */
export function assertMetered(r: HttpResponse, key: FixtureKey, tenant: string): void {
  const f = mockFixtures()[key];
  check(r.status === 200, `${key}: expected 200 from the mock LLM through the gateway`, r);
  check(r.body.equals(fixtureResponse(key)), `${key}: the response body should be the recorded ${f.response} byte for byte (${r.body.length} vs ${fixtureResponse(key).length} bytes)`, r);
  check((r.headers['content-type'] ?? '').split(';')[0] === f.contentType.split(';')[0], `${key}: content-type should be ${f.contentType}`, r);
  headerIs(r, 'x-mock-fixture', key, 'the mock replayed this fixture');
  headerIs(r, 'x-mock-saw-tenant', tenant, 'the tenant header reached the upstream');
  headerIs(r, 'x-tokenmeter-input-tokens', String(f.usage.prompt), `tokenmeter's pre-count equals the ${f.usage.prompt} prompt tokens OpenAI reported`);
  headerIs(r, 'x-ratelimit-limit-tokens', String(BUDGET_TOKENS), 'the TokenPolicy limit');
  check(/^\d+$/.test(r.headers['x-ratelimit-remaining-tokens'] ?? ''), 'x-ratelimit-remaining-tokens should be a number of tokens', r);
  check(/^(\d+h)?(\d+m)?\d+m?s$/.test(r.headers['x-ratelimit-reset-tokens'] ?? ''), 'x-ratelimit-reset-tokens should be a duration like 6m0s', r);
  if (key === 'chat-stream') headerIs(r, 'x-mock-saw-include-usage', 'true', 'tokenmeter injected stream_options.include_usage into the buffered request body');
}

/** tokenmeter's 429 in OpenAI's shape, answered without reaching the upstream. */
export function assertLimited(r: HttpResponse): void {
  check(r.status === 429, 'expected 429 once the tenant budget is spent', r);
  let body: { error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown } } = {};
  try {
    body = JSON.parse(r.body.toString('utf8')) as typeof body;
  } catch {
    check(false, '429 body should be JSON in OpenAI\'s error shape', r);
  }
  check(body.error?.code === 'rate_limit_exceeded' && body.error.type === 'tokens' && body.error.param === null,
    '429 body should be {"error":{"message","type":"tokens","param":null,"code":"rate_limit_exceeded"}}', r);
  check(typeof body.error?.message === 'string' && body.error.message.includes('per-tenant'), '429 message should name the limit "per-tenant"', r);
  check(/^\d+$/.test(r.headers['retry-after'] ?? '') && Number(r.headers['retry-after']) >= 1, 'retry-after should be a whole number of seconds >= 1', r);
  headerIs(r, 'x-ratelimit-limit-tokens', String(BUDGET_TOKENS), 'the TokenPolicy limit');
  check(/^\d+$/.test(r.headers['x-ratelimit-remaining-tokens'] ?? ''), 'x-ratelimit-remaining-tokens should be set on the 429', r);
  check(r.headers['x-mock-fixture'] === undefined, 'a rejected request must not reach the mock upstream', r);
}

/** onMissing: Reject — a request without the tenant header is refused with 400 in OpenAI's shape. */
export function assertMissingSubject(r: HttpResponse): void {
  check(r.status === 400, `a request without ${TENANT_HEADER} should get 400 (subject.onMissing: Reject)`, r);
  let body: { error?: { type?: unknown } } = {};
  try {
    body = JSON.parse(r.body.toString('utf8')) as typeof body;
  } catch {
    check(false, '400 body should be JSON in OpenAI\'s error shape', r);
  }
  check(body.error?.type === 'invalid_request_error', '400 body should be an OpenAI invalid_request_error', r);
  check(r.headers['x-mock-fixture'] === undefined, 'a rejected request must not reach the mock upstream', r);
}

// ---------------------------------------------------------------------------------------------------------------
// Running it

/**
 * Until tokenmeter is in the path: Envoy Gateway needs a few seconds after the TokenPolicy is Ready to program the
 * ext_proc filter, and the ext_proc to load the limits. Each attempt uses a fresh tenant (its own budget) and both
 * fixtures (both encodings get loaded before the measured requests). Returns the attempts it took.
 */
export async function warmUp(gw: GatewayClient, runId: string, timeoutMs: number, log: (m: string) => void = () => undefined): Promise<number> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (let attempt = 1; ; attempt++) {
    const tenant = `${runId}-warmup-${attempt}`;
    let ready = true;
    for (const key of ['chat', 'chat-stream'] as const) {
      try {
        const r = await gw.post(CHAT_PATH, requestHeaders(tenant), chatBody(key));
        if (r.status !== 200 || r.headers['x-tokenmeter-input-tokens'] === undefined || r.headers['x-ratelimit-limit-tokens'] === undefined) {
          ready = false;
          last = `${key}: ${summarize(r)}`;
        }
      } catch (e) {
        ready = false;
        last = `${key}: ${(e as Error).message}`;
      }
    }
    if (ready) return attempt;
    if (Date.now() > until) throw new Error(`tokenmeter never showed up in the gateway path within ${Math.round(timeoutMs / 1000)} s (no x-tokenmeter-input-tokens / x-ratelimit-* on a 200); last: ${last}`);
    if (attempt === 1 || attempt % 10 === 0) log(`waiting for the ext_proc filter and the limits (attempt ${attempt}): ${last}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/**
 * The measured traffic: one tenant until its budget is spent, another tenant, and a request without a tenant.
 * `sent` collects every request and response as they happen (for diagnostics when an assertion fails).
 */
export async function runScenario(gw: GatewayClient, runId: string, log: (m: string) => void = () => undefined, sent: SentRequest[] = []): Promise<ScenarioReport> {
  const plan = budgetPlan();
  const tenant = `${runId}-acme`;
  const otherTenant = `${runId}-globex`;
  const send = async (label: string, key: FixtureKey, who: string | undefined): Promise<HttpResponse> => {
    const response = await gw.post(CHAT_PATH, requestHeaders(who), chatBody(key));
    sent.push({ label, tenant: who, fixture: key, response });
    log(`${label}: ${key} tenant=${who ?? '(none)'} → ${response.status} input=${response.headers['x-tokenmeter-input-tokens'] ?? '-'} remaining=${response.headers['x-ratelimit-remaining-tokens'] ?? '-'}`);
    return response;
  };

  let limited: HttpResponse | undefined;
  let previousRemaining = Number.POSITIVE_INFINITY;
  for (const [i, key] of plan.sequence.entries()) {
    const r = await send(`request ${i + 1}/${plan.sequence.length}`, key, tenant);
    if (i === plan.sequence.length - 1) {
      assertLimited(r);
      limited = r;
      break;
    }
    assertMetered(r, key, tenant);
    const remaining = Number(r.headers['x-ratelimit-remaining-tokens']);
    if (i === 0) check(remaining === plan.firstRemaining, `first request: x-ratelimit-remaining-tokens should be ${plan.firstRemaining} (${BUDGET_TOKENS} − input − max_tokens), was ${remaining}`, r);
    check(remaining <= previousRemaining, `x-ratelimit-remaining-tokens should not grow within the window (${previousRemaining} → ${remaining})`, r);
    previousRemaining = remaining;
  }
  // Still limited: the window does not reset mid-test (Month) and nothing was released.
  assertLimited(await send('after the 429', 'chat-stream', tenant));

  const other = await send('other tenant', 'chat', otherTenant);
  assertMetered(other, 'chat', otherTenant);
  headerIs(other, 'x-ratelimit-remaining-tokens', String(plan.firstRemaining), 'budgets are per tenant: a fresh tenant starts full');

  assertMissingSubject(await send('no tenant header', 'chat', undefined));
  if (!limited) throw new Error('unreachable: the plan ends with a rejection');
  return { runId, tenant, otherTenant, admitted: plan.sequence.length - 1, limited, sent };
}

/** The mock's /mock/stats after the scenario: only admitted requests reached it. */
export function assertUpstreamSaw(stats: { byTenant?: Record<string, number> }, report: ScenarioReport): void {
  const by = stats.byTenant ?? {};
  if (by[report.tenant] !== report.admitted) {
    throw new Error(`the mock should have seen exactly the ${report.admitted} admitted requests of ${report.tenant}, saw ${by[report.tenant] ?? 0} (${JSON.stringify(by)})`);
  }
  if (by[report.otherTenant] !== 1) throw new Error(`the mock should have seen 1 request of ${report.otherTenant}, saw ${by[report.otherTenant] ?? 0}`);
  if (by[''] !== undefined) throw new Error(`a request without a tenant reached the mock (${by['']} times): onMissing: Reject should have stopped it`);
}
