/**
 * Whether the data plane enforces what the operator published: every ready ext_proc replica reports (GET
 * /v1/policies) the limits version it loaded, and a TokenPolicy is Programmed only when all of them report the
 * version this reconcile published. Pure: the probe that lists EndpointSlices and asks the replicas is an edge
 * (src/k8s/replica-probe.ts) behind DataPlaneProbe.
 */
import { Reasons, type ConditionStatus } from './conditions.js';

export interface ReplicaReport {
  /** `ip:port` of the replica's admin endpoint. */
  endpoint: string;
  /** The limits version it loaded; null when it has none yet; undefined when it could not be asked (see error). */
  version?: string | null;
  error?: string;
}

export interface DataPlaneProbe {
  /** The ready replicas behind the ext_proc Service and what each reports. */
  replicas(): Promise<ReplicaReport[]>;
}

export type DataPlaneVerdict =
  | { loaded: true; message: string }
  | { loaded: false; status: ConditionStatus; reason: string; message: string; retryMs: number };

/** How soon to look again: replicas reload within a second of the ConfigMap change; absent ones take longer. */
const RETRY_PENDING_MS = 1000;
const RETRY_ABSENT_MS = 10_000;
/** Replicas that did not answer (overloaded, restarting) are asked again soon: the answer is cached 300 ms anyway. */
const RETRY_UNREACHABLE_MS = 2000;

/** What the replicas' reports mean for the version `want` published to `where` (for messages). */
export function dataPlaneVerdict(want: string, replicas: readonly ReplicaReport[], where: string): DataPlaneVerdict {
  if (replicas.length === 0) {
    return {
      loaded: false, status: 'False', reason: Reasons.NoDataPlane, retryMs: RETRY_ABSENT_MS,
      message: `No ready ext_proc replica behind ${where}: limits version ${want} is published and is loaded when replicas start.`,
    };
  }
  const asked = replicas.filter((r) => r.version !== undefined);
  if (asked.length === 0) {
    const errors = [...new Set(replicas.map((r) => r.error ?? 'no answer'))].slice(0, 3).join('; ');
    return {
      loaded: false, status: 'Unknown', reason: Reasons.DataPlaneUnreachable, retryMs: RETRY_UNREACHABLE_MS,
      message: `Could not ask any of the ${replicas.length} ext_proc replicas behind ${where} which limits they loaded (${errors}).`,
    };
  }
  const behind = replicas.filter((r) => r.version !== want);
  if (behind.length === 0) {
    return { loaded: true, message: `Limits version ${want} loaded by ${replicas.length}/${replicas.length} ready ext_proc replicas.` };
  }
  const sample = behind.slice(0, 3).map((r) => `${r.endpoint} has ${r.version === undefined ? `unknown (${r.error ?? 'no answer'})` : (r.version ?? 'none')}`).join(', ');
  return {
    loaded: false, status: 'False', reason: Reasons.DataPlanePending, retryMs: RETRY_PENDING_MS,
    message: `Limits version ${want} loaded by ${replicas.length - behind.length}/${replicas.length} ready ext_proc replicas so far (${sample}).`,
  };
}

/**
 * The replicas could not be found at all: listing the ext_proc Service's EndpointSlices failed (the API server
 * unreachable, RBAC, or discovery.k8s.io/v1 not served). Unknown, like replicas that cannot be asked: the limits are
 * published, whether they are enforced is not known. Retried as soon as unreachable replicas are.
 */
export function replicasUnknownVerdict(want: string, where: string, error: string): DataPlaneVerdict {
  return {
    loaded: false, status: 'Unknown', reason: Reasons.DataPlaneUnreachable, retryMs: RETRY_UNREACHABLE_MS,
    message: `Could not list the ext_proc replicas behind ${where} to ask which limits they loaded (${error}); limits version ${want} is published.`,
  };
}

/**
 * `probe` answered from a cache for `ttlMs`, with one request in flight at a time: converging 1,000 policies asks
 * the replicas a few times a second, not 1,000 times. A cached answer for an older version only delays Programmed
 * until the requeue.
 */
export function cachedProbe(probe: DataPlaneProbe, ttlMs: number, now: () => number = Date.now): DataPlaneProbe {
  let last: { at: number; replicas: ReplicaReport[] } | undefined;
  let inflight: Promise<ReplicaReport[]> | undefined;
  return {
    replicas: () => {
      if (last && now() - last.at < ttlMs) return Promise.resolve(last.replicas);
      inflight ??= probe.replicas().then((replicas) => {
        last = { at: now(), replicas };
        return replicas;
      }).finally(() => { inflight = undefined; });
      return inflight;
    },
  };
}
