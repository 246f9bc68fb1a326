/**
 * `GET /v1/limits[?policy=[NS/]NAME]`: the policies in force with their limits, plan tiers and per-subject overrides
 * in words (src/policy/describe.ts) and as numbers — what the console's overview and policy pages say about a policy.
 * Bearer token like /v1/budgets (overrides name subjects).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describePolicy } from '../policy/describe.js';
import { policyKey, type TokenPolicy } from '../policy/types.js';
import { bearerAuthorized, sendJson, sendUnauthorized } from './http.js';
import { authorizedPolicy } from './usage-api.js';

export interface LimitsApiDeps {
  source?: { policies(): readonly TokenPolicy[] };
  adminToken: string;
}

const words = (p: TokenPolicy): ReturnType<typeof describePolicy> => describePolicy(p, policyKey(p));

export function handleLimits(req: IncomingMessage, res: ServerResponse, url: URL, deps: LimitsApiDeps): void {
  if (url.searchParams.has('policy')) {
    const policy = authorizedPolicy(req, res, url, deps);
    if (policy) sendJson(res, 200, { policies: [words(policy)] });
    return;
  }
  if (!bearerAuthorized(req, deps.adminToken)) return sendUnauthorized(res);
  sendJson(res, 200, { policies: (deps.source?.policies() ?? []).map(words) });
}
