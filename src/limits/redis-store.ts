/**
 * Redis counter store: budgets shared by several ext_proc replicas. The only module of src/limits doing network I/O.
 *
 * One round trip per reserve and per settle: each is one Lua script (EVALSHA; EVAL the first time on a connection
 * and on NOSCRIPT) over the counters of one hash tag. Counters with different tags are reserved by one script per
 * tag, sent together; if any is blocked or fails the others are cancelled by a compensating script (cross-slot
 * atomicity is best effort: another request may briefly see the cancelled amounts). Key layout: ./redis-scripts.ts.
 *
 * Failure: no offline queue, no retries of in-flight commands, a per-command timeout, reconnect with capped
 * exponential backoff. While Redis cannot answer every call fails fast with TokenmeterError STORE_UNAVAILABLE
 * (cause kept); the caller applies the policy's failureMode.
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import { CANCEL_LUA, PEEK_LUA, RESERVE_LUA, SETTLE_LUA } from './redis-scripts.js';
import { parseRedisUrl, type RedisTarget } from './redis-url.js';
import {
  checkReserveRequest, checkSettleAmounts, type CounterRef, type CounterStore, type ReserveRequest, type ReserveResult,
} from './store.js';

export interface RedisStoreOptions {
  /** redis://, rediss://, redis+sentinel://, rediss+sentinel:// (see ./redis-url.ts), or the parsed form. */
  url: string | RedisTarget;
  /** Treat the URL's hosts as Redis Cluster seed nodes. */
  cluster?: boolean;
  /** Per-command timeout (ms). Default 250. */
  commandTimeoutMs?: number;
  /** TCP connect timeout (ms). Default 1000. */
  connectTimeoutMs?: number;
  /** Reconnect backoff: base * 2^(attempt-1), capped. Defaults 50 and 2000 ms. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Keys expire this long after their window ends (clock skew between replicas and Redis). Default 60 s. */
  keySlackMs?: number;
  /** Key prefix. Default "tm". */
  keyPrefix?: string;
  /** How long a settled reservation is remembered in Redis so a retried settle counts once. Default 10 min. */
  settledMarkerTtlMs?: number;
  /** A reservation released by expiry can still be settled (charged once) for this long. Default 1 h. */
  lateSettleMs?: number;
  /** Hash tag for counters without one. Default "tm". */
  defaultHashTag?: string;
  /** Called when the connection becomes usable (true) or stops being usable (false, with the last error). */
  onHealthChange?: (healthy: boolean, error?: Error) => void;
}

interface Script {
  name: string;
  lua: string;
  sha: string;
}

const script = (name: string, lua: string): Script => ({ name, lua, sha: createHash('sha1').update(lua).digest('hex') });
const SCRIPTS = {
  reserve: script('reserve', RESERVE_LUA), settle: script('settle', SETTLE_LUA),
  cancel: script('cancel', CANCEL_LUA), peek: script('peek', PEEK_LUA),
};

/** The counters of one hash tag: one script call. */
interface Group {
  indices: number[];
  /** c1, e1, …, cn, en (and x for reservations). */
  keys: string[];
  windowEnds: number[];
}

interface Held {
  groups: Group[];
  /** Forgotten from then on: the latest window end, or expiry + lateSettleMs if earlier. */
  dropAtMs: number;
}

