/**
 * Local mode policy source (the only I/O in src/policy): a TokenPolicy YAML file, or a directory of them (`*.yaml`,
 * `*.yml`, not recursive, dotfiles skipped, symlinks followed — a mounted ConfigMap works), read at start and re-read
 * on change: fs.watch on the directory (editors and ConfigMaps replace files rather than write them), falling back
 * to polling when fs.watch is unavailable, events debounced, reloads serialised, callbacks only when a file's text
 * changed.
 *
 * Errors never remove a policy: a file with any error (invalid policy, YAML syntax, unreadable) keeps the previous
 * good version of every policy it held that is not in its new valid set, and the errors are reported with the file
 * name. A file that no longer exists drops its policies. Policy names are unique across files: the first file (by
 * name) wins.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parsePolicies } from './parse.js';
import type { PolicyError, TokenPolicy } from './types.js';
import { policyKey } from './types.js';

export interface PolicySet {
  policies: TokenPolicy[];
  errors: PolicyError[];
  /** Keys (namespace/name) of policies kept from a previous good read because their file now has errors. */
  kept: string[];
  /** Files read, in order. */
  files: string[];
}

interface FileState {
  text: string | undefined;
  good: TokenPolicy[];
}

const YAML_FILE = /\.ya?ml$/i;

async function listFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (!s.isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => !n.startsWith('.') && YAML_FILE.test(n)).sort();
  const files: string[] = [];
  for (const n of names) {
    const full = join(path, n);
    if ((await stat(full).catch(() => undefined))?.isFile()) files.push(full);
  }
  return files;
}

function errorMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EACCES' ? 'permission denied' : String(err.message);
}

/** Reads `path` once. `previous` (per-file state of the last read) supplies the good policies kept on error. */
async function readSet(path: string, previous: ReadonlyMap<string, FileState>): Promise<{ set: PolicySet; state: Map<string, FileState> }> {
  const state = new Map<string, FileState>();
  const set: PolicySet = { policies: [], errors: [], kept: [], files: [] };
  let files: string[];
  try {
    files = await listFiles(path);
  } catch (e) {
    set.errors.push({ source: path, policy: '', path: '', message: `cannot read policies: ${errorMessage(e)}` });
    for (const [file, st] of previous) state.set(file, st); // keep everything
    files = [...previous.keys()];
    set.kept.push(...[...previous.values()].flatMap((st) => st.good.map(policyKey)));
    return finish(set, state, files);
  }
  for (const file of files) {
    const before = previous.get(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      set.errors.push({ source: file, policy: '', path: '', message: `cannot read: ${errorMessage(e)}` });
      state.set(file, { text: undefined, good: before?.good ?? [] });
      set.kept.push(...(before?.good ?? []).map(policyKey));
      continue;
    }
    const parsed = parsePolicies(text, file);
    set.errors.push(...parsed.errors);
    const good = [...parsed.policies];
    if (parsed.errors.length > 0 && before) {
      const fresh = new Set(good.map(policyKey));
      const keep = before.good.filter((p) => !fresh.has(policyKey(p)));
      good.push(...keep);
      set.kept.push(...keep.map(policyKey));
    }
    state.set(file, { text, good });
  }
  return finish(set, state, files);
}

function finish(set: PolicySet, state: Map<string, FileState>, files: string[]): { set: PolicySet; state: Map<string, FileState> } {
  const owner = new Map<string, string>();
  for (const file of files) {
    for (const p of state.get(file)?.good ?? []) {
      const key = policyKey(p);
      const first = owner.get(key);
      if (first !== undefined) {
        set.errors.push({ source: file, policy: key, path: 'metadata.name', message: `duplicate policy: already defined in ${first}` });
        continue;
      }
      owner.set(key, file);
      set.policies.push(p);
    }
  }
  set.files = files;
  return { set, state };
}

/** Reads a policy file or directory once. */
export async function loadPolicies(path: string): Promise<PolicySet> {
  return (await readSet(path, new Map())).set;
}

export interface WatchOptions {
  /** A file or a directory. */
  path: string;
  /** Called with the new set after each change that altered a file's text (not for the initial read). */
  onChange: (set: PolicySet) => void;
  /** Quiet time after the last event before re-reading. Default 200 ms. */
  debounceMs?: number;
  /** Poll instead of fs.watch (network file systems). Default false; polling is also the fallback. */
  poll?: boolean;
  /** Poll period. Default 2000 ms. */
  pollIntervalMs?: number;
  /** Receives errors thrown by onChange (the watcher keeps going). */
  onError?: (err: unknown) => void;
  /** How long a changed read must stay the same before it is applied. Default 25 ms. */
  settleMs?: number;
}

export interface PolicyWatcher {
  /** The current set (initial read, then each reload). */
  readonly current: PolicySet;
  /** Re-reads now (serialised with watch-triggered reloads); resolves to the set after the read. */
  reload(): Promise<PolicySet>;
  close(): void;
}

const SETTLE_MS = 25;

/** Reads `path`, then watches it; resolves once the initial read is done. */
export async function watchPolicies(opts: WatchOptions): Promise<PolicyWatcher> {
  let state = new Map<string, FileState>();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let running: Promise<PolicySet> | undefined;
  let again = false;

  const first = await readSet(opts.path, state);
  state = first.state;
  let current = first.set;

  const changed = (next: Map<string, FileState>): boolean =>
    next.size !== state.size || [...next].some(([f, st]) => state.get(f)?.text !== st.text);

  const sameTexts = (a: Map<string, FileState>, b: Map<string, FileState>): boolean =>
    a.size === b.size && [...a].every(([f, st]) => b.get(f)?.text === st.text);

  const readOnce = async (): Promise<PolicySet> => {
    let next = await readSet(opts.path, state);
    if (changed(next.state)) {
      // A file rewritten in place is empty or partial for a moment (truncate, then write): a changed read counts only
      // when a second read settleMs later agrees; otherwise the writer is still at it and a later reload retries.
      await new Promise((r) => setTimeout(r, opts.settleMs ?? SETTLE_MS));
      const confirm = await readSet(opts.path, state);
      if (!sameTexts(confirm.state, next.state)) {
        schedule();
        return current;
      }
      next = confirm;
    }
    const isNew = changed(next.state) || next.set.errors.length !== current.errors.length;
    state = next.state;
    current = next.set;
    if (isNew && !closed) {
      try {
        opts.onChange(current);
      } catch (e) {
        opts.onError?.(e);
      }
    }
    return current;
  };

  const reload = (): Promise<PolicySet> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let set = await readOnce();
      while (again && !closed) {
        again = false;
        set = await readOnce();
      }
      running = undefined;
      return set;
    })();
    return running;
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void reload(), opts.debounceMs ?? 200);
    timer.unref();
  };

  const startPolling = (): void => {
    poller = setInterval(schedule, opts.pollIntervalMs ?? 2000);
    poller.unref();
  };

  if (opts.poll) startPolling();
  else {
    const isDir = await stat(opts.path).then((s) => s.isDirectory(), () => false);
    const dir = isDir ? opts.path : dirname(opts.path);
    const name = basename(opts.path);
    try {
      watcher = watch(dir, { persistent: false }, (_event, file) => {
        if (isDir || file === null || file === name || file.startsWith('..')) schedule(); // ..data: ConfigMap swap
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
        if (!closed && !poller) startPolling();
      });
    } catch {
      startPolling();
    }
  }

  return {
    get current(): PolicySet {
      return current;
    },
    reload,
    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      if (poller) clearInterval(poller);
      watcher?.close();
    },
  };
}
