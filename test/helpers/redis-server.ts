/**
 * A real redis-server for tests: free loopback port, temp dir, no persistence. It can be stopped, killed (-9),
 * paused (SIGSTOP: a hung server), resumed and restarted on the same port.
 *
 * Without redis-server on PATH the Redis tests fail in CI (CI=true) and are skipped loudly elsewhere:
 *   describe.skipIf(skipWithoutRedis())('…', () => { … })
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

const BINARY = 'redis-server';

let availability: { ok: true } | { ok: false; reason: string } | undefined;

function checkAvailable(): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (r.error) return { ok: false, reason: `${BINARY} not runnable (${r.error.message})` };
  if (r.status !== 0) return { ok: false, reason: `${BINARY} --version exited with ${r.status}` };
  return { ok: true };
}

/** True when the Redis tests must be skipped (and says so); throws in CI, where they must run. */
export function skipWithoutRedis(): boolean {
  availability ??= checkAvailable();
  if (availability.ok) return false;
  const why = `${availability.reason}; install it (Debian/Ubuntu: apt-get install redis-server)`;
  if (process.env.CI === 'true') throw new Error(`Redis tests cannot be skipped in CI: ${why}`);
  console.warn(`\n*** SKIPPING Redis tests: ${why} ***\n`);
  return true;
}

/** One PING over a raw socket: resolves true on +PONG. */
async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(200, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** The process is running and not paused. */
  readonly running: boolean;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL (kill -9) and wait for exit. */
  kill(): Promise<void>;
  /** SIGSTOP: the server keeps its socket but answers nothing (a hung or partitioned Redis). */
  pause(): void;
  resume(): void;
  /** Start again on the same port (empty: nothing was persisted). */
  restart(): Promise<void>;
  /** Stop and remove the temp dir. */
  close(): Promise<void>;
}

/**
 * Starts redis-server; with `sentinelFor`, a Sentinel monitoring the master on that port as "mymaster"; with
 * `cluster`, a cluster-enabled node (the test assigns slots: CLUSTER ADDSLOTSRANGE 0 16383).
 */
export async function startRedisServer(opts: { sentinelFor?: number; cluster?: boolean; binary?: string } = {}): Promise<RedisServer> {
  const binary = opts.binary ?? BINARY;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tm-redis-'));
  let args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  if (opts.cluster === true) {
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1');
  }
  if (opts.sentinelFor !== undefined) {
    const conf = join(dir, 'sentinel.conf'); // Sentinel rewrites its config file: it must be writable
    writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor mymaster 127.0.0.1 ${opts.sentinelFor} 1`,
      'sentinel down-after-milliseconds mymaster 1000', '',
    ].join('\n'));
    args = [conf, '--sentinel'];
  }
  let child: ChildProcess | undefined;
  let paused = false;

  const launch = async (): Promise<void> => {
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    let exited = false;
    let spawnError: Error | undefined;
    proc.once('exit', () => (exited = true));
    // Without a listener, a missing binary (spawn ENOENT) is an unhandled 'error' event that kills the process.
    proc.once('error', (err) => {
      spawnError = err;
      exited = true;
    });
    child = proc;
    const until = Date.now() + 5000;
    while (!(await ping(port))) {
      if (spawnError) throw new Error(`${binary} could not be started: ${spawnError.message}`, { cause: spawnError });
      if (exited) throw new Error(`redis-server exited at start:\n${output}`);
      if (Date.now() > until) throw new Error(`redis-server did not answer PING on ${port} within 5 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    if (paused && sig !== 'SIGKILL') proc.kill('SIGCONT');
    proc.kill(sig);
    paused = false;
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null && !paused;
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    pause: () => {
      child?.kill('SIGSTOP');
      paused = true;
    },
    resume: () => {
      child?.kill('SIGCONT');
      paused = false;
    },
    restart: async () => {
      await signal('SIGTERM');
      await launch();
    },
    close: async () => {
      await signal('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
