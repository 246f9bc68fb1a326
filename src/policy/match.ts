/**
 * Which policies apply to a request. A policy applies when all hold:
 * - the request is metered (it has an endpoint: budgets count tokens, unmetered traffic has none);
 * - target: when the request carries `attachedPolicies` (Kubernetes mode: the operator marks routes in Envoy and the
 *   marking is forwarded), a policy with targetRefs must be named there; without it (local mode) targetRefs are
 *   ignored. Then `hosts` globs must match the host (empty = any);
 * - `match.paths`: one prefix matches, segment-wise like Gateway API PathPrefix (`/v1/chat` matches `/v1/chat` and
 *   `/v1/chat/completions`, not `/v1/chatter`); the query string is ignored (empty = any);
 * - `match.models`: one glob matches the model, case-insensitively, either as given or after its last `/`
 *   (`openai/gpt-4o` matches `gpt-4o*`). A request without a model matches no model filter (empty = any).
 * Globs: `*` any run of characters (dots and slashes included), `?` exactly one.
 */
import type { Endpoint } from '../llm/types.js';
import type { TokenPolicy } from './types.js';
import { policyKey } from './types.js';

export interface MatchInput {
  /** :authority (or Host), possibly with a port. */
  host: string;
  /** :path, possibly with a query string. */
  path: string;
  method: string;
  /** The model the request names (body, or path for Gemini/Azure). */
  model?: string;
  /** The metered endpoint; undefined for traffic tokenmeter does not meter. */
  endpoint?: Endpoint;
  /** Kubernetes mode: keys (`namespace/name`) of the policies Envoy says are attached to the request's route. */
  attachedPolicies?: readonly string[];
}

/** Compiles a glob (`*`, `?`) to an anchored, case-insensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'is');
}

/** The host of an authority: lower case, port and IPv6 brackets' port stripped, trailing dot dropped. */
export function hostOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    return close < 0 ? a : a.slice(0, close + 1);
  }
  const colon = a.indexOf(':');
  const host = colon >= 0 && a.indexOf(':', colon + 1) < 0 ? a.slice(0, colon) : a;
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Segment-wise path prefix match (Gateway API PathPrefix). The path's query string is ignored. */
export function pathHasPrefix(rawPath: string, prefix: string): boolean {
  const q = rawPath.search(/[?#]/);
  const path = q < 0 ? rawPath : rawPath.slice(0, q);
  const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p === '/' || path === p) return true;
  return path.startsWith(p) && path[p.length] === '/';
}

interface Compiled {
  policy: TokenPolicy;
  key: string;
  hosts: RegExp[];
  models: RegExp[];
}

function compile(policy: TokenPolicy): Compiled {
  return {
    policy,
    key: policyKey(policy),
    hosts: policy.targets.hosts.map(globToRegExp),
    models: policy.match.models.map(globToRegExp),
  };
}

function modelMatches(c: Compiled, model: string | undefined): boolean {
  if (c.models.length === 0) return true;
  if (model === undefined || model === '') return false;
  const base = model.slice(model.lastIndexOf('/') + 1);
  return c.models.some((re) => re.test(model) || re.test(base));
}

function applies(c: Compiled, input: MatchInput, host: string): boolean {
  if (input.attachedPolicies !== undefined && c.policy.targets.refs.length > 0 && !input.attachedPolicies.includes(c.key)) return false;
  if (c.hosts.length > 0 && !c.hosts.some((re) => re.test(host))) return false;
  if (c.policy.match.paths.length > 0 && !c.policy.match.paths.some((p) => pathHasPrefix(input.path, p))) return false;
  return modelMatches(c, input.model);
}

/** A policy set compiled for matching. Build one per policy set (e.g. on each file-source reload). */
export interface PolicyMatcher {
  readonly policies: readonly TokenPolicy[];
  /** The policies that apply to the request, in the set's order. */
  match(input: MatchInput): TokenPolicy[];
}

export function compileMatcher(policies: readonly TokenPolicy[]): PolicyMatcher {
  const compiled = policies.map(compile);
  return {
    policies,
    match(input: MatchInput): TokenPolicy[] {
      if (input.endpoint === undefined) return [];
      const host = hostOf(input.host);
      return compiled.filter((c) => applies(c, input, host)).map((c) => c.policy);
    },
  };
}
