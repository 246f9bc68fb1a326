/**
 * The admin HTTP listener both commands share: /healthz (process alive), /readyz (accepting work), /metrics
 * (Prometheus text), plus whatever routes the caller adds. Unknown paths answer 404 and wrong methods 405, as JSON
 * `{error: {message, code}}`. The operator serves only these (`tokenmeter operator` imports nothing of the token
 * counting API, so it does not load the tokenizer's encodings); the ext_proc adds its API (server.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import { sendError } from './http.js';

export interface ProbeDeps {
  registry: Registry;
  ready: () => boolean;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface Route {
  methods: readonly string[];
  handle: Handler;
}

export const GET = ['GET', 'HEAD'] as const;

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
}

export function probeRoutes(deps: ProbeDeps): ReadonlyMap<string, Route> {
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

/** Listens on host:port and serves `table`. */
export async function serveAdmin(table: ReadonlyMap<string, Route>, host: string, port: number): Promise<AdminServer> {
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
