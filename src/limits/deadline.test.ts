import { describe, expect, it } from 'vitest';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import { compileMatcher } from '../policy/match.js';
import { parsePolicies } from '../policy/parse.js';
import { beforeDeadline } from './deadline.js';
import { Limiter, type AdmitInput } from './limiter.js';
import { createMemoryStore } from './memory-store.js';
import { ObservedOutput } from './observed.js';
import type { CounterStore } from './store.js';

const POLICY = (failureMode: string): string => `apiVersion: tokenmeter.dev/v1alpha1
kind: TokenPolicy
metadata: {name: team}
spec:
  limits: [{name: per-minute, tokens: 1000, window: 1m, count: Total}]
  reservation: {output: MaxTokens, defaultMaxTokens: 100}
  enforcement: {failureMode: ${failureMode}}
`;
const input: AdmitInput = {
  requestId: 'r', provider: 'openai', endpoint: 'openai.chat', host: 'h', path: '/v1/chat/completions', method: 'POST', headers: {},
  model: 'gpt-4o', maxOutputTokens: 100, inputTokens: 200,
};
const usage = (i: number, o: number) => ({ input: i, cachedInput: 0, cacheWrite: 0, output: o, reasoning: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A memory store whose reserve answers `delayMs` late (or fails then). */
function lateStore(delayMs: number, fail = false): CounterStore {
  const inner = createMemoryStore();
  return {
    ...inner, kind: 'memory',
    reserve: async (req) => {
      await sleep(delayMs);
      if (fail) throw new TokenmeterError(ErrorCodes.STORE_UNAVAILABLE, 'timed out');
      return inner.reserve(req);
    },
    settle: (id, actual, now) => inner.settle(id, actual, now),
    peek: (c, now) => inner.peek(c, now),
    close: () => inner.close(),
  };
}

function limiter(store: CounterStore, failureMode = 'Open'): Limiter {
  const { policies } = parsePolicies(POLICY(failureMode));
  return new Limiter({ store, matcher: () => compileMatcher(policies), observed: new ObservedOutput(), reservationTtlMs: 60_000 });
}

describe('the decision deadline', () => {
  it('lets an answer that is already there win over a deadline already past', async () => {
    await expect(beforeDeadline(Promise.resolve(7), AbortSignal.abort())).resolves.toBe(7);
    await expect(beforeDeadline(sleep(50).then(() => 7), AbortSignal.timeout(5))).rejects.toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
  });

  it('Open: the request goes on, and a reservation that lands late is settled with the request', async () => {
    const store = lateStore(40);
    const l = limiter(store);
    const a = await l.admit({ ...input, signal: AbortSignal.timeout(5) });
    expect(a.rejection).toBeUndefined();
    expect(a.log.decision).toBe('store-error');
    expect(await a.settle(usage(200, 20), 'gpt-4o')).toEqual({ 'team/per-minute': 220 });
    const next = await limiter(store).admit(input);
    expect(next.headers?.['x-ratelimit-remaining-tokens']).toBe(String(1000 - 220 - 300));
  });

  it('Closed: 503 from tokenmeter, and the late reservation is released', async () => {
    const store = lateStore(40);
    const a = await limiter(store, 'Closed').admit({ ...input, signal: AbortSignal.timeout(5) });
    expect(a.rejection?.status).toBe(503);
    expect(await a.settle(usage(0, 0), undefined)).toEqual({ 'team/per-minute': 0 });
    expect((await limiter(store).admit(input)).headers?.['x-ratelimit-remaining-tokens']).toBe('700');
  });

  it('charges nothing when the late call failed after all', async () => {
    const a = await limiter(lateStore(20, true)).admit({ ...input, signal: AbortSignal.timeout(5) });
    expect(await a.settle(usage(200, 20), 'gpt-4o')).toEqual({});
  });
});
