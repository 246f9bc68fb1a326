/**
 * The console demo's traffic: recorded LLM exchanges (test/fixtures/llm, real provider responses) replayed as Envoy
 * would send them, under the demo policies of examples/policies/console-demo.yaml. Several tenants of the
 * team-budgets policy and two teams of the research policy send a few recordings of every provider and API shape;
 * one tenant, initech, then sends the largest recordings until its daily token budget refuses it. Used by
 * `npm run demo`, the console's browser tests and the console bench rows, so all three show the same traffic.
 */
import type { Exchange } from '../test/envoy/emulator.js';
import { fixtureFile, hasRequest, wireEntries, wireResponse, type WireEntry } from '../test/helpers/fixtures.js';

export const TEAM_TENANTS = ['acme', 'globex', 'umbrella', 'hooli'] as const;
export const HEAVY_TENANT = 'initech';
export const RESEARCH_TEAMS = ['vision', 'search'] as const;
export const DEMO_POLICIES = { teams: 'demo/team-budgets', research: 'demo/research' } as const;

/** The shapes the demo replays (JSON and streamed, each provider), a few recordings of each. */
const SHAPES = ['openai-chat', 'openai-chat-stream-usage', 'openai-responses', 'openai-responses-stream', 'anthropic-messages', 'anthropic-messages-stream', 'gemini-generate', 'gemini-stream-sse'];
const PER_SHAPE = 4;
/** Recordings with a large input: what initech sends. */
const HEAVY = ['pyd_gpt-5_web-search_cached_stream', 'crew_claude-3-5-haiku_image_cache-read', 'oll_gpt-4o-mini_prompt-cache_miss'];

export interface DemoRequest {
  /** team-budgets tenant (x-tenant-id) or research team (x-team). */
  subject: string;
  policy: string;
  fixture: string;
  exchange: Exchange;
}

function usable(e: WireEntry): boolean {
  return e.status === 200 && hasRequest(e);
}

function exchange(e: WireEntry & { req: string }, prefix: string, headers: Record<string, string>, id: string): Exchange {
  const url = new URL(e.url);
  const { body, headers: responseHeaders } = wireResponse(e);
  return {
    path: `${prefix}${url.pathname}${url.search}`, authority: url.host,
    requestHeaders: { 'content-type': 'application/json', 'x-request-id': id, ...headers },
    requestChunks: [fixtureFile(e.req)], status: e.status, responseHeaders, responseChunks: [body],
  };
}

/** The ordinary traffic, in a fixed order; `run` makes request ids unique per run. */
export function demoTraffic(run: string): DemoRequest[] {
  const entries = wireEntries().filter(usable).filter((e): e is WireEntry & { req: string } => hasRequest(e));
  const picked = SHAPES.flatMap((shape) => entries.filter((e) => e.dir === shape && !HEAVY.includes(e.name)).slice(0, PER_SHAPE));
  return picked.map((e, i) => {
    const research = i % 5 === 4;
    const subject = research ? RESEARCH_TEAMS[i % RESEARCH_TEAMS.length] as string : TEAM_TENANTS[i % TEAM_TENANTS.length] as string;
    const id = `demo-${run}-${i}`;
    return research
      ? { subject, policy: DEMO_POLICIES.research, fixture: e.name, exchange: exchange(e, '/demo/research', { 'x-team': subject }, id) }
      : { subject, policy: DEMO_POLICIES.teams, fixture: e.name, exchange: exchange(e, '/demo/teams', { 'x-tenant-id': subject }, id) };
  });
}

/** The `i`-th big request of the tenant that runs out of budget. */
export function heavyRequest(run: string, i: number, tenant: string = HEAVY_TENANT): DemoRequest {
  const entries = wireEntries().filter((e) => HEAVY.includes(e.name)).filter((e): e is WireEntry & { req: string } => hasRequest(e));
  const e = entries[i % entries.length] as WireEntry & { req: string };
  return { subject: tenant, policy: DEMO_POLICIES.teams, fixture: e.name, exchange: exchange(e, '/demo/teams', { 'x-tenant-id': tenant }, `demo-${run}-heavy-${i}`) };
}
