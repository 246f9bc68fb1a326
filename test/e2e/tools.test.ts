/**
 * The kind suite's plumbing that can be checked without Docker: running commands (argument arrays, timeouts,
 * captured output), the run-or-skip decision and its message, polling, kubectl port-forward's output, settings.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_EG_VERSION, e2eSettings } from './config.js';
import { chartSetFlags, setFlagsToValues } from './install.js';
import {
  CommandError, SKIP_MESSAGE, commandLine, forwardedPort, poll, probeTools, run, suiteDecision, tail, withDeadline, type RunResult, type ToolProbe,
} from './tools.js';

const node = process.execPath;

describe('run', () => {
  it('passes arguments as an array (no shell), captures stdout and stderr, feeds stdin', async () => {
    const r = await run(node, ['-e', 'process.stdin.pipe(process.stdout); console.error(process.argv[1])', '$(echo no shell) ; *'], { input: 'in\n', quiet: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('in\n');
    expect(r.stderr.trim()).toBe('$(echo no shell) ; *');
  });

  it('rejects with the command line, exit code and output tail on failure; or resolves when check is false', async () => {
    const err = await run(node, ['-e', 'console.error("boom"); process.exit(3)'], { quiet: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).message).toMatch(/exited with code 3\nboom/);
    expect((err as CommandError).result.code).toBe(3);
    const r = await run(node, ['-e', 'process.exit(4)'], { quiet: true, check: false });
    expect(r.code).toBe(4);
  });

  it('reports a program that is not on PATH as exit 127', async () => {
    const r = await run('tokenmeter-e2e-no-such-tool', ['--version'], { quiet: true, check: false });
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('tokenmeter-e2e-no-such-tool: not found on PATH');
  });

  it('kills a command that outlives its timeout', async () => {
    const r = await run(node, ['-e', 'setTimeout(() => {}, 60000)'], { quiet: true, check: false, timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeLessThan(10_000);
    await expect(run(node, ['-e', 'setTimeout(() => {}, 60000)'], { quiet: true, timeoutMs: 300 })).rejects.toThrow(/timed out after/);
  });

  it('prints command lines the way one would type them', () => {
    expect(commandLine('kubectl', ['wait', '--for=condition=Ready', 'tpol/x', '--for=jsonpath={.a}=True'])).toBe("kubectl wait --for=condition=Ready tpol/x '--for=jsonpath={.a}=True'");
    expect(tail('a\nb\nc\n', 2)).toBe('…\nb\nc');
  });
});

const ok = (detail: string) => ({ ok: true, detail });
const ALL: ToolProbe = { docker: ok('27.3.1'), kind: ok('kind v0.30.0'), kubectl: ok('Client Version: v1.34.0'), helm: ok('v3.19.0') };

describe('run or skip', () => {
  it('skips, with the message, when the Docker engine does not answer', () => {
    const probe = { ...ALL, docker: { ok: false, detail: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' } };
    const d = suiteDecision(probe, false);
    expect(d.skip).toBe(true);
    expect(d.notice).toBe(`SKIPPING the kind e2e suite: ${SKIP_MESSAGE} [Cannot connect to the Docker daemon at unix:///var/run/docker.sock]`);
    expect(SKIP_MESSAGE).toBe('Docker engine not available (docker info failed): the kind e2e suite needs Docker, kind, kubectl and helm');
  });

  it('E2E_REQUIRE=1 makes a missing Docker a failure instead of a skip', () => {
    const d = suiteDecision({ ...ALL, docker: { ok: false, detail: 'docker: not found on PATH' } }, true);
    expect(d.skip).toBe(false);
    expect(d.missing[0]).toBe('docker (docker: not found on PATH)');
  });

  it('runs when Docker is there, naming the other tools that are missing (the first step then fails)', () => {
    expect(suiteDecision(ALL, false)).toEqual({ skip: false, missing: [] });
    const d = suiteDecision({ ...ALL, kind: { ok: false, detail: 'kind: not found on PATH' } }, false);
    expect(d.skip).toBe(false);
    expect(d.missing).toEqual(['kind (kind: not found on PATH; install: https://kind.sigs.k8s.io/docs/user/quick-start/#installation)']);
  });

  it('probes docker with `docker info` (the engine, not just the CLI) and every tool with its version command', async () => {
    const calls: string[] = [];
    const fake = (file: string, args: readonly string[]): Promise<RunResult> => {
      calls.push(commandLine(file, args));
      const code = file === 'docker' ? 1 : 0;
      return Promise.resolve({ command: file, code, stdout: code === 0 ? `${file} 1.0\n` : '', stderr: code ? 'Cannot connect to the Docker daemon\nmore' : '', durationMs: 1, timedOut: false });
    };
    const probe = await probeTools(fake);
    expect(calls.sort()).toEqual(["docker info --format '{{.ServerVersion}}'", 'helm version --short', 'kind version', 'kubectl version --client']);
    expect(probe.docker).toEqual({ ok: false, detail: 'Cannot connect to the Docker daemon' });
    expect(probe.helm).toEqual({ ok: true, detail: 'helm 1.0' });
  });
});

describe('poll and port-forward output', () => {
  it('returns the first value, or times out naming what it waited for and the last reason', async () => {
    let n = 0;
    expect(await poll('three', 5000, 1, () => Promise.resolve(++n === 3 ? n : undefined))).toBe(3);
    await expect(poll('Godot', 30, 5, (note) => {
      note('not yet');
      return Promise.resolve(undefined);
    })).rejects.toThrow(/timed out after 0 s waiting for Godot; last: not yet/);
  });

  it('withDeadline passes a result or error through, and rejects naming the step when the work outlives it', async () => {
    expect(await withDeadline('quick', 5000, Promise.resolve(7))).toBe(7);
    await expect(withDeadline('failing', 5000, Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const slow = new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('too late')), 200));
    await expect(withDeadline('step "x"', 20, slow)).rejects.toThrow(/^step "x": not finished after 0 s/);
    await new Promise((r) => setTimeout(r, 300)); // the late rejection of `slow` is handled (no unhandled rejection)
  });

  it('reads the local port kubectl chose', () => {
    expect(forwardedPort('Forwarding from 127.0.0.1:43567 -> 10080\n')).toBe(43567);
    expect(forwardedPort('Forwarding from [::1]:43567 -> 10080\n')).toBeUndefined();
  });
});

describe('settings', () => {
  it('reads the environment knobs', () => {
    const d = e2eSettings({});
    expect(d).toMatchObject({ clusterName: 'tokenmeter-e2e', keepCluster: false, require: false, egVersion: DEFAULT_EG_VERSION, image: { repository: 'tokenmeter', tag: 'e2e' } });
    expect(d.kubeconfig).toMatch(/tokenmeter-e2e\.kubeconfig$/);
    expect(d.logDir).toMatch(/test\/e2e\/logs$/);
    const s = e2eSettings({ KEEP_CLUSTER: '1', E2E_CLUSTER_NAME: 'mine', E2E_EG_VERSION: 'v1.5.3', E2E_REQUIRE: 'true' });
    expect(s).toMatchObject({ clusterName: 'mine', keepCluster: true, require: true, egVersion: 'v1.5.3' });
  });

  it('sets replicas, flavour and timeout only for keys the chart has (its schema rejects unknown keys)', () => {
    const s = e2eSettings({});
    const base = ['--set', 'image.repository=tokenmeter', '--set', 'image.tag=e2e', '--set', 'image.pullPolicy=Never', '--set', 'serviceMonitor.enabled=true'];
    expect(chartSetFlags({}, s)).toEqual(base);
    const flags = chartSetFlags({ extproc: { replicas: 2 }, operator: { replicas: 2 }, gateway: { flavour: 'Istio', messageTimeout: '200ms' }, crds: { enabled: true } }, s);
    expect(flags).toEqual([
      ...base, '--set', 'extproc.replicas=1', '--set', 'operator.replicas=1', '--set', 'gateway.flavour=EnvoyGateway', '--set', 'crds.enabled=false',
      '--set', 'gateway.messageTimeout=2s',
    ]);
    expect(setFlagsToValues(flags)).toEqual({
      image: { repository: 'tokenmeter', tag: 'e2e', pullPolicy: 'Never' }, serviceMonitor: { enabled: true },
      extproc: { replicas: 1 }, operator: { replicas: 1 }, gateway: { flavour: 'EnvoyGateway', messageTimeout: '2s' }, crds: { enabled: false },
    });
});
});
