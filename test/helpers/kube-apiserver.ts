/**
 * A real Kubernetes control plane for tests: etcd + kube-apiserver v1.20.2 (and, on request, kube-controller-manager
 * with the garbage collector and namespace controllers) on free loopback ports, in a temporary directory, with bearer
 * token users (an admin in system:masters and any ServiceAccount users a test names), an audit log (every request's
 * user, User-Agent, verb and status) and kubeconfigs per user. Reusable by any test file that needs real RBAC,
 * server-side apply, CRD schemas, watches or owner-reference GC; one per test file keeps the tier to a few seconds
 * of start-up per file.
 *
 * Binaries: kube-apiserver, kube-controller-manager and kubectl from $TOKENMETER_KUBE_BIN, else .tools/kube (built by
 * `../shared/tools/kube-apiserver/build.sh .tools/kube kube-apiserver kube-controller-manager kubectl`, which
 * `.ci/run` runs), and etcd from PATH. Without them `describeApiServer` skips and says why — except under CI=true,
 * where it fails. The start recipe and 1.20's gaps are those of ../shared/tools/kube-apiserver/README.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';
import { createKubeClient, loadKubeConfig } from '../../src/k8s/client-node.js';
import type { KubeClient } from '../../src/k8s/client.js';
import { freePort } from './free-port.js';
import { ROOT } from './helm.js';
import { parseAudit, type AuditEvent } from './kube-audit.js';

export const KUBE_BIN = process.env.TOKENMETER_KUBE_BIN ?? join(ROOT, '.tools', 'kube');
const BUILD_HINT = '../shared/tools/kube-apiserver/build.sh "$PWD/.tools/kube" kube-apiserver kube-controller-manager kubectl';

/** Why the real-apiserver tier cannot run here (undefined: it can). */
function missingBinaries(): string | undefined {
  const missing = ['kube-apiserver', 'kube-controller-manager', 'kubectl'].filter((b) => !existsSync(join(KUBE_BIN, b)));
  if (missing.length > 0) return `${missing.join(', ')} not found in ${KUBE_BIN}; build them with ${BUILD_HINT}`;
  const etcd = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (etcd.error || etcd.status !== 0) return 'etcd is not on PATH (Debian: apt-get install etcd-server; build.sh installs it)';
  return undefined;
}

export const NO_APISERVER = missingBinaries();

/** describe() for the real-apiserver tier: skipped with the reason when the binaries are missing, failing under CI. */
export function describeApiServer(name: string, fn: () => void): void {
  if (NO_APISERVER && process.env.CI === 'true') {
    describe(name, () => {
      it('has kube-apiserver, kube-controller-manager, kubectl and etcd', () => {
        throw new Error(`${NO_APISERVER} — CI=true: the real-apiserver tier must not be skipped`);
      });
    });
    return;
  }
  if (NO_APISERVER) console.warn(`\n*** SKIPPING the real-apiserver tier "${name}": ${NO_APISERVER} ***\n`);
  describe.skipIf(NO_APISERVER !== undefined)(NO_APISERVER ? `${name} (skipped: ${NO_APISERVER})` : name, fn);
}

/** A user the apiserver knows by token (static token file: `token,user,uid,"group1,group2"`). */
export interface ApiUser {
  name: string;
  groups: string[];
}

/** The user a ServiceAccount's token authenticates as, with the groups Kubernetes gives it. */
export function serviceAccountUser(namespace: string, name: string): ApiUser {
  return { name: `system:serviceaccount:${namespace}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`] };
}

export const ADMIN: ApiUser = { name: 'admin', groups: ['system:masters'] };

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface StartOptions {
  /** Users besides ADMIN (e.g. the chart's ServiceAccounts). */
  users?: readonly ApiUser[];
  /** Start kube-controller-manager with these controllers at once (see KubeApiServer.startControllers). */
  controllers?: readonly string[];
}

