/**
 * Redis connection URLs (pure parsing, no I/O):
 *   redis://[user:pass@]host[:port][/db]                 one server (TLS: rediss://)
 *   redis+sentinel://[user:pass@]host:port,host:port/mastername[/db][?sentinelPassword=…]
 *                                                        Sentinel (TLS to master and sentinels: rediss+sentinel://)
 *   redis://host:port,host:port  with cluster: true      Redis Cluster seed nodes (TLS: rediss://)
 * user:pass are the Redis (master / cluster node) credentials, URL-encoded.
 */
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

export interface HostPort {
  host: string;
  port: number;
}

interface Common {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTarget =
  | (Common & { kind: 'standalone'; host: string; port: number; db: number })
  | (Common & { kind: 'sentinel'; sentinels: HostPort[]; name: string; db: number; sentinelPassword?: string })
  | (Common & { kind: 'cluster'; nodes: HostPort[] });

const URL_RE = /^(redis|rediss)(\+sentinel)?:\/\/(?:([^@/]*)@)?([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/i;

function bad(url: string, why: string): TokenmeterError {
  const shown = url.replace(/\/\/[^@/]*@/, '//***@');
  return new TokenmeterError(ErrorCodes.CONFIG_INVALID, `invalid Redis URL "${shown}": ${why}`);
}

function parseHosts(url: string, list: string, defaultPort: number): HostPort[] {
  return list.split(',').map((part) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(part.trim());
    if (!m) throw bad(url, `bad host "${part}"`);
    const port = m[3] === undefined ? defaultPort : Number(m[3]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(url, `bad port in "${part}"`);
    return { host: m[1] ?? m[2] ?? '', port };
  });
}

function parseDb(url: string, s: string | undefined): number {
  if (s === undefined || s === '') return 0;
  const db = Number(s);
  if (!Number.isInteger(db) || db < 0) throw bad(url, `bad database number "${s}"`);
  return db;
}

function credentials(url: string, userinfo: string | undefined): { username?: string; password?: string } {
  if (userinfo === undefined || userinfo === '') return {};
  const i = userinfo.indexOf(':');
  try {
    const user = decodeURIComponent(i < 0 ? userinfo : userinfo.slice(0, i));
    const pass = i < 0 ? undefined : decodeURIComponent(userinfo.slice(i + 1));
    // redis://:pass@host (no user) is the classic AUTH <password> form.
    return { ...(user !== '' ? { username: user } : {}), ...(pass !== undefined ? { password: pass } : {}) };
  } catch {
    throw bad(url, 'bad percent-encoding in credentials');
  }
}

/** Parses a Redis URL; `cluster` makes the host list the seed nodes of a Redis Cluster. Throws CONFIG_INVALID. */
export function parseRedisUrl(url: string, cluster = false): RedisTarget {
  const m = URL_RE.exec(url.trim());
  if (!m) throw bad(url, 'expected redis://, rediss://, redis+sentinel:// or rediss+sentinel://');
  const [, scheme = '', sentinel, userinfo, hostList = '', path = '', query = ''] = m;
  const common: Common = { tls: scheme.toLowerCase() === 'rediss', ...credentials(url, userinfo) };
  const segments = path.split('/').filter((s) => s !== '');
  const params = new URLSearchParams(query);
  if (sentinel) {
    if (cluster) throw bad(url, 'cluster and sentinel cannot be combined');
    const [name, db, ...rest] = segments;
    if (name === undefined || rest.length > 0) throw bad(url, 'expected /mastername[/db] after the sentinel hosts');
    const sentinelPassword = params.get('sentinelPassword') ?? undefined;
    return {
      ...common, kind: 'sentinel', sentinels: parseHosts(url, hostList, 26379), name: decodeURIComponent(name),
      db: parseDb(url, db), ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    };
  }
  const hosts = parseHosts(url, hostList, 6379);
  if (cluster) {
    if (segments.length > 0) throw bad(url, 'Redis Cluster has no database number');
    return { ...common, kind: 'cluster', nodes: hosts };
  }
  if (hosts.length !== 1 || segments.length > 1) throw bad(url, 'expected one host (several only with Sentinel or cluster)');
  const [only] = hosts as [HostPort];
  return { ...common, kind: 'standalone', host: only.host, port: only.port, db: parseDb(url, segments[0]) };
}
