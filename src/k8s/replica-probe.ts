/**
 * The ext_proc replicas' loaded limits versions: the ready endpoints of the ext_proc Service (discovery.k8s.io/v1
 * EndpointSlices labelled kubernetes.io/service-name), each asked GET /v1/policies on its admin port. An edge
 * module: Kubernetes list + HTTP; what the answers mean is decided in src/operator/data-plane.ts.
 */
import type { ReplicaReport } from '../operator/data-plane.js';
import type { KubeClient, KubeObject } from './client.js';

export interface ReplicaProbeOptions {
  client: KubeClient;
  namespace: string;
  service: string;
  /** Name of the admin port in the Service (its EndpointSlice port carries the container port). */
  adminPortName: string;
  /** Used when the slice has no port of that name. */
  adminPort: number;
  /** Per-replica HTTP timeout. Default 2 s. */
  timeoutMs?: number;
  /**
   * The EndpointSlice API version to list. Default discovery.k8s.io/v1 (GA in 1.21, what every supported cluster
   * serves); tests against kube-apiserver 1.20 pass discovery.k8s.io/v1beta1, whose fields read here are the same.
   */
  apiVersion?: string;
}

interface EndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean | null } }[] | null;
  ports?: { name?: string; port?: number }[] | null;
}

const ENDPOINT_SLICE = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' } as const;

/** `ip:port` of every ready endpoint (ready unset counts as ready, as the API documents). */
export function readyEndpoints(slices: readonly EndpointSlice[], adminPortName: string, adminPort: number): string[] {
  const out = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    const port = slice.ports?.find((p) => p.name === adminPortName)?.port ?? adminPort;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      const ip = ep.addresses?.[0];
      if (ip) out.add(slice.addressType === 'IPv6' ? `[${ip}]:${port}` : `${ip}:${port}`);
    }
  }
  return [...out].sort();
}

async function ask(endpoint: string, timeoutMs: number): Promise<ReplicaReport> {
  try {
    const res = await fetch(`http://${endpoint}/v1/policies`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { endpoint, error: `HTTP ${res.status}` };
    const body = (await res.json()) as { version?: unknown };
    return { endpoint, version: typeof body.version === 'string' ? body.version : null };
  } catch (err) {
    return { endpoint, error: err instanceof Error ? err.message : String(err) };
  }
}

export function replicaProbe(opts: ReplicaProbeOptions): { replicas(): Promise<ReplicaReport[]> } {
  return {
    replicas: async () => {
      const list = await opts.client.list<EndpointSlice>({ ...ENDPOINT_SLICE, apiVersion: opts.apiVersion ?? ENDPOINT_SLICE.apiVersion }, {
        namespace: opts.namespace, labelSelector: `kubernetes.io/service-name=${opts.service}`,
      });
      const endpoints = readyEndpoints(list.items, opts.adminPortName, opts.adminPort);
      return Promise.all(endpoints.map((e) => ask(e, opts.timeoutMs ?? 2000)));
    },
  };
}