export interface KubeApiServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** Path of a kubeconfig for this user (ADMIN when omitted). */
  kubeconfig(user?: ApiUser): string;
  /** The project's client (the client-node adapter) authenticated as this user. */
  client(user?: ApiUser, options?: { userAgent?: string }): KubeClient;
  /** The kubectl v1.20.2 built beside the apiserver, as this user; never throws on a non-zero exit. */
  kubectl(args: readonly string[], options?: { user?: ApiUser; input?: string }): Promise<KubectlResult>;
  /** Every request the apiserver audited so far (metadata level: user, User-Agent, verb, object, status code). */
  audit(): AuditEvent[];
  /** A plain HTTPS request as this user (Accept/Content-Type JSON unless given): for raw API checks such as tables. */
  request(path: string, init?: { method?: string; body?: string; headers?: Record<string, string>; user?: ApiUser }): Promise<{ status: number; body: unknown }>;
  /**
   * Starts kube-controller-manager with these controllers (e.g. ['garbagecollector', 'namespace']) and waits until
   * the garbage collector's monitors synced. Start it after the CRDs whose objects it must collect: it rediscovers
   * resources only every 30 s.
   */
  startControllers(controllers: readonly string[]): Promise<void>;
  /** Stops kube-controller-manager, the apiserver, etcd; removes the directory. */
  stop(): Promise<void>;
}

const AUDIT_POLICY = [
  'apiVersion: audit.k8s.io/v1', 'kind: Policy', 'omitStages: ["RequestReceived"]',
  'rules:', '- level: Metadata', '',
].join('\n');

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
}

function launch(name: string, bin: string, args: string[], logFile: string): Proc {
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return { name, child, log: logFile };
}

