/**
 * `GET /v1/policies`: which limits this ext_proc replica enforces — the source (`configmap`, `file`, or `none` when
 * budgets are off), the limits version loaded from the operator's ConfigMap (null until one is, and for files), and
 * the policies by namespace/name. The operator reads it from every ready replica to set a TokenPolicy's Programmed
 * condition only once the data plane has loaded that generation. Public like /metrics (names and a version, no
 * counters, no subjects).
 */
import type { ServerResponse } from 'node:http';
import { sendJson } from './http.js';

export interface LoadedPolicies {
  source: 'configmap' | 'file' | 'none';
  version: string | null;
  /** `namespace/name` of each policy enforced. */
  policies: string[];
}

export function handlePolicies(res: ServerResponse, loaded: (() => LoadedPolicies) | undefined): void {
  sendJson(res, 200, loaded ? loaded() : { source: 'none', version: null, policies: [] });
}
