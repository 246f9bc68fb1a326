/**
 * The ext_proc's admin endpoint: the probes and /metrics (probes.ts) plus the token count and cost API: POST
 * /v1/count (count-api.ts), GET /v1/usage (usage-api.ts, bearer token when configured), GET /v1/models
 * (models-api.ts), GET /v1/policies (policies-api.ts: the limits version loaded), and the spend ledger's GET /v1/spend,
 * /v1/requests and /v1/budgets (spend-api.ts, requests-api.ts, budgets-api.ts; bearer token like /v1/usage). The
 * budget console's data (bearer token too): GET /v1/limits (policies in words), /v1/subjects (a policy's subjects,
 * searched, sorted, paged), /v1/subject (one subject's windows), /v1/refusals and the live updates /v1/events.
 * `tokenmeter console` serves the same routes (adminRoutes) beside its pages (src/console).
 */
import type { EncodingOverrides } from '../tokenize/encodings.js';
import { handleCount } from './count-api.js';
import { handleModels } from './models-api.js';
import { handlePolicies, type LoadedPolicies } from './policies-api.js';
import { GET, probeRoutes, serveAdmin, type AdminServer, type ProbeDeps, type Route } from './probes.js';
import { handleUsage, type UsageSource } from './usage-api.js';
import { handleSpend } from './spend-api.js';
import { handleRequests } from './requests-api.js';
import { handleBudgets } from './budgets-api.js';
import type { LedgerQuery } from '../ledger/query.js';
import { handleEvents, type ChangeFeed } from './events-api.js';
import { handleLimits } from './limits-api.js';
import { handleRefusals } from './refusals-api.js';
import { handleSubject } from './subject-api.js';
import { handleSubjects, type PolicyBudgets, type SubjectSnapshot } from './subjects-api.js';
import type { SnapshotCache } from './snapshot-cache.js';

export type { AdminServer, Route } from './probes.js';

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
  /** The spend ledger for /v1/spend, /v1/requests and /v1/budgets; absent when it is off. */
  ledger?: LedgerQuery;
  /** Wall clock (ms); injected for tests. */
  now?: () => number;
  /** Policies and (when readable) counters for the budget listings; default: `usage`. */
  budgets?: PolicyBudgets;
  /** Live updates for GET /v1/events; absent: 404. */
  feed?: ChangeFeed;
  /** Shared subject listings (/v1/subjects, /v1/subject) until the data changes; absent: built per request. */
  snapshots?: SnapshotCache<SubjectSnapshot>;
  /** Leave out POST /v1/count and GET /v1/models (`tokenmeter console` loads no tokenizer). */
  noCounting?: boolean;
}

const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

/** Every route of the admin API (the console adds its pages to these). */
export function adminRoutes(deps: AdminDeps): Map<string, Route> {
  const budgets = deps.budgets ?? deps.usage;
  const listing = {
    adminToken: deps.adminToken ?? '', ...(budgets ? { source: budgets } : {}), ...(deps.ledger ? { ledger: deps.ledger } : {}), ...(deps.snapshots ? { snapshots: deps.snapshots } : {}),
  };
  const counting: [string, Route][] = deps.noCounting ? [] : [
    ['/v1/count', {
      methods: ['POST'],
      handle: (req, res, url) => handleCount(req, res, url, { maxBodyBytes: deps.maxRequestBodyBytes ?? DEFAULT_MAX_BODY, overrides: deps.encodingOverrides }),
    }],
    ['/v1/models', { methods: GET, handle: (_q, res) => handleModels(res, deps.encodingOverrides) }],
  ];
  return new Map<string, Route>([
    ...probeRoutes(deps),
    ...counting,
    ['/v1/usage', { methods: GET, handle: (req, res, url) => handleUsage(req, res, url, { source: deps.usage, adminToken: deps.adminToken ?? '' }) }],
    ['/v1/policies', { methods: GET, handle: (_q, res) => handlePolicies(res, deps.loadedPolicies) }],
    ['/v1/spend', { methods: GET, handle: (req, res, url) => handleSpend(req, res, url, ledgerDeps(deps)) }],
    ['/v1/requests', { methods: GET, handle: (req, res, url) => handleRequests(req, res, url, ledgerDeps(deps)) }],
    ['/v1/budgets', {
      methods: GET,
      handle: (req, res, url) => handleBudgets(req, res, url, listing),
    }],
    ['/v1/limits', { methods: GET, handle: (req, res, url) => handleLimits(req, res, url, listing) }],
    ['/v1/subjects', { methods: GET, handle: (req, res, url) => handleSubjects(req, res, url, listing) }],
    ['/v1/subject', { methods: GET, handle: (req, res, url) => handleSubject(req, res, url, listing) }],
    ['/v1/refusals', { methods: GET, handle: (req, res, url) => handleRefusals(req, res, url, ledgerDeps(deps)) }],
    ['/v1/events', { methods: ['GET'], handle: (req, res) => handleEvents(req, res, { adminToken: deps.adminToken ?? '', ...(deps.feed ? { feed: deps.feed } : {}) }) }],
  ]);
}

function ledgerDeps(deps: AdminDeps): { ledger?: LedgerQuery; adminToken: string; now: () => number } {
  return { adminToken: deps.adminToken ?? '', now: deps.now ?? Date.now, ...(deps.ledger ? { ledger: deps.ledger } : {}) };
}

export function startAdminServer(deps: AdminDeps, host: string, port: number): Promise<AdminServer> {
  return serveAdmin(adminRoutes(deps), host, port);
}
