/**
 * A real PostgreSQL server for tests and the bench: `initdb` into a temp dir, `postgres` on a free loopback port, no
 * fsync (tests, not durability), trust authentication on loopback only. It can be stopped (fast shutdown) and started
 * again on the same port with the same data, or killed.
 *
 * The binaries come from PATH, else Debian's /usr/lib/postgresql/<version>/bin. PostgreSQL refuses to run as root:
 * as root, the server runs as the `postgres` user (Debian's package creates it) and owns its temp dir.
 *
 * Without the binaries the PostgreSQL tests fail in CI (CI=true) and are skipped loudly elsewhere:
 *   describe.skipIf(skipWithoutPostgres())('…', () => { … })
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';

interface Binaries {
  initdb: string;
  postgres: string;
  /** Run as this uid/gid (root only). */
  user?: { uid: number; gid: number };
}

let found: { ok: true; bin: Binaries } | { ok: false; reason: string } | undefined;

function onPathOrDebian(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', name))) return join(root, v, 'bin', name);
  return undefined;
}

function locate(): { ok: true; bin: Binaries } | { ok: false; reason: string } {
  const initdb = onPathOrDebian('initdb');
  const postgres = onPathOrDebian('postgres');
  if (!initdb || !postgres) return { ok: false, reason: 'initdb/postgres not found on PATH or in /usr/lib/postgresql/*/bin' };
  if (process.getuid?.() !== 0) return { ok: true, bin: { initdb, postgres } };
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { ok: true, bin: { initdb, postgres, user: { uid: id('-u'), gid: id('-g') } } };
  } catch {
    return { ok: false, reason: 'running as root and there is no `postgres` user to run the server as' };
  }
}

/** True when the PostgreSQL tests must be skipped (and says so); throws in CI, where they must run. */
export function skipWithoutPostgres(): boolean {
  found ??= locate();
  if (found.ok) return false;
  const why = `${found.reason}; install it (Debian/Ubuntu: apt-get install postgresql)`;
  if (process.env.CI === 'true') throw new Error(`PostgreSQL tests cannot be skipped in CI: ${why}`);
  console.warn(`\n*** SKIPPING PostgreSQL tests: ${why} ***\n`);
  return true;
}

/** Why PostgreSQL is not available here (undefined: it is). Never throws. */
export function postgresUnavailable(): string | undefined {
  found ??= locate();
  return found.ok ? undefined : found.reason;
}

/** A real query answered (a listening socket is not enough: "the database system is starting up"). */
async function accepting(port: number): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 500 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PostgresServer {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly running: boolean;
  /** Fast shutdown (SIGINT) and wait for exit; the data is kept. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** Start again on the same port with the same data. */
  start(): Promise<void>;
  /** Immediate shutdown and remove the data directory. */
  close(): Promise<void>;
}

export async function startPostgresServer(opts: { maxConnections?: number } = {}): Promise<PostgresServer> {
  found ??= locate();
  if (!found.ok) throw new Error(found.reason);
  const bin = found.bin;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tm-pg-'));
  const data = join(dir, 'data');
  if (bin.user) chownSync(dir, bin.user.uid, bin.user.gid);
  const asUser = bin.user ? { uid: bin.user.uid, gid: bin.user.gid } : {};
  const init = spawnSync(bin.initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'], { encoding: 'utf8', cwd: dir, ...asUser });
  if (init.status !== 0) throw new Error(`initdb failed (${init.status}): ${init.stderr || init.error?.message}`);
  const args = ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off', '-c', `max_connections=${opts.maxConnections ?? 100}`, '-c', 'log_min_messages=warning'];
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const proc = spawn(bin.postgres, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...asUser });
    let output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    let exited = false;
    proc.once('exit', () => (exited = true));
    child = proc;
    const until = Date.now() + 15_000;
    while (!(await accepting(port))) {
      if (exited) throw new Error(`postgres exited at start:\n${output}`);
      if (Date.now() > until) throw new Error(`postgres did not listen on ${port} within 15 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(sig);
    await exited;
  };

  await launch();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    stop: () => signal('SIGINT'),
    kill: () => signal('SIGKILL'),
    start: launch,
    close: async () => {
      await signal('SIGQUIT'); // immediate shutdown: the postmaster takes its backends down with it
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