function unavailable(op: string, err: unknown): TokenmeterError {
  if (err instanceof TokenmeterError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new TokenmeterError(ErrorCodes.STORE_UNAVAILABLE, `redis ${op} failed: ${msg}`, { cause: err });
}

function strings(reply: unknown, op: string, min: number): string[] {
  const out: string[] = [];
  if (Array.isArray(reply)) for (const v of reply as unknown[]) if (typeof v === 'string') out.push(v);
  if (!Array.isArray(reply) || out.length !== reply.length || out.length < min) {
    throw unavailable(op, new Error(`unexpected reply ${JSON.stringify(reply)}`));
  }
  return out;
}

export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis' as const;
  private readonly client: Redis | Cluster;
  private readonly slack: number;
  private readonly markerTtl: number;
  private readonly lateSettle: number;
  private readonly prefix: string;
  private readonly defaultTag: string;
  private readonly onHealthChange: ((healthy: boolean, error?: Error) => void) | undefined;
  /** Scripts sent with EVAL since the connection became ready (then EVALSHA). */
  private readonly loaded = new Set<string>();
  /** Reservations made by this process, until settled or their windows end (settle needs their keys). */
  private readonly held = new Map<string, Held>();
  private nextSweepMs = -Infinity;
  private isHealthy = false;
  private lastError: Error | undefined;

  constructor(options: RedisStoreOptions) {
    const target = typeof options.url === 'string' ? parseRedisUrl(options.url, options.cluster) : options.url;
    this.slack = options.keySlackMs ?? 60_000;
    this.markerTtl = Math.max(1, Math.ceil(options.settledMarkerTtlMs ?? 600_000));
    this.lateSettle = options.lateSettleMs ?? 3_600_000;
    this.prefix = options.keyPrefix ?? 'tm';
    this.defaultTag = options.defaultHashTag ?? 'tm';
    this.onHealthChange = options.onHealthChange;
    this.client = createClient(target, options);
    this.client.on('ready', () => {
      this.loaded.clear();
      this.setHealthy(true);
    });
    this.client.on('error', (err: Error) => {
      this.lastError = err;
    });
    this.client.on('close', () => this.setHealthy(false));
    this.client.on('end', () => this.setHealthy(false));
  }

  /** Whether the connection is ready now. */
  get healthy(): boolean {
    return this.isHealthy;
  }

  /** Resolves true once connected (false after `timeoutMs`). */
  async waitReady(timeoutMs: number): Promise<boolean> {
    if (this.isHealthy) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.on('ready', onReady);
    });
  }

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    checkReserveRequest(req);
    this.sweep(req.nowMs);
    const groups = this.group(req.counters, req.id);
    const calls = groups.map((g) => this.run(SCRIPTS.reserve, g.keys, [
      req.id, req.nowMs, req.nowMs + req.reservationTtlMs, req.force === true ? 1 : 0, this.slack,
      ...g.indices.flatMap((i) => { const c = req.counters[i]; return c ? [c.amount, c.limit, c.windowEndMs] : []; }),
    ]).then((r) => strings(r, 'reserve', 2 + 2 * g.indices.length)));
    const settled = await Promise.allSettled(calls);
    const used: number[] = new Array<number>(req.counters.length).fill(0);
    const settledUsage: number[] = new Array<number>(req.counters.length).fill(0);
    let blocked = Infinity;
    let exceeded = Infinity;
    let failure: unknown;
    settled.forEach((s, gi) => {
      const g = groups[gi] as Group;
      if (s.status === 'rejected') return void (failure ??= s.reason);
      const [ok, index = '0', ...u] = s.value;
      g.indices.forEach((ci, k) => {
        used[ci] = Number(u[k]);
        settledUsage[ci] = Number(u[g.indices.length + k]);
      });
      const at = Number(index) > 0 ? (g.indices[Number(index) - 1] ?? Infinity) : Infinity;
      if (ok === '1') exceeded = Math.min(exceeded, at);
      else blocked = Math.min(blocked, at);
    });
    if (failure === undefined && blocked === Infinity) {
      const lastEnd = Math.max(...req.counters.map((c) => c.windowEndMs));
      this.held.set(req.id, { groups, dropAtMs: Math.min(lastEnd, req.nowMs + req.reservationTtlMs + this.lateSettle) });
      return exceeded === Infinity ? { ok: true, used } : { ok: true, used, exceeded };
    }
    // Some group failed or was blocked: cancel the groups that reserved (best effort; they expire anyway).
    const cancels = settled.map((s, gi) => {
      const g = groups[gi] as Group;
      if (s.status === 'rejected' || s.value[0] !== '1') return Promise.resolve();
      g.indices.forEach((ci) => (used[ci] = (used[ci] ?? 0) - (req.counters[ci]?.amount ?? 0)));
      return this.run(SCRIPTS.cancel, g.keys, [req.id, this.slack, ...g.windowEnds]).then(() => undefined, () => undefined);
    });
    await Promise.all(cancels);
    if (failure !== undefined) throw unavailable('reserve', failure);
    return { ok: false, blocked, used: used.map((u) => Math.max(0, u)), settled: settledUsage };
  }

  async settle(id: string, actual: number[], nowMs: number): Promise<void> {
    const held = this.held.get(id);
    if (!held) return;
    if (held.dropAtMs <= nowMs) {
      this.held.delete(id); // its windows ended, or too late to charge (see lateSettleMs)
      return;
    }
    checkSettleAmounts(actual, held.groups.reduce((n, g) => n + g.indices.length, 0), nowMs);
    await Promise.all(held.groups.map((g) => this.run(SCRIPTS.settle, g.keys, [
      id, nowMs, this.slack, this.markerTtl, ...g.indices.flatMap((ci, k) => [actual[ci] ?? 0, g.windowEnds[k] ?? 0]),
    ])));
    this.held.delete(id);
    this.sweep(nowMs);
  }

  async peek(counters: CounterRef[], nowMs: number): Promise<number[]> {
    const groups = this.group(counters, undefined);
    const used: number[] = new Array<number>(counters.length).fill(0);
    await Promise.all(groups.map(async (g) => {
      const reply = strings(await this.run(SCRIPTS.peek, g.keys, [nowMs, this.slack, ...g.windowEnds]), 'peek', g.indices.length);
      g.indices.forEach((ci, k) => (used[ci] = Number(reply[k])));
    }));
    return used;
  }

  async close(): Promise<void> {
    this.held.clear();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  /** Redis key names of a counter (hash, expiry set) — for tests and operators. */
  counterKeys(c: CounterRef): { hash: string; expiry: string } {
    const base = `${this.prefix}:{${this.tag(c)}}`;
    return { hash: `${base}:c:${c.windowEndMs}:${c.key}`, expiry: `${base}:e:${c.windowEndMs}:${c.key}` };
  }

  private tag(c: CounterRef): string {
    return c.hashTag !== undefined && c.hashTag !== '' ? c.hashTag : this.defaultTag;
  }

  private group(counters: CounterRef[], reservationId: string | undefined): Group[] {
    const byTag = new Map<string, Group>();
    counters.forEach((c, i) => {
      const tag = this.tag(c);
      let g = byTag.get(tag);
      if (!g) byTag.set(tag, (g = { indices: [], keys: [], windowEnds: [] }));
      const k = this.counterKeys(c);
      g.indices.push(i);
      g.keys.push(k.hash, k.expiry);
      g.windowEnds.push(c.windowEndMs);
    });
    if (reservationId !== undefined) {
      for (const [tag, g] of byTag) g.keys.push(`${this.prefix}:{${tag}}:x:${reservationId}`);
    }
    return [...byTag.values()];
  }

  private async run(s: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      if (!this.loaded.has(s.name)) {
        const reply: unknown = await this.client.eval(s.lua, keys.length, ...keys, ...args);
        this.loaded.add(s.name);
        return reply;
      }
      try {
        return await this.client.evalsha(s.sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
        return await this.client.eval(s.lua, keys.length, ...keys, ...args);
      }
    } catch (err) {
      throw unavailable(s.name, err);
    }
  }

  /** Forget reservations past their drop time (at most once a second). */
  private sweep(nowMs: number): void {
    if (nowMs < this.nextSweepMs) return;
    this.nextSweepMs = nowMs + 1000;
    for (const [id, h] of this.held) if (h.dropAtMs <= nowMs) this.held.delete(id);
  }

  private setHealthy(healthy: boolean): void {
    if (healthy === this.isHealthy) return;
    this.isHealthy = healthy;
    this.onHealthChange?.(healthy, healthy ? undefined : this.lastError);
  }
}

