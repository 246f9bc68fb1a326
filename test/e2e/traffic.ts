/**
 * Reaching the cluster from the test process: HTTP to the Gateway's Envoy through `kubectl port-forward` (restarted
 * when it drops, e.g. while Envoy's pod is replaced), the mock's /mock/stats and the ext_proc's /metrics through the
 * API server's proxy subresource (no extra port-forwards), and Envoy's access log through `kubectl logs`.
 */
import type { Kube } from './cluster.js';
import { NAMES, NS } from './config.js';
import type { GatewayClient, HttpResponse } from './scenario.js';
import { log, portForward, type PortForward } from './tools.js';

/** A GatewayClient for an Envoy Service, through a port-forward it (re)opens as needed. */
export class ForwardedGateway implements GatewayClient {
  private forward: PortForward | undefined;

  /** `kubectlArgs`: the leading kubectl arguments (kubeconfig); the Service is looked up in `namespace`. */
  constructor(private readonly kubectlArgs: readonly string[], private readonly namespace: string, private readonly service: string, private readonly port = 80) {}

  private async base(): Promise<string> {
    if (!this.forward?.alive()) {
      this.forward?.close();
      this.forward = await portForward([...this.kubectlArgs, '--namespace', this.namespace], `svc/${this.service}`, this.port, 60_000);
      log(`gateway reachable at http://127.0.0.1:${this.forward.port} (svc/${this.service} in ${this.namespace})`);
    }
    return `http://127.0.0.1:${this.forward.port}`;
  }

  async post(path: string, headers: Record<string, string>, body: Buffer): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      const url = `${await this.base()}${path}`;
      try {
        const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(60_000) });
        const out: Record<string, string> = {};
        res.headers.forEach((v, k) => {
          out[k] = v;
        });
        return { status: res.status, headers: out, body: Buffer.from(await res.arrayBuffer()) };
      } catch (e) {
        // A dropped port-forward shows up as a connection error: reopen it once, then let the caller decide.
        if (attempt >= 2) throw e;
        log(`POST ${path} failed (${(e as Error).message}); reopening the port-forward`);
        this.forward?.close();
        this.forward = undefined;
      }
    }
  }

  close(): void {
    this.forward?.close();
    this.forward = undefined;
  }
}

/** The Gateway's Envoy Service (in Envoy Gateway's namespace), port 80. */
export function envoyGateway(kube: Kube, service: string): ForwardedGateway {
  return new ForwardedGateway(kube.kubectlArgs, NS.envoyGateway, service);
}

/** The mock's request counters, through the Service proxy. */
export async function mockStats(kube: Kube): Promise<{ requests: number; byTenant: Record<string, number> }> {
  const text = await kube.raw(`/api/v1/namespaces/${NS.app}/services/${NAMES.mock}:http/proxy/mock/stats`);
  return JSON.parse(text) as { requests: number; byTenant: Record<string, number> };
}

/** /metrics of every ext_proc pod, concatenated (counters then add up across replicas). */
export async function extprocMetrics(kube: Kube, pods: readonly string[], adminPort: number): Promise<string> {
  const texts = await Promise.all(pods.map((p) => kube.raw(`/api/v1/namespaces/${NS.tokenmeter}/pods/${p}:${adminPort}/proxy/metrics`)));
  return texts.join('\n');
}

/** Envoy's stdout (the access log) for the Gateway's pods. */
export async function envoyLogs(kube: Kube, selector: string): Promise<string> {
  const r = await kube.kubectl(['logs', '--namespace', NS.envoyGateway, '-l', selector, '--all-containers', '--tail=-1', '--prefix', '--max-log-requests=10'], { quiet: true, timeoutMs: 60_000 });
  return r.stdout;
}
