import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadPolicies, watchPolicies, type PolicySet, type PolicyWatcher } from './file-source.js';
import { formatPolicyError } from './types.js';

const policy = (name: string, tokens = 100): string =>
  `apiVersion: tokenmeter.dev/v1alpha1\nkind: TokenPolicy\nmetadata: {name: ${name}}\nspec:\n  limits: [{name: l, tokens: ${tokens}, window: 1m}]\n`;

const tokensOf = (set: PolicySet): Record<string, number> =>
  Object.fromEntries(set.policies.map((p) => [p.name, p.limits[0]?.kind === 'tokens' ? p.limits[0].tokens : -1]));

let dir: string;
let watcher: PolicyWatcher | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tm-policies-'));
});

afterEach(async () => {
  watcher?.close();
  watcher = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A watcher whose changes are awaited one at a time. */
async function watched(path: string, poll = false): Promise<{ next: () => Promise<PolicySet> }> {
  const queue: PolicySet[] = [];
  let wake: (() => void) | undefined;
  watcher = await watchPolicies({
    path, poll, debounceMs: 20, pollIntervalMs: 30,
    onChange: (set) => {
      queue.push(set);
      wake?.();
    },
  });
  const next = async (): Promise<PolicySet> => {
    const deadline = Date.now() + 5000;
    while (queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no change seen');
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return queue.shift() as PolicySet;
  };
  return { next };
}

describe('loadPolicies', () => {
  it('reads a directory: *.yaml and *.yml in name order, dotfiles and other files skipped', async () => {
    await writeFile(join(dir, 'b.yml'), policy('b'));
    await writeFile(join(dir, 'a.yaml'), `${policy('a1')}---\n${policy('a2')}`);
    await writeFile(join(dir, '.hidden.yaml'), policy('hidden'));
    await writeFile(join(dir, 'notes.txt'), 'not yaml');
    await mkdir(join(dir, 'sub.yaml'));
    const set = await loadPolicies(dir);
    expect(set.errors).toEqual([]);
    expect(set.policies.map((p) => p.name)).toEqual(['a1', 'a2', 'b']);
    expect(set.files).toEqual([join(dir, 'a.yaml'), join(dir, 'b.yml')]);
  });

  it('reads one file, and reports errors with the file name', async () => {
    const file = join(dir, 'p.yaml');
    await writeFile(file, `${policy('ok')}---\n${policy('bad', 0)}`);
    const set = await loadPolicies(file);
    expect(set.policies.map((p) => p.name)).toEqual(['ok']);
    expect(set.errors.map(formatPolicyError)).toEqual([`${file}: bad: spec.limits[0].tokens: must be at least 1, got 0`]);
  });

  it('keeps the first of a name defined in two files', async () => {
    await writeFile(join(dir, 'a.yaml'), policy('same', 1));
    await writeFile(join(dir, 'b.yaml'), policy('same', 2));
    const set = await loadPolicies(dir);
    expect(tokensOf(set)).toEqual({ same: 1 });
    expect(set.errors.map(formatPolicyError)).toEqual([`${join(dir, 'b.yaml')}: same: metadata.name: duplicate policy: already defined in ${join(dir, 'a.yaml')}`]);
  });

  it('reports a missing path', async () => {
    const set = await loadPolicies(join(dir, 'nope'));
    expect(set.policies).toEqual([]);
    expect(set.errors.map(formatPolicyError)).toEqual([`${join(dir, 'nope')}: cannot read policies: no such file or directory`]);
  });
});

describe('watchPolicies', () => {
  it.each([false, true])('re-reads a directory on change (poll: %s); an invalid edit keeps the previous policy', async (poll) => {
    await writeFile(join(dir, 'a.yaml'), `${policy('a', 1)}---\n${policy('b', 1)}`);
    const { next } = await watched(dir, poll);
    expect(tokensOf(watcher?.current as PolicySet)).toEqual({ a: 1, b: 1 });

    await writeFile(join(dir, 'a.yaml'), `${policy('a', 2)}---\n${policy('b', 2)}`);
    expect(tokensOf(await next())).toEqual({ a: 2, b: 2 });

    // b becomes invalid: a is updated, b keeps its last good version, the error is reported
    await writeFile(join(dir, 'a.yaml'), `${policy('a', 3)}---\n${policy('b', 0)}`);
    const broken = await next();
    expect(tokensOf(broken)).toEqual({ a: 3, b: 2 });
    expect(broken.kept).toEqual(['b']);
    expect(broken.errors.map(formatPolicyError)).toEqual([`${join(dir, 'a.yaml')}: b: spec.limits[0].tokens: must be at least 1, got 0`]);

    // a YAML syntax error keeps everything from that file
    await writeFile(join(dir, 'a.yaml'), 'a: [1\n');
    const syntax = await next();
    expect(tokensOf(syntax)).toEqual({ a: 3, b: 2 });
    expect(syntax.errors[0]?.message).toMatch(/^invalid YAML: line 2, column 1: /);

    // a new file appears; the old one is removed
    await writeFile(join(dir, 'c.yaml'), policy('c', 7));
    await rm(join(dir, 'a.yaml'));
    let last = await next();
    while (last.files.length !== 1) last = await next();
    expect(tokensOf(last)).toEqual({ c: 7 });
    expect(last.errors).toEqual([]);
  });

  it('watches a single file replaced by rename (editors, ConfigMaps)', async () => {
    const file = join(dir, 'p.yaml');
    await writeFile(file, policy('p', 1));
    await writeFile(join(dir, 'other.yaml'), policy('other'));
    const { next } = await watched(file);
    expect(tokensOf(watcher?.current as PolicySet)).toEqual({ p: 1 });
    await writeFile(join(dir, 'p.yaml.tmp'), policy('p', 5));
    await rename(join(dir, 'p.yaml.tmp'), file);
    expect(tokensOf(await next())).toEqual({ p: 5 });
  });

  it('reload() reads now; no callback when nothing changed; none after close()', async () => {
    const file = join(dir, 'p.yaml');
    await writeFile(file, policy('p', 1));
    let calls = 0;
    watcher = await watchPolicies({ path: file, poll: true, pollIntervalMs: 10_000, onChange: () => calls++ });
    expect(tokensOf(await watcher.reload())).toEqual({ p: 1 });
    expect(calls).toBe(0);
    await writeFile(file, policy('p', 2));
    expect(tokensOf(await watcher.reload())).toEqual({ p: 2 });
    expect(calls).toBe(1);
    watcher.close();
    await writeFile(file, policy('p', 3));
    await watcher.reload();
    expect(calls).toBe(1);
  });

  it('does not apply a file caught mid-rewrite (empty for a moment): a changed read must settle first', async () => {
    const file = join(dir, 'p.yaml');
    await writeFile(file, policy('p', 1));
    const seen: Record<string, number>[] = [];
    // Wide margins so a loaded machine cannot reorder the steps: the first read happens well before the rewrite at
    // 100 ms, and the confirming read at 400 ms well after it.
    watcher = await watchPolicies({ path: file, poll: true, pollIntervalMs: 10_000, debounceMs: 20, settleMs: 400, onChange: (set) => seen.push(tokensOf(set)) });
    await writeFile(file, ''); // truncated, as writeFile does before writing
    const rewrite = new Promise<void>((resolve) => setTimeout(() => void writeFile(file, policy('p', 2)).then(resolve), 100));
    expect(tokensOf(await watcher.reload())).toEqual({ p: 1 }); // the empty read did not settle
    await rewrite;
    await vi.waitFor(() => expect(seen.length).toBeGreaterThan(0), { timeout: 5000, interval: 20 }); // the retry it scheduled
    expect(seen).toEqual([{ p: 2 }]);
  });

  it('reports errors thrown by the callback and keeps watching', async () => {
    const file = join(dir, 'p.yaml');
    await writeFile(file, policy('p', 1));
    const seen: unknown[] = [];
    watcher = await watchPolicies({
      path: file, poll: true, pollIntervalMs: 10_000,
      onChange: () => {
        throw new Error('boom');
      },
      onError: (e) => seen.push(e),
    });
    await writeFile(file, policy('p', 2));
    await watcher.reload();
    expect(seen).toEqual([new Error('boom')]);
    expect(tokensOf(watcher.current)).toEqual({ p: 2 });
  });

  it('keeps the last good set when the whole path disappears', async () => {
    const sub = join(dir, 'policies');
    await mkdir(sub);
    await writeFile(join(sub, 'p.yaml'), policy('p', 4));
    watcher = await watchPolicies({ path: sub, poll: true, pollIntervalMs: 10_000, onChange: () => undefined });
    await rm(sub, { recursive: true });
    const set = await watcher.reload();
    expect(tokensOf(set)).toEqual({ p: 4 });
    expect(set.kept).toEqual(['p']);
    expect(set.errors.map(formatPolicyError)).toEqual([`${sub}: cannot read policies: no such file or directory`]);
  });
});