function createClient(target: RedisTarget, o: RedisStoreOptions): Redis | Cluster {
  const base = o.backoffBaseMs ?? 50;
  const max = o.backoffMaxMs ?? 2000;
  const backoff = (attempt: number): number => Math.min(max, base * 2 ** Math.min(attempt - 1, 20));
  const common: RedisOptions = {
    enableOfflineQueue: false, // fail fast while disconnected: no unbounded in-memory queue
    maxRetriesPerRequest: 0, // in-flight commands fail when the connection drops, never replayed
    commandTimeout: o.commandTimeoutMs ?? 250,
    connectTimeout: o.connectTimeoutMs ?? 1000,
    retryStrategy: backoff,
    enableReadyCheck: true,
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
  if (target.kind === 'cluster') {
    // No cluster ready check: ioredis sends it before "ready", which enableOfflineQueue=false rejects (never ready).
    const options: ClusterOptions = {
      enableOfflineQueue: false, clusterRetryStrategy: backoff, redisOptions: common, enableReadyCheck: false,
    };
    return new Cluster(target.nodes, options);
  }
  if (target.kind === 'sentinel') {
    return new Redis({
      ...common, sentinels: target.sentinels, name: target.name, db: target.db, sentinelRetryStrategy: backoff,
      ...(target.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
    });
  }
  return new Redis({ ...common, host: target.host, port: target.port, db: target.db });
}

/** Connects (in the background) to Redis; see RedisStoreOptions. */
export function createRedisStore(options: RedisStoreOptions): RedisCounterStore {
  return new RedisCounterStore(options);
}