function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM, then SIGKILL after `graceMs` (these servers are throwaway: nothing they hold must survive). */
async function terminate(p: Proc | undefined, graceMs: number): Promise<void> {
  if (!p || !alive(p)) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${r.stderr}`);
}

async function waitFor(what: string, procs: readonly Proc[], ok: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await ok()) return;
    const dead = procs.find((p) => !alive(p));
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${tail(dead.log)}`);
    if (Date.now() > until) throw new Error(`${what} not ready within ${ms} ms:\n${procs.map((p) => `--- ${p.name}\n${tail(p.log, 15)}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts etcd and kube-apiserver (and kube-controller-manager when asked); resolves once /readyz answers ok. */
export async function startKubeApiServer(opts: StartOptions = {}): Promise<KubeApiServer> {
  if (NO_APISERVER) throw new Error(NO_APISERVER);
  // etcd's data on tmpfs when there is one: fsyncs on a shared disk are most of a cold start's time.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'tm-kube-'));
  const procs: Proc[] = [];
  // A test process that dies without afterAll must not leave an apiserver running: kill what is left at exit.
  const killLeft = (): void => {
    for (const p of procs) if (alive(p)) p.child.kill('SIGKILL');
  };
  process.once('exit', killLeft);
  try {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=kube-apiserver', '-keyout', join(dir, 'tls.key'),
      '-out', join(dir, 'tls.crt'), '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    openssl(['genrsa', '-out', join(dir, 'sa.key'), '2048']);
    const users = [ADMIN, ...(opts.users ?? [])];
    const tokens = new Map(users.map((u) => [u.name, randomBytes(16).toString('hex')]));
    writeFileSync(join(dir, 'tokens.csv'), users.map((u, i) => `${tokens.get(u.name) ?? ''},${u.name},uid-${i},"${u.groups.join(',')}"`).join('\n') + '\n');
    writeFileSync(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    procs.push(launch('etcd', 'etcd', ['--data-dir', join(dir, 'etcd'), '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `default=${peerUrl}`], join(dir, 'etcd.log')));
    const url = `https://127.0.0.1:${apiPort}`;
    procs.push(launch('kube-apiserver', join(KUBE_BIN, 'kube-apiserver'), [
      '--etcd-servers', etcdUrl, '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(apiPort),
      // 1.20 otherwise serves unauthenticated admin access on 127.0.0.1:8080.
      '--insecure-port', '0', '--tls-cert-file', join(dir, 'tls.crt'), '--tls-private-key-file', join(dir, 'tls.key'),
      '--token-auth-file', join(dir, 'tokens.csv'), '--authorization-mode', 'RBAC', '--service-cluster-ip-range', '10.0.0.0/24',
      '--service-account-issuer', 'https://kubernetes.default.svc', '--service-account-key-file', join(dir, 'sa.key'),
      '--service-account-signing-key-file', join(dir, 'sa.key'), '--endpoint-reconciler-type', 'none',
      // Open requests (watches) hold a stopping apiserver for up to --request-timeout: keep it short.
      '--request-timeout', '10s', '--enable-priority-and-fairness=false',
      '--audit-policy-file', join(dir, 'audit-policy.yaml'), '--audit-log-path', join(dir, 'audit.log'), '--audit-log-format', 'json',
      '--audit-log-mode', 'blocking',
    ], join(dir, 'apiserver.log')));
    const kubeconfigs = new Map<string, string>();
    for (const u of users) {
      const file = join(dir, `kubeconfig-${u.name.replace(/[^a-z0-9-]/gi, '_')}`);
      writeFileSync(file, [
        'apiVersion: v1', 'kind: Config',
        `clusters: [{name: t, cluster: {server: "${url}", certificate-authority: "${join(dir, 'tls.crt')}"}}]`,
        `users: [{name: u, user: {token: "${tokens.get(u.name) ?? ''}"}}]`,
        'contexts: [{name: t, context: {cluster: t, user: u}}]', 'current-context: t', '',
      ].join('\n'));
      kubeconfigs.set(u.name, file);
    }
    const ca = readFileSync(join(dir, 'tls.crt'));
    const request: KubeApiServer['request'] = async (path, init = {}) => {
      const token = tokens.get((init.user ?? ADMIN).name) ?? '';
      const { request: httpsRequest } = await import('node:https');
      return new Promise((resolve, reject) => {
        const req = httpsRequest(`${url}${path}`, {
          method: init.method ?? 'GET', ca,
          headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': 'application/json', ...init.headers },
        }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => {
            const text = Buffer.concat(parts).toString('utf8');
            let body: unknown = text;
            try { body = JSON.parse(text); } catch { /* not JSON */ }
            resolve({ status: res.statusCode ?? 0, body });
          });
        });
        req.on('error', reject);
        req.end(init.body);
      });
    };
    await waitFor('kube-apiserver /readyz', procs, async () => {
      try {
        return (await request('/readyz')).status === 200;
      } catch {
        return false;
      }
    }, 90_000);
    const kubeconfig = (user: ApiUser = ADMIN): string => {
      const file = kubeconfigs.get(user.name);
      if (!file) throw new Error(`no such user ${user.name}: pass it in StartOptions.users`);
      return file;
    };
    const startControllers = async (controllers: readonly string[]): Promise<void> => {
      if (procs.some((p) => p.name === 'kube-controller-manager')) throw new Error('kube-controller-manager is already running');
      const kcm = launch('kube-controller-manager', join(KUBE_BIN, 'kube-controller-manager'), [
        '--kubeconfig', kubeconfig(), '--controllers', controllers.join(','), '--leader-elect=false',
        '--port', '0', '--secure-port', '0', '--use-service-account-credentials=false',
      ], join(dir, 'controller-manager.log'));
      procs.push(kcm);
      // The garbage collector builds its monitors from discovery at start (then every 30 s): wait until it synced.
      await waitFor('kube-controller-manager', [kcm], () => Promise.resolve(/[Gg]arbage ?collector.*(synced|all resource monitors have synced)/.test(tail(kcm.log, 400))), 60_000);
    };
    if (opts.controllers?.length) await startControllers(opts.controllers);
    return {
      url,
      kubeconfig,
      client: (user = ADMIN, o = {}) => createKubeClient(loadKubeConfig({ kind: 'file', path: kubeconfig(user) }), o),
      kubectl: (args, o = {}) => new Promise((resolve) => {
        const child = spawn(join(KUBE_BIN, 'kubectl'), ['--kubeconfig', kubeconfig(o.user), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(o.input ?? '');
      }),
      audit: () => parseAudit(existsSync(join(dir, 'audit.log')) ? readFileSync(join(dir, 'audit.log'), 'utf8') : ''),
      request,
      startControllers,
      stop: async () => {
        for (const p of [...procs].reverse()) await terminate(p, p.name === 'etcd' ? 5000 : 3000);
        process.removeListener('exit', killLeft);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const p of [...procs].reverse()) await terminate(p, 1000);
    process.removeListener('exit', killLeft);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
