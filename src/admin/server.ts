/**
 * The ext_proc's admin endpoint: the probes and /metrics (probes.ts) plus the token count and cost API: POST
 * /v1/count (count-api.ts), GET /v1/usage (usage-api.ts, bearer token when configured), GET /v1/models
 * (models-api.ts), GET /v1/policies (policies-api.ts: the limits version loaded).
 */
import type { EncodingOverrides } from '../tokenize/encodings.js';
import { handleCount } from './count-api.js';
import { handleModels } from './models-api.js';
import { handlePolicies, type LoadedPolicies } from './policies-api.js';
import { GET, probeRoutes, serveAdmin, type AdminServer, type ProbeDeps, type Route } from './probes.js';
import { handleUsage, type UsageSource } from './usage-api.js';

export type { AdminServer } from './probes.js';

export interface AdminDeps extends ProbeDeps {
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
}

const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

function routes(deps: AdminDeps): ReadonlyMap<string, Route> {
  return new Map<string, Route>([
    ...probeRoutes(deps),
    ['/v1/count', {
      methods: ['POST'],
      handle: (req, res, url) => handleCount(req, res, url, { maxBodyBytes: deps.maxRequestBodyBytes ?? DEFAULT_MAX_BODY, overrides: deps.encodingOverrides }),
    }],
    ['/v1/usage', { methods: GET, handle: (req, res, url) => handleUsage(req, res, url, { source: deps.usage, adminToken: deps.adminToken ?? '' }) }],
    ['/v1/models', { methods: GET, handle: (_q, res) => handleModels(res, deps.encodingOverrides) }],
    ['/v1/policies', { methods: GET, handle: (_q, res) => handlePolicies(res, deps.loadedPolicies) }],
  ]);
}

export function startAdminServer(deps: AdminDeps, host: string, port: number): Promise<AdminServer> {
  return serveAdmin(routes(deps), host, port);
}
