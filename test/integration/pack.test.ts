/**
 * The runtime bundle, proven without a Docker engine (none on this machine):
 * 1. The Docker build stage: the files the Dockerfile's build stage COPYs, filtered by .dockerignore (the rules
 *    implemented below, as Docker applies them), are copied to a temporary directory and built with
 *    `npm run build` there; `node_modules` is a symlink to the repository's (standing in for `npm ci`). Nothing in
 *    the repository is written (dist/ stays as it is for other tests).
 * 2. The npm package: the rest of the repository (test/, bench/, scripts, examples, …) is copied beside that build,
 *    `npm pack --json` packs what package.json "files" lists, the tarball must hold only runtime files, and it is
 *    installed into an empty directory with `npm install --omit=dev` (from the npm registry or cache).
 * 3. The installed package runs: `tokenmeter extproc` (the example TokenPolicy loaded) answers /healthz and /readyz
 *    and meters one request sent by the Envoy emulator; `tokenmeter operator` against the fake apiserver answers
 *    /healthz and /readyz and publishes the limits ConfigMap; both exit 0 on SIGTERM.
 * 4. The Dockerfile agrees: its final stage copies the package's runtime files plus production node_modules, runs
 *    the package's bin as UID 65532 and exposes the default ports.
 * Slow (about a minute: a TypeScript build and an npm install). A failed build or install fails with npm's output.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from '../../src/cli/runtime-flags.js';
import { loadConfig } from '../../src/config/config.js';
import type { KubeObject } from '../../src/k8s/client.js';
import { createEnvoyClient, runExchange } from '../envoy/emulator.js';
import { FakeApiServer } from '../helpers/fake-apiserver.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string; bin: Record<string, string>; files: string[]; dependencies: Record<string, string>; devDependencies: Record<string, string>;
};
const EXAMPLE_POLICY = join(ROOT, 'manifests/examples/tokenpolicy-tenant-budget.yaml');

// ---------- .dockerignore, as Docker reads it ----------

/** One .dockerignore pattern as a RegExp on slash-separated context paths (`*` `?` within a segment, `**` across). */
function patternRegExp(pattern: string): RegExp {
  let re = '';
  const p = pattern.replace(/^\/+/, '').replace(/\/+$/, '');
  for (let i = 0; i < p.length; i++) {
    const c = p[i] ?? '';
    if (p.startsWith('**/', i)) { re += '(?:.*/)?'; i += 2; } else if (p.startsWith('**', i)) { re += '.*'; i += 1; } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Docker's rule: the last pattern that matches the path or one of its parent directories decides; `!` re-includes.
 * Returns whether `path` is in the build context.
 */
function inContext(path: string, patterns: readonly string[]): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let included = true;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = patternRegExp(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) included = negate;
  }
  return included;
}

const DOCKERIGNORE = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

// ---------- the Dockerfile ----------

interface Instruction { cmd: string; args: string }
interface Stage { from: string; name?: string; ins: Instruction[] }

function dockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [cmd = '', ...rest] = line.split(/\s+/);
    const body = rest.join(' ');
    if (cmd === 'FROM') {
      const [image = '', , name] = body.replace(/\$\{(\w+)\}/g, (_m, k: string) => args.get(k) ?? '').split(/\s+/);
      stages.push({ from: image, ...(name ? { name } : {}), ins: [] });
    } else if (cmd === 'ARG' && stages.length === 0) {
      const [k = '', v = ''] = body.split('=');
      args.set(k, v);
    } else stages.at(-1)?.ins.push({ cmd, args: body });
  }
  return stages;
}

interface Copy { from?: string; sources: string[]; dest: string }
function copies(stage: Stage): Copy[] {
  return stage.ins.filter((i) => i.cmd === 'COPY').map((i) => {
    const words = i.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
  });
}

const STAGES = dockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const BUILD = STAGES[0] as Stage;
const FINAL = STAGES.at(-1) as Stage;

// ---------- helpers ----------

function walk(dir: string, skip: (rel: string) => boolean, base = dir): string[] {
  return readdirSync(dir).flatMap((f) => {
    const abs = join(dir, f);
    const rel = relative(base, abs).split('\\').join('/');
    if (skip(rel)) return [];
    return statSync(abs).isDirectory() ? walk(abs, skip, base) : [rel];
  });
}

function copyInto(dest: string, rels: readonly string[]): void {
  for (const rel of rels) {
    mkdirSync(dirname(join(dest, rel)), { recursive: true });
    copyFileSync(join(ROOT, rel), join(dest, rel));
  }
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TOKENMETER_') && k !== 'NODE_ENV'));
}

