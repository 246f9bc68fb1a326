/**
 * The kind cluster and the kubectl/helm calls against it. The cluster gets its own kubeconfig file (kind create
 * --kubeconfig), so the suite never changes the user's ~/.kube/config or current context.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KIND_CONFIG, MOCK_IMAGE, REPO_ROOT, type E2eSettings } from './config.js';
import { log, run, type RunOptions, type RunResult } from './tools.js';

export class Kube {
  constructor(readonly kubeconfig: string) {}

  /** The leading arguments of every kubectl call (also for port-forward). */
  get kubectlArgs(): string[] {
    return ['--kubeconfig', this.kubeconfig];
  }

  kubectl(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return run('kubectl', [...this.kubectlArgs, ...args], opts);
  }

  helm(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return run('helm', ['--kubeconfig', this.kubeconfig, ...args], opts);
  }

  async json<T>(args: readonly string[], opts?: RunOptions): Promise<T> {
    const r = await this.kubectl([...args, '-o', 'json'], opts);
    return JSON.parse(r.stdout) as T;
  }

  /** `kubectl apply -f -` of objects (sent as a JSON List: byte-exact strings, no YAML quoting surprises). */
  apply(objects: readonly object[], opts: { serverSide?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
    const list = { apiVersion: 'v1', kind: 'List', items: objects };
    const ss = opts.serverSide ? ['--server-side', '--force-conflicts', '--field-manager', 'tokenmeter-e2e'] : [];
    return this.kubectl(['apply', ...ss, '-f', '-'], { input: JSON.stringify(list), timeoutMs: opts.timeoutMs ?? 120_000 });
  }

  /** Pods of a namespace (optionally by label selector). */
  async pods(namespace: string, selector?: string): Promise<PodList['items']> {
    const list = await this.json<PodList>(['get', 'pods', '-n', namespace, ...(selector ? ['-l', selector] : [])], { quiet: true });
    return list.items;
  }

  /** GET through the API server (`kubectl get --raw`), e.g. a pod's or Service's proxy subresource. */
  async raw(path: string, opts?: RunOptions): Promise<string> {
    return (await this.kubectl(['get', '--raw', path], { quiet: true, ...opts })).stdout;
  }
}

export interface PodList {
  items: {
    metadata: { name: string; namespace: string; labels?: Record<string, string> };
    spec: { containers: { name: string; args?: string[]; command?: string[]; ports?: { containerPort: number; name?: string }[] }[] };
    status: { phase?: string; containerStatuses?: { name: string; ready: boolean; restartCount: number }[] };
  }[];
}

export async function clusterExists(name: string): Promise<boolean> {
  const r = await run('kind', ['get', 'clusters'], { quiet: true, timeoutMs: 30_000 });
  return r.stdout.split('\n').map((s) => s.trim()).includes(name);
}

/** Creates the kind cluster, or reuses one of that name; writes its kubeconfig; waits for the node. */
export async function ensureCluster(s: E2eSettings): Promise<{ kube: Kube; reused: boolean }> {
  const reused = await clusterExists(s.clusterName);
  if (reused) {
    log(`reusing the existing kind cluster "${s.clusterName}"`);
  } else {
    await run('kind', [
      'create', 'cluster', '--name', s.clusterName, '--config', KIND_CONFIG, '--kubeconfig', s.kubeconfig, '--wait', '180s',
      ...(s.kindNodeImage ? ['--image', s.kindNodeImage] : []),
    ], { timeoutMs: 15 * 60_000 });
  }
  const kc = await run('kind', ['get', 'kubeconfig', '--name', s.clusterName], { quiet: true, timeoutMs: 60_000 });
  writeFileSync(s.kubeconfig, kc.stdout, { mode: 0o600 });
  const kube = new Kube(s.kubeconfig);
  await kube.kubectl(['wait', '--for=condition=Ready', 'nodes', '--all', '--timeout=300s'], { timeoutMs: 320_000 });
  return { kube, reused };
}

export async function deleteCluster(s: E2eSettings): Promise<void> {
  await run('kind', ['delete', 'cluster', '--name', s.clusterName, '--kubeconfig', s.kubeconfig], { timeoutMs: 5 * 60_000, check: false });
  rmSync(s.kubeconfig, { force: true });
}

export function imageRef(s: E2eSettings): string {
  return `${s.image.repository}:${s.image.tag}`;
}

/**
 * Builds tokenmeter:e2e from the repository's Dockerfile and loads it into the kind node (the chart runs it with
 * pullPolicy Never). The mock's node image is preloaded too when possible; otherwise the node pulls it.
 */
export async function buildAndLoadImages(s: E2eSettings): Promise<void> {
  const image = imageRef(s);
  if (s.skipBuild) {
    log(`E2E_SKIP_BUILD=1: using the local image ${image}`);
    await run('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { timeoutMs: 30_000 });
  } else {
    const dockerfile = join(REPO_ROOT, 'Dockerfile');
    if (!existsSync(dockerfile)) throw new Error(`no Dockerfile at ${dockerfile}: the suite builds ${image} from the repository's Dockerfile`);
    await run('docker', ['build', '--tag', image, '--file', dockerfile, REPO_ROOT], { timeoutMs: 30 * 60_000, env: { DOCKER_BUILDKIT: '1' } });
  }
  await loadIntoKind(image, s);

  const have = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', MOCK_IMAGE], { quiet: true, check: false, timeoutMs: 30_000 });
  const pulled = have.code === 0 || (await run('docker', ['pull', MOCK_IMAGE], { check: false, timeoutMs: 10 * 60_000 })).code === 0;
  const loaded = pulled && await loadIntoKind(MOCK_IMAGE, s).then(() => true, () => false);
  if (!loaded) log(`could not preload ${MOCK_IMAGE} into kind; the node will pull it itself`);
}

/** The Docker platform of this machine's architecture (kind nodes run it). */
export function dockerPlatform(arch: string = process.arch): string {
  return `linux/${arch === 'x64' ? 'amd64' : arch}`;
}

/**
 * `kind load docker-image`; when that fails — Docker's containerd image store (the default since Docker 29) makes
 * it fail with "ctr: content digest … not found" (kubernetes-sigs/kind#3795) — a single-platform
 * `docker image save --platform` and `kind load image-archive`, the workaround kind documents.
 */
export async function loadIntoKind(image: string, s: E2eSettings): Promise<void> {
  const direct = await run('kind', ['load', 'docker-image', image, '--name', s.clusterName], { check: false, timeoutMs: 10 * 60_000 });
  if (direct.code === 0) return;
  log(`kind load docker-image ${image} failed (${direct.stderr.trim().split('\n').find((l) => l.includes('digest')) ?? `exit ${direct.code}`}); retrying through an image archive`);
  const dir = mkdtempSync(join(tmpdir(), 'tm-e2e-image-'));
  try {
    const archive = join(dir, 'image.tar');
    await run('docker', ['image', 'save', '--platform', dockerPlatform(), '--output', archive, image], { timeoutMs: 10 * 60_000 });
    await run('kind', ['load', 'image-archive', archive, '--name', s.clusterName], { timeoutMs: 10 * 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
