/**
 * What the suite leaves in test/e2e/logs/ when a step fails (uploaded by .github/workflows/e2e.yml): cluster state,
 * tokenmeter and Gateway objects with their status, events, every container's log in the namespaces involved, and
 * `kind export logs`. Best effort: a dump that fails halfway still writes what it got, and never throws.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kube } from './cluster.js';
import { EXTPROC_ADMIN_PORT, NS, type E2eSettings } from './config.js';
import { log, run } from './tools.js';

const OBJECTS: { file: string; args: string[] }[] = [
  { file: 'get-all.txt', args: ['get', 'all', '--all-namespaces', '-o', 'wide'] },
  { file: 'nodes.txt', args: ['describe', 'nodes'] },
  { file: 'events.txt', args: ['get', 'events', '--all-namespaces', '--sort-by=.lastTimestamp'] },
  { file: 'tokenpolicies.yaml', args: ['get', 'tokenpolicies.tokenmeter.dev', '--all-namespaces', '-o', 'yaml'] },
  { file: 'tokenpolicies.txt', args: ['get', 'tokenpolicies.tokenmeter.dev', '--all-namespaces', '-o', 'wide'] },
  { file: 'envoyextensionpolicies.yaml', args: ['get', 'envoyextensionpolicies.gateway.envoyproxy.io', '--all-namespaces', '-o', 'yaml'] },
  { file: 'backendtrafficpolicies.yaml', args: ['get', 'backendtrafficpolicies.gateway.envoyproxy.io', '--all-namespaces', '-o', 'yaml'] },
  { file: 'envoyproxies.yaml', args: ['get', 'envoyproxies.gateway.envoyproxy.io', '--all-namespaces', '-o', 'yaml'] },
  { file: 'gateway-api.yaml', args: ['get', 'gatewayclasses,gateways,httproutes,referencegrants', '--all-namespaces', '-o', 'yaml'] },
  { file: 'servicemonitors.yaml', args: ['get', 'servicemonitors.monitoring.coreos.com', '--all-namespaces', '-o', 'yaml'] },
  { file: `configmaps-${NS.tokenmeter}.yaml`, args: ['get', 'configmaps', '--namespace', NS.tokenmeter, '-o', 'yaml'] },
  { file: 'leases.yaml', args: ['get', 'leases.coordination.k8s.io', '--namespace', NS.tokenmeter, '-o', 'yaml'] },
];

function safe(name: string): string {
  return name.replace(/[^\w.-]+/g, '_');
}

/** Writes the diagnostics under `dir` and returns it. */
export async function dumpDiagnostics(kube: Kube | undefined, s: E2eSettings, why: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = s.logDir;
  mkdirSync(join(dir, 'pods'), { recursive: true });
  const write = (file: string, text: string): void => writeFileSync(join(dir, file), text);
  write('FAILURE.txt', `${new Date().toISOString()}\n${why}\n`);
  for (const [file, text] of Object.entries(extra)) write(safe(file), text);
  log(`writing diagnostics to ${dir}`);
  if (!kube) return dir;
  const grab = async (file: string, args: string[]): Promise<void> => {
    const r = await kube.kubectl(args, { check: false, quiet: true, timeoutMs: 120_000 });
    write(file, r.stdout + (r.code === 0 ? '' : `\n# ${r.command}: exit ${r.code}\n${r.stderr}`));
  };
  for (const o of OBJECTS) await grab(o.file, o.args);
  const helm = await kube.helm(['list', '--all-namespaces'], { check: false, quiet: true, timeoutMs: 60_000 });
  write('helm-list.txt', helm.stdout + helm.stderr);

  for (const ns of [NS.tokenmeter, NS.envoyGateway, NS.app]) {
    await grab(`describe-pods-${ns}.txt`, ['describe', 'pods', '--namespace', ns]);
    const pods = await kube.pods(ns).catch(() => []);
    for (const p of pods) {
      for (const c of p.spec.containers) {
        const base = `${ns}_${p.metadata.name}_${c.name}`;
        await grab(join('pods', `${safe(base)}.log`), ['logs', '--namespace', ns, p.metadata.name, '-c', c.name, '--timestamps', '--tail=-1']);
        const restarts = p.status.containerStatuses?.find((st) => st.name === c.name)?.restartCount ?? 0;
        if (restarts > 0) await grab(join('pods', `${safe(base)}.previous.log`), ['logs', '--namespace', ns, p.metadata.name, '-c', c.name, '--previous', '--timestamps']);
      }
      if (ns === NS.tokenmeter) {
        const r = await kube.kubectl(['get', '--raw', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}:${EXTPROC_ADMIN_PORT}/proxy/metrics`], { check: false, quiet: true, timeoutMs: 30_000 });
        if (r.code === 0) write(join('pods', `${safe(p.metadata.name)}.metrics.txt`), r.stdout);
      }
    }
  }
  await run('kind', ['export', 'logs', join(dir, 'kind'), '--name', s.clusterName], { check: false, quiet: true, timeoutMs: 5 * 60_000 });
  return dir;
}
