/**
 * The built `tokenmeter` binary (dist/src/cli/main.js, `npm test` builds it first) run as a chart Deployment would
 * run it: the container's own args from the rendered Deployment, with listen addresses moved to free loopback ports,
 * the settings file from the rendered ConfigMap, and a kubeconfig for the Deployment's ServiceAccount user.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../../src/k8s/client.js';
import { freePort } from './free-port.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface TokenmeterProcess {
  readonly name: string;
  /** Port of the admin endpoint (/healthz, /readyz, /metrics; the ext_proc's /v1/policies). */
  readonly adminPort: number;
  /** The ext_proc's gRPC port (0 for the operator). */
  readonly grpcPort: number;
  readonly child: ChildProcess;
  /** Everything it logged so far (pino JSON lines). */
  logs(): string;
  /** GET on its admin endpoint. */
  admin(path: string): Promise<Response>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

type Container = { args?: string[]; env?: { name: string; value?: string }[]; volumeMounts?: { mountPath: string }[] };

/** The first container of a rendered Deployment. */
export function containerOf(deployment: KubeObject): Container {
  const c = (deployment.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0];
  if (!c) throw new Error(`${deployment.metadata.name}: no container`);
  return c;
}

/**
 * Starts the binary with a Deployment container's args. `0.0.0.0:PORT` listen addresses become free loopback ports,
 * `files` replaces paths in the args (mounted files: the settings ConfigMap), an arg naming a volume's mount path (the
 * ledger's data directory) becomes a fresh directory under `dir`, `extra` is appended (--kubeconfig, …).
 * Resolves once /healthz answers.
 */
export async function startFromDeployment(opts: {
  name: string;
  deployment: KubeObject;
  dir: string;
  files?: Record<string, string>;
  extra?: string[];
  env?: Record<string, string>;
}): Promise<TokenmeterProcess> {
  const container = containerOf(opts.deployment);
  let adminPort = 0;
  let grpcPort = 0;
  const args: string[] = [];
  const input = container.args ?? [];
  for (let i = 0; i < input.length; i++) {
    const a = input[i] ?? '';
    const next = input[i + 1] ?? '';
    if ((a === '--admin-address' || a === '--grpc-address') && next.startsWith('0.0.0.0:')) {
      const port = await freePort();
      if (a === '--admin-address') adminPort = port;
      else grpcPort = port;
      args.push(a, `127.0.0.1:${port}`);
      i++;
    } else if ((container.volumeMounts ?? []).some((m) => m.mountPath === a)) {
      const mounted = join(opts.dir, `${opts.name}-${a.split('/').at(-1) ?? 'volume'}`);
      mkdirSync(mounted, { recursive: true });
      args.push(mounted);
    } else if (opts.files && a in opts.files) {
      const file = join(opts.dir, `${opts.name}-${a.split('/').at(-1) ?? 'file'}`);
      writeFileSync(file, opts.files[a] ?? '');
      args.push(file);
    } else {
      args.push(a);
    }
  }
  if (!adminPort) throw new Error(`${opts.name}: the Deployment's args name no --admin-address 0.0.0.0:PORT`);
  // The container's plain env values (NODE_OPTIONS: the chart's heap limits), POD_NAME as the downward API gives it.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', POD_NAME: opts.name };
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const child = spawn(process.execPath, [BIN, ...args, ...(opts.extra ?? [])], { env: { ...env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const admin = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${adminPort}${path}`, { signal: AbortSignal.timeout(5000) });
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${opts.name} exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await admin('/healthz')).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${opts.name}: /healthz did not answer within 30 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: opts.name, adminPort, grpcPort, child, admin,
    logs: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
