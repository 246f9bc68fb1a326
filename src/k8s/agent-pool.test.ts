import http from 'node:http';
import https from 'node:https';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentPool } from './agent-pool.js';

const tlsAgent = (o: https.AgentOptions): https.Agent => new https.Agent(o);

describe('AgentPool', () => {
  let pool: AgentPool;
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands out one keep-alive agent per set of connection options, keeping the TLS options', () => {
    pool = new AgentPool();
    const a = pool.reuse(tlsAgent({ ca: 'CA-1', servername: 'api', rejectUnauthorized: true }));
    const b = pool.reuse(tlsAgent({ ca: 'CA-1', servername: 'api', rejectUnauthorized: true }));
    expect(b).toBe(a);
    expect(a).toBeInstanceOf(https.Agent);
    expect((a as https.Agent).options).toMatchObject({ ca: 'CA-1', servername: 'api', rejectUnauthorized: true, keepAlive: true });
    expect(pool.size).toBe(1);
  });

  it('rotated credentials (another client certificate or CA) get their own agent', () => {
    pool = new AgentPool();
    const a = pool.reuse(tlsAgent({ ca: 'CA-1', cert: 'C-1', key: 'K-1' }));
    const b = pool.reuse(tlsAgent({ ca: 'CA-1', cert: 'C-2', key: 'K-2' }));
    const c = pool.reuse(tlsAgent({ ca: Buffer.from('CA-2'), cert: 'C-2', key: 'K-2' }));
    expect(new Set([a, b, c]).size).toBe(3);
    expect(pool.reuse(tlsAgent({ ca: 'CA-1', cert: 'C-2', key: 'K-2' }))).toBe(b);
  });

  it('plain HTTP gets one keep-alive http.Agent', () => {
    pool = new AgentPool();
    const a = pool.reuse(new http.Agent());
    expect(a).not.toBeInstanceOf(https.Agent);
    expect((a as http.Agent & { keepAlive?: boolean }).keepAlive).toBe(true);
    expect(pool.reuse(new http.Agent())).toBe(a);
  });

  it('passes a proxy agent (any other Agent subclass) through unchanged', () => {
    pool = new AgentPool();
    class ProxyAgent extends https.Agent {}
    const proxy = new ProxyAgent();
    expect(pool.reuse(proxy)).toBe(proxy);
    expect(pool.size).toBe(0);
  });

  it('keeps at most maxAgents and closes a replaced one after retireAfterMs, not at once', () => {
    vi.useFakeTimers();
    pool = new AgentPool({ maxAgents: 2, retireAfterMs: 1000 });
    const first = pool.reuse(tlsAgent({ cert: '1' }));
    const destroy = vi.spyOn(first, 'destroy');
    pool.reuse(tlsAgent({ cert: '2' }));
    pool.reuse(tlsAgent({ cert: '1' })); // used again: now the most recent
    pool.reuse(tlsAgent({ cert: '3' })); // evicts '2', the least recently used
    expect(pool.size).toBe(2);
    expect(pool.reuse(tlsAgent({ cert: '1' }))).toBe(first);
    pool.reuse(tlsAgent({ cert: '4' })); // evicts '3'
    pool.reuse(tlsAgent({ cert: '5' })); // evicts '1'
    expect(destroy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(destroy).toHaveBeenCalledTimes(1);
  });
});
