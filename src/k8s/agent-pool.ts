/**
 * Connection reuse for the Kubernetes API. client-node 1.x builds a new http(s).Agent for every request (in
 * KubeConfig.applySecurityAuthentication), so each request opened a new TCP connection, and against a real API server
 * a new TLS handshake. Measured in the operator bench: 1,000 policies meant ~13,000 connections, with connect and
 * socket set-up the largest single CPU cost in the operator after GC.
 *
 * AgentPool keeps one keep-alive agent per distinct set of connection options (server CA, client certificate and key,
 * verification, SNI name) and hands it out instead of the fresh one. Credentials that rotate (a client certificate
 * from an exec plugin) give new options and so a new agent; the replaced agent is closed once its in-flight requests
 * had time to finish. Proxy agents (cluster.proxyUrl) are passed through unchanged.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

/** The options client-node derives from the kubeconfig that decide which connection may serve a request. */
const IDENTITY_OPTIONS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

export interface AgentPoolOptions {
  /** Agents kept (distinct option sets). Default 4: one in use, a few rotated credentials. */
  maxAgents?: number;
  /** How long a replaced agent lives on for requests still using it. Default 60 s. */
  retireAfterMs?: number;
}

export class AgentPool {
  private readonly agents = new Map<string, http.Agent>();
  private readonly maxAgents: number;
  private readonly retireAfterMs: number;

  constructor(opts: AgentPoolOptions = {}) {
    this.maxAgents = opts.maxAgents ?? 4;
    this.retireAfterMs = opts.retireAfterMs ?? 60_000;
  }

  /** The pooled keep-alive agent equivalent to `fresh` (a per-request agent client-node just built), or `fresh` itself. */
  reuse(fresh: http.Agent): http.Agent {
    const isHttps = fresh instanceof https.Agent;
    // Only the plain node agents: a proxy agent (also an http.Agent subclass) keeps its own connection handling.
    if (fresh.constructor !== http.Agent && fresh.constructor !== https.Agent) return fresh;
    const options = isHttps ? (fresh).options : {};
    const key = identity(isHttps, options);
    let agent = this.agents.get(key);
    if (agent) {
      this.agents.delete(key); // re-inserted below: the map's order is least recently used first
    } else {
      agent = isHttps ? new https.Agent({ ...pick(options), keepAlive: true }) : new http.Agent({ keepAlive: true });
    }
    this.agents.set(key, agent);
    this.evict();
    fresh.destroy(); // it never opened a socket
    return agent;
  }

  /** Distinct agents held. */
  get size(): number {
    return this.agents.size;
  }

  private evict(): void {
    while (this.agents.size > this.maxAgents) {
      const [oldest, agent] = this.agents.entries().next().value as [string, http.Agent];
      this.agents.delete(oldest);
      // Unref'd, like the agents' idle keep-alive sockets: neither keeps the process alive at shutdown.
      setTimeout(() => agent.destroy(), this.retireAfterMs).unref();
    }
  }
}

function pick(options: https.AgentOptions): https.AgentOptions {
  const out: Record<string, unknown> = {};
  for (const k of IDENTITY_OPTIONS) if (options[k] !== undefined) out[k] = options[k];
  return out;
}

/** A digest of the identity options (so keys and certificates are not kept as map keys). */
function identity(isHttps: boolean, options: https.AgentOptions): string {
  const h = createHash('sha256').update(isHttps ? 'https' : 'http');
  for (const k of IDENTITY_OPTIONS) {
    const v: unknown = options[k];
    h.update(`\0${k}=`);
    if (v === undefined) continue;
    for (const part of Array.isArray(v) ? (v as unknown[]) : [v]) {
      h.update(Buffer.isBuffer(part) ? part : typeof part === 'string' ? part : JSON.stringify(part) ?? '');
      h.update('\0');
    }
  }
  return h.digest('hex');
}