function run(cmd: string, args: string[], cwd: string, what: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 480_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${what} failed (${cmd} ${args.join(' ')} in ${cwd}, exit ${String(r.status)}${r.error ? `, ${r.error.message}` : ''}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

interface Running { child: ChildProcess; out: string[]; ready: Record<string, unknown> }

/** Starts the installed binary and waits for the log line `msg`; fails with its output if it exits first. */
async function start(bin: string, args: string[], msg: string): Promise<Running> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  const out: string[] = [];
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<Record<string, unknown>>((resolveLine, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no "${msg}" within 20 s:\n${out.join('\n')}\n${err}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        out.push(line);
        const rec = (() => { try { return JSON.parse(line) as Record<string, unknown>; } catch { return undefined; } })();
        if (rec?.msg === msg) { clearTimeout(timer); resolveLine(rec); }
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${bin} ${args.join(' ')} exited ${String(code)}:\n${out.join('\n')}\n${err}`)); });
  });
  return { child, out, ready };
}

async function stop(r: Running): Promise<number | null> {
  if (r.child.exitCode !== null) return r.child.exitCode;
  const exited = new Promise<number | null>((res) => r.child.once('exit', (code) => res(code)));
  r.child.kill('SIGTERM');
  return exited;
}

const portOf = (hostPort: unknown): number => Number(String(hostPort).split(':').at(-1));

/** Polls `fn` (sync or async) until it returns a value other than undefined. */
async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('container build context (.dockerignore) and Dockerfile', () => {
  it('the context leaves out node_modules, dist, .git, .tools, tests, fixtures and bench; keeps the build inputs', () => {
    const out = ['node_modules/yaml/package.json', 'dist/src/cli/main.js', '.git/HEAD', '.tools/bin/helm-render', 'test/fixtures/SOURCES.md',
      'test/integration/cli.test.ts', 'bench/run.ts', 'src/policy/parse.test.ts', 'src/policy/testdata/team-budgets.yaml', 'README.md', 'coverage/index.html'];
    const kept = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/cli/main.ts', 'proto/grpc/health/v1/health.proto', 'vocab/gemma3.spbpe.gz'];
    expect(out.filter((p) => inContext(p, DOCKERIGNORE))).toEqual([]);
    expect(kept.filter((p) => !inContext(p, DOCKERIGNORE))).toEqual([]);
    const srcFiles = walk(join(ROOT, 'src'), () => false).map((f) => `src/${f}`);
    expect(srcFiles.filter((f) => /\.ts$/.test(f) && !/\.test\.ts$/.test(f) && !f.includes('/testdata/') && !inContext(f, DOCKERIGNORE))).toEqual([]);
  });

  it('the ignore rules behave as Docker documents them', () => {
    expect(inContext('a/b.txt', ['*'])).toBe(false);
    expect(inContext('a/b.txt', ['*', '!a'])).toBe(true);
    expect(inContext('a/x/b.test.ts', ['**/*.test.ts'])).toBe(false);
    expect(inContext('b.test.ts', ['**/*.test.ts'])).toBe(false);
    expect(inContext('a/x/testdata/f', ['a/**/testdata'])).toBe(false);
    expect(inContext('a/testdata/f', ['a/**/testdata'])).toBe(false);
  });

  it('build stage: Node 24 bookworm-slim, npm ci, build, prune to production; its COPY sources are in the context', () => {
    expect(BUILD.from).toMatch(/^node:24(\.\d+){0,2}-bookworm-slim$/);
    const runs = BUILD.ins.filter((i) => i.cmd === 'RUN').map((i) => i.args).join(' && ');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm run build\b/);
    expect(runs).toMatch(/npm prune --omit=dev\b/);
    const sources = copies(BUILD).flatMap((c) => c.sources);
    expect(sources.filter((s) => !existsSync(join(ROOT, s)) || !inContext(s, DOCKERIGNORE))).toEqual([]);
  });

  it('final stage: distroless Node 24, non-root 65532, the package bin (with RUNTIME_NODE_FLAGS) as entrypoint, the default ports', () => {
    expect(FINAL.from).toMatch(/^gcr\.io\/distroless\/nodejs24-debian12:nonroot$/);
    expect(FINAL.ins.filter((i) => i.cmd === 'USER').map((i) => i.args)).toEqual(['65532:65532']);
    const entry = JSON.parse(FINAL.ins.find((i) => i.cmd === 'ENTRYPOINT')?.args ?? '[]') as string[];
    expect(entry).toEqual(['/nodejs/bin/node', ...RUNTIME_NODE_FLAGS, `/app/${PKG.bin.tokenmeter ?? ''}`]);
    expect(FINAL.ins.filter((i) => i.cmd === 'ENV').map((i) => i.args)).toEqual(Object.entries(RUNTIME_ENV).map(([k, v]) => `${k}=${v}`));
    expect(JSON.parse(FINAL.ins.find((i) => i.cmd === 'CMD')?.args ?? '[]')).toEqual(['extproc']);
    const extproc = loadConfig(['extproc'], {}).config;
    const operator = loadConfig(['operator'], {}).operator;
    const exposed = FINAL.ins.filter((i) => i.cmd === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number);
    expect(exposed).toEqual([extproc.grpc.port, extproc.admin.port, operator?.admin.port]);
    expect(FINAL.ins.some((i) => i.cmd === 'HEALTHCHECK')).toBe(false);
    const labels = FINAL.ins.filter((i) => i.cmd === 'LABEL').map((i) => i.args).join(' ');
    for (const l of ['title', 'description', 'licenses', 'version', 'revision']) expect(labels).toContain(`org.opencontainers.image.${l}=`);
  });

  it('final stage copies exactly the package runtime files and production node_modules from the build stage', () => {
    const final = copies(FINAL);
    expect(final.every((c) => c.from === BUILD.name)).toBe(true);
    const copied = final.flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, ''))).sort();
    const runtimeFiles = PKG.files.filter((f) => !['README.md', 'crds'].includes(f));
    expect(copied).toEqual([...runtimeFiles, 'node_modules', 'package.json'].sort());
    for (const c of final) expect(c.dest.replace(/^\.\//, '').replace(/^\/app\//, '')).toBe(c.sources[0]?.replace(/^\/app\//, ''));
  });
});

describe('npm package: packed, installed with production dependencies, run', () => {
  let work: string;
  let ctx: string;
  let install: string;
  let packed: { filename: string; files: { path: string }[] };
  let fake: FakeApiServer | undefined;
  const running: Running[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tm-pack-'));
    ctx = join(work, 'context');
    install = join(work, 'install');
    mkdirSync(ctx);
    mkdirSync(install);
    // 1. The build stage: exactly the files its COPY instructions take from the context.
    const sources = copies(BUILD).filter((c) => !c.from).flatMap((c) => c.sources);
    const topLevel = (rel: string): boolean => ['node_modules', '.git', 'dist', '.tools'].includes(rel);
    const all = walk(ROOT, topLevel);
    const buildInputs = all.filter((f) => inContext(f, DOCKERIGNORE) && sources.some((s) => f === s || f.startsWith(`${s}/`)));
    copyInto(ctx, buildInputs);
    symlinkSync(join(ROOT, 'node_modules'), join(ctx, 'node_modules'), 'dir');
    run('npm', ['run', '-s', 'build'], ctx, 'the image build stage (npm run build on the Docker context)');
    // 2. Everything else beside it, so the pack shows what "files" leaves out.
    copyInto(ctx, all.filter((f) => !buildInputs.includes(f)));
    mkdirSync(join(ctx, '.tools'));
    writeFileSync(join(ctx, '.tools/marker'), 'must not be packed\n');
    const json = run('npm', ['pack', '--json', '--pack-destination', work], ctx, 'npm pack');
    packed = (JSON.parse(json) as (typeof packed)[])[0] as typeof packed;
    writeFileSync(join(install, 'package.json'), JSON.stringify({ name: 'tokenmeter-pack-test', private: true }));
    run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', join(work, packed.filename)], install, 'npm install of the packed tarball');
  }, 900_000);

  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await fake?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000); // removing an installed node_modules takes a while on a loaded machine

  it('the tarball holds only runtime files: compiled dist/src, proto, vocab, crds, package.json, README, LICENSE', () => {
    const paths = packed.files.map((f) => f.path).sort();
    const runtime = /^(package\.json|README\.md|LICENSE|dist\/src\/.+\.js(\.map)?|dist\/src\/console\/assets\/[^/]+\.(css|svg|txt)|proto\/.+\.proto|vocab\/[^/]+\.(spbpe\.gz|md)|crds\/[^/]+\.yaml)$/;
    expect(paths.filter((p) => !runtime.test(p))).toEqual([]);
    expect(paths).toContain(PKG.bin.tokenmeter);
    expect(paths).toContain('crds/tokenmeter.dev_tokenpolicies.yaml');
    // The budget console's front end, built by npm run build (no CDN).
    expect(paths).toEqual(expect.arrayContaining(['dist/src/console/assets/console.js', 'dist/src/console/assets/console.css', 'dist/src/console/assets/LICENSES.txt']));
    const protos = walk(join(ROOT, 'proto'), () => false).map((f) => `proto/${f}`);
    expect(protos.filter((p) => !paths.includes(p))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['vocab/gemma.spbpe.gz', 'vocab/gemma3.spbpe.gz']));
    expect(paths.filter((p) => /(^|\/)(test|bench|\.tools|node_modules)\//.test(p) || /\.ts$/.test(p) || /\.test\.js/.test(p) || p.startsWith('src/'))).toEqual([]);
  });

  it('installs without dev dependencies, with the tokenmeter bin', () => {
    const nm = join(install, 'node_modules');
    expect(existsSync(join(nm, '.bin/tokenmeter'))).toBe(true);
    for (const dep of Object.keys(PKG.dependencies)) expect(existsSync(join(nm, dep, 'package.json')), dep).toBe(true);
    for (const dev of ['typescript', 'vitest', 'eslint', 'fast-check', '@marcbachmann/cel-js']) expect(existsSync(join(nm, dev)), dev).toBe(false);
  });

  it('every import in the packed code resolves inside the package or to a production dependency', () => {
    const pkgDir = join(install, 'node_modules', PKG.name);
    const bad: string[] = [];
    const packages = new Set<string>();
    for (const file of walk(pkgDir, (rel) => rel === 'node_modules').filter((f) => f.endsWith('.js'))) {
      const code = readFileSync(join(pkgDir, file), 'utf8');
      const specs = [
        ...code.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s*['"]([^'"]+)['"]/gm), // static import / re-export
        ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm), // side-effect import
        ...code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g), // dynamic import of a literal
      ].map((m) => m[1] ?? '');
      for (const spec of specs) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(join(pkgDir, file)), spec);
          if (!target.startsWith(pkgDir) || !existsSync(target)) bad.push(`${file}: ${spec}`);
        } else if (!spec.startsWith('node:')) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] ?? '';
          packages.add(name);
          if (!(name in PKG.dependencies)) bad.push(`${file}: ${spec} (not a dependency)`);
        }
      }
    }
    expect(bad).toEqual([]);
    expect([...packages]).toEqual(expect.arrayContaining(['@grpc/grpc-js', '@kubernetes/client-node', 'yaml', 'pino']));
  });

  it('tokenmeter extproc: health, readiness, the example policy loaded, one request metered', async () => {
    const r = await start(join(install, 'node_modules/.bin/tokenmeter'),
      ['extproc', '--grpc-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--policies', EXAMPLE_POLICY, '--shutdown-grace', '2'], 'tokenmeter extproc listening');
    running.push(r);
    const admin = `http://127.0.0.1:${portOf(r.ready.admin)}`;
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    expect(r.out.join('\n')).toContain('"policies":["llm-gateway/tenant-budget"]');

    const envoy = createEnvoyClient(`127.0.0.1:${portOf(r.ready.grpc)}`);
    const body = Buffer.from(JSON.stringify({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'hello there' }] }));
    const resp = Buffer.from(JSON.stringify({ model: 'gpt-4o', usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } }));
    const res = await runExchange(envoy, {
      path: '/v1/chat/completions', authority: 'api.openai.com', requestHeaders: { 'x-tenant-id': 'acme', 'content-type': 'application/json' },
      requestChunks: [body], status: 200, responseHeaders: { 'content-type': 'application/json' }, responseChunks: [resp],
    }, { requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED', messageTimeoutMs: 2000 });
    envoy.close();
    expect(Number(res.responseHeaderMutations['x-tokenmeter-input-tokens'])).toBeGreaterThan(0);
    expect(res.responseHeaderMutations['x-ratelimit-limit-tokens']).toBeDefined();
    expect(res.dynamicMetadata['io.tokenmeter']).toMatchObject({ input_tokens: 9, output_tokens: 3, total_tokens: 12 });
    expect(await stop(r)).toBe(0);
  });

  it('tokenmeter operator: health, readiness and the published limits against a (fake) Kubernetes API', async () => {
    fake = await FakeApiServer.start();
    const kubeconfig = join(work, 'kubeconfig');
    writeFileSync(kubeconfig, fake.kubeConfig().exportConfig());
    const policy = parse(readFileSync(EXAMPLE_POLICY, 'utf8')) as KubeObject & { spec: Record<string, unknown> };
    // The fake API serves no Gateways: the same policy without targetRefs (they would read TargetNotFound).
    fake.put({ ...policy, spec: { ...policy.spec, targetRefs: [] } });
    const r = await start(join(install, 'node_modules/.bin/tokenmeter'),
      ['operator', '--kubeconfig', kubeconfig, '--flavour', 'Envoy', '--admin-address', '127.0.0.1:0', '--lease-namespace', 'tokenmeter-system'], 'tokenmeter operator started');
    running.push(r);
    const admin = `http://127.0.0.1:${portOf(r.ready.admin)}`;
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    await until(async () => ((await fetch(`${admin}/readyz`)).status === 200 ? true : undefined), 'operator /readyz 200');
    const published = await until(() => fake?.get('v1', 'ConfigMap', 'tokenmeter-system', 'tokenmeter-policies'), 'limits ConfigMap published');
    expect((published.data as Record<string, string> | undefined)?.['policies.yaml']).toContain('tenant-budget');
    expect(await stop(r)).toBe(0);
  });
});
