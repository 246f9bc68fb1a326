/**
 * The admin HTTP endpoint: /metrics (Prometheus text), /healthz (process alive), /readyz (accepting streams), and the
 * token count and cost API: POST /v1/count (count-api.ts), GET /v1/usage (usage-api.ts, bearer token when
 * configured), GET /v1/models (models-api.ts), GET /v1/policies (policies-api.ts: the limits version loaded). Unknown paths answer 404 and wrong methods 405; API errors are JSON
 * `{error: {message, code}}`. The operator serves the first three only (probesOnly).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import type { EncodingOverrides } from '../tokenize/encodings.js';
import { handleCount } from './count-api.js';
import { sendError } from './http.js';
import { handleModels } from './models-api.js';
import { handlePolicies, type LoadedPolicies } from './policies-api.js';
import { handleUsage, type UsageSource } from './usage-api.js';

export interface AdminDeps {
  registry: Registry;
  ready: () => boolean;
  /** POST /v1/count body cap (config.maxRequestBodyBytes). Default 8 MiB. */
  maxRequestBodyBytes?: number;
  /** Config's model → encoding overrides, used by /v1/count and /v1/models. */
  encodingOverrides?: EncodingOverrides;
  /** Policies and counters for /v1/usage; absent when budgets are off. */
  usage?: UsageSource;
  /** Bearer token /v1/usage requires; empty or absent = none. */
  adminToken?: string;
  /** What GET /v1/policies reports; absent when budgets are off. */
  loadedPolicies?: () => LoadedPolicies;
  /** Serve only /healthz, /readyz and /metrics (the operator). */
  probesOnly?: boolean;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

interface Route {
  methods: readonly string[];
  handle: Handler;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
}

function probeRoutes(deps: AdminDeps): ReadonlyMap<string, Route> {
  const GET = ['GET', 'HEAD'] as const;
  return new Map<string, Route>([
    ['/healthz', { methods: GET, handle: (_q, res) => text(res, 200, 'ok\n') }],
    ['/readyz', { methods: GET, handle: (_q, res) => (deps.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'draining\n')) }],
    ['/metrics', {
      methods: GET,
      handle: async (_q, res) => {
        try {
          const body = await deps.registry.metrics();
          res.writeHead(200, { 'content-type': deps.registry.contentType }).end(body);
        } catch (err) {
          text(res, 500, `metrics failed: ${String(err)}\n`);
        }
      },
    }],
  ]);
}

function routes(deps: AdminDeps): ReadonlyMap<string, Route> {
  const probes = probeRoutes(deps);
  if (deps.probesOnly) return probes;
  const GET = ['GET', 'HEAD'] as const;
  return new Map<string, Route>([
    ...probes,
    ['/v1/count', {
      methods: ['POST'],
      handle: (req, res, url) => handleCount(req, res, url, { maxBodyBytes: deps.maxRequestBodyBytes ?? DEFAULT_MAX_BODY, overrides: deps.encodingOverrides }),
    }],
    ['/v1/usage', { methods: GET, handle: (req, res, url) => handleUsage(req, res, url, { source: deps.usage, adminToken: deps.adminToken ?? '' }) }],
    ['/v1/models', { methods: GET, handle: (_q, res) => handleModels(res, deps.encodingOverrides) }],
    ['/v1/policies', { methods: GET, handle: (_q, res) => handlePolicies(res, deps.loadedPolicies) }],
  ]);
}

function dispatch(table: ReadonlyMap<string, Route>, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://admin');
  const route = table.get(url.pathname);
  if (!route) return sendError(res, 404, 'TM_NOT_FOUND', `no such endpoint: ${url.pathname}`);
  const method = req.method ?? 'GET';
  if (!route.methods.includes(method)) {
    return sendError(res, 405, 'TM_METHOD_NOT_ALLOWED', `${url.pathname} accepts ${route.methods.join(', ')}, not ${method}`, { allow: route.methods.join(', ') });
  }
  Promise.resolve()
    .then(() => route.handle(req, res, url))
    .catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(res, 500, 'TM_INTERNAL', `internal error: ${err instanceof Error ? err.message : String(err)}`);
    });
}

export async function startAdminServer(deps: AdminDeps, host: string, port: number): Promise<AdminServer> {
  const table = routes(deps);
  const server: Server = createServer((req, res) => dispatch(table, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TokenmeterError(ErrorCodes.SERVER_START_FAILED, `cannot listen on ${host}:${port}: ${err.message}`, { cause: err })));
    server.listen(port, host.replace(/^\[|\]$/g, ''), () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
