/**
 * Running the external tools the kind suite needs (docker, kind, kubectl, helm): argument arrays through execFile
 * (never a shell), a timeout on every call, stdout/stderr captured, and one progress line per command. Also the
 * tool probe that decides whether the suite runs or is skipped, and `kubectl port-forward` as a managed process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export interface RunOptions {
  /** Kill the command (SIGKILL) after this long. Default 2 minutes. */
  timeoutMs?: number;
  /** Written to the command's stdin (then closed). */
  input?: string;
  cwd?: string;
  /** Extra environment variables. */
  env?: Readonly<Record<string, string>>;
  /** Throw a CommandError on a non-zero exit (default true). */
  check?: boolean;
  /** Do not print the progress line (probes, polling). */
  quiet?: boolean;
}

export interface RunResult {
  /** The command line as typed, for messages. */
  command: string;
  /** Exit code; 127 when the program is not on PATH, -1 when killed. */
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

export class CommandError extends Error {
  override name = 'CommandError';
  constructor(readonly result: RunResult) {
    const why = result.timedOut ? `timed out after ${(result.durationMs / 1000).toFixed(0)} s` : `exited with code ${result.code}`;
    super(`\`${result.command}\` ${why}\n${tail(result.stderr || result.stdout, 40)}`);
  }
}

/** The last `lines` lines of a text (command output in error messages). */
export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return (all.length > lines ? ['…', ...all.slice(-lines)] : all).join('\n');
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map(quote).join(' ');
}

export function log(message: string): void {
  console.log(`[e2e ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Runs `file args…` and resolves with its output; rejects with a CommandError on failure unless check is false. */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = commandLine(file, args);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const started = Date.now();
  if (!opts.quiet) log(`$ ${command}`);
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], {
      cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: timeoutMs, killSignal: 'SIGKILL',
      maxBuffer: 512 * 1024 * 1024, encoding: 'utf8', windowsHide: true,
    }, (err, stdout, stderr) => {
      const durationMs = Date.now() - started;
      let code = 0;
      let timedOut = false;
      let errText = stderr;
      if (err) {
        if (err.code === 'ENOENT') {
          code = 127;
          errText = `${file}: not found on PATH`;
        } else if (typeof err.code === 'number') {
          code = err.code;
        } else {
          code = -1;
          timedOut = err.killed === true;
          if (!errText) errText = err.message;
        }
      }
      const result: RunResult = { command, code, stdout, stderr: errText, durationMs, timedOut };
      if (!opts.quiet && durationMs > 5_000) log(`  done in ${(durationMs / 1000).toFixed(1)} s (exit ${code})`);
      if (code !== 0 && opts.check !== false) reject(new CommandError(result));
      else resolve(result);
    });
    child.stdin?.on('error', () => undefined); // a program that exits without reading its stdin
    child.stdin?.end(opts.input ?? '');
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Tool probe and the skip decision

export interface ToolStatus {
  ok: boolean;
  /** Version line, or why it is not usable. */
  detail: string;
}

export interface ToolProbe {
  docker: ToolStatus;
  kind: ToolStatus;
  kubectl: ToolStatus;
  helm: ToolStatus;
}

export type Runner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

const PROBES: Record<keyof ToolProbe, readonly string[]> = {
  // `docker info` talks to the engine: a docker CLI without a running daemon must count as "no Docker".
  docker: ['info', '--format', '{{.ServerVersion}}'],
  kind: ['version'],
  kubectl: ['version', '--client'],
  helm: ['version', '--short'],
};

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

/** Asks each tool for its version (docker: the engine's). Never throws. */
export async function probeTools(runner: Runner = run): Promise<ToolProbe> {
  const one = async (tool: keyof ToolProbe): Promise<ToolStatus> => {
    try {
      const r = await runner(tool, PROBES[tool], { timeoutMs: 30_000, check: false, quiet: true });
      if (r.code === 0) return { ok: true, detail: firstLine(r.stdout) || 'ok' };
      return { ok: false, detail: firstLine(r.stderr) || firstLine(r.stdout) || `exit code ${r.code}` };
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
  };
  const [docker, kind, kubectl, helm] = await Promise.all((['docker', 'kind', 'kubectl', 'helm'] as const).map(one));
  return { docker: docker as ToolStatus, kind: kind as ToolStatus, kubectl: kubectl as ToolStatus, helm: helm as ToolStatus };
}

export const SKIP_MESSAGE = 'Docker engine not available (docker info failed): the kind e2e suite needs Docker, kind, kubectl and helm';

export interface SuiteDecision {
  /** Skip the kind suite (Docker absent and not required). */
  skip: boolean;
  /** Printed before the suite: why it is skipped, or why it will fail. */
  notice?: string;
  /** Tools that are missing while Docker is present (the suite runs and its first step fails naming them). */
  missing: string[];
}

const INSTALL_HINTS: Record<string, string> = {
  kind: 'https://kind.sigs.k8s.io/docs/user/quick-start/#installation',
  kubectl: 'https://kubernetes.io/docs/tasks/tools/',
  helm: 'https://helm.sh/docs/intro/install/',
};

/**
 * No Docker engine: skip (there is nothing to run a cluster on), unless E2E_REQUIRE=1 makes that a failure. Docker
 * present but kind, kubectl or helm missing: run, and fail on the first step naming what to install — someone with
 * Docker who runs `npm run e2e` wants the suite, not a silent skip.
 */
export function suiteDecision(probe: ToolProbe, required: boolean): SuiteDecision {
  const missing = (['kind', 'kubectl', 'helm'] as const).filter((t) => !probe[t].ok)
    .map((t) => `${t} (${probe[t].detail}; install: ${INSTALL_HINTS[t] ?? ''})`);
  if (!probe.docker.ok) {
    const notice = `${SKIP_MESSAGE} [${probe.docker.detail}]`;
    return required
      ? { skip: false, notice: `E2E_REQUIRE=1 and ${notice}`, missing: [`docker (${probe.docker.detail})`, ...missing] }
      : { skip: true, notice: `SKIPPING the kind e2e suite: ${notice}`, missing };
  }
  if (missing.length > 0) return { skip: false, notice: `the kind e2e suite will fail: missing ${missing.join(', ')}`, missing };
  return { skip: false, missing };
}

// ---------------------------------------------------------------------------------------------------------------
// Polling

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Calls `attempt` until it returns a value (not undefined) or `timeoutMs` passes; then throws with `what` and the
 * last failure `attempt` reported through `note`.
 */
export async function poll<T>(what: string, timeoutMs: number, intervalMs: number, attempt: (note: (why: string) => void) => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = 'no attempt finished';
  const note = (why: string): void => {
    last = why;
  };
  for (;;) {
    try {
      const v = await attempt(note);
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > until) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last: ${last}`);
    await sleep(intervalMs);
  }
}

/**
 * `work`, or a rejection naming `what` once `ms` have passed. The work itself is not cancelled (its commands keep
 * their own timeouts); the point is that the caller's catch runs — vitest's test timeout fails the test without
 * ever settling the test function's promise.
 */
export function withDeadline<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not finished after ${Math.round(ms / 1000)} s (the command under way, if any, was left to its own timeout)`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------------------------
// kubectl port-forward

const FORWARDING = /Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/;

/** The local port from kubectl port-forward's first output line, or undefined. */
export function forwardedPort(output: string): number | undefined {
  const m = FORWARDING.exec(output);
  return m ? Number(m[1]) : undefined;
}

export interface PortForward {
  port: number;
  /** Whether the kubectl process is still running. */
  alive(): boolean;
  close(): void;
}

/** `kubectl port-forward TARGET :PORT` on 127.0.0.1 with a random local port; resolves once it is listening. */
export function portForward(kubectlArgs: readonly string[], target: string, remotePort: number, timeoutMs = 30_000): Promise<PortForward> {
  const args = [...kubectlArgs, 'port-forward', '--address', '127.0.0.1', target, `:${remotePort}`];
  log(`$ ${commandLine('kubectl', args)} &`);
  const child: ChildProcess = spawn('kubectl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kubectl port-forward ${target}: not listening after ${timeoutMs / 1000} s\n${tail(output, 20)}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      output += d.toString();
      const port = forwardedPort(output);
      if (port === undefined) return;
      clearTimeout(timer);
      resolve({
        port,
        alive: () => !exited,
        close: () => {
          if (!exited) child.kill('SIGTERM');
        },
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      exited = true;
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward ${target} exited with code ${code ?? 'null'}\n${tail(output, 20)}`));
    });
  });
}
