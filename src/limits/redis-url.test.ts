import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors/catalogue.js';
import { parseRedisUrl } from './redis-url.js';

describe('parseRedisUrl', () => {
  it('parses one server, with TLS, credentials and database', () => {
    expect(parseRedisUrl('redis://localhost')).toEqual({ kind: 'standalone', host: 'localhost', port: 6379, db: 0, tls: false });
    expect(parseRedisUrl('rediss://user:p%40ss@redis.example:6380/2')).toEqual({
      kind: 'standalone', host: 'redis.example', port: 6380, db: 2, tls: true, username: 'user', password: 'p@ss',
    });
    expect(parseRedisUrl('redis://:secret@[::1]:7000')).toMatchObject({ host: '::1', port: 7000, password: 'secret' });
    expect(parseRedisUrl('redis://:secret@h')).not.toHaveProperty('username');
  });

  it('parses Sentinel URLs', () => {
    expect(parseRedisUrl('redis+sentinel://s1:26379,s2,s3:26380/mymaster')).toEqual({
      kind: 'sentinel', name: 'mymaster', db: 0, tls: false,
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: 's3', port: 26380 }],
    });
    expect(parseRedisUrl('rediss+sentinel://:pw@s1/m/3?sentinelPassword=sp')).toEqual({
      kind: 'sentinel', name: 'm', db: 3, tls: true, password: 'pw', sentinelPassword: 'sp', sentinels: [{ host: 's1', port: 26379 }],
    });
  });

  it('parses cluster seed nodes', () => {
    expect(parseRedisUrl('rediss://n1:7000,n2:7001', true)).toEqual({
      kind: 'cluster', tls: true, nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }],
    });
  });

  it.each([
    ['http://localhost', 'expected redis://'],
    ['redis://a,b', 'one host'],
    ['redis://h:0', 'bad port'],
    ['redis://h:99999', 'bad port'],
    ['redis://h/x', 'database number'],
    ['redis+sentinel://s1', 'mastername'],
    ['redis://h:1/0', 'no database number'],
  ])('rejects %s with a message naming the problem and hiding credentials', (url, why) => {
    const cluster = url === 'redis://h:1/0';
    expect(() => parseRedisUrl(url, cluster)).toThrow(why);
    expect(() => parseRedisUrl(url, cluster)).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }) as Error);
  });

  it('never echoes the password in errors', () => {
    expect(() => parseRedisUrl('redis://u:hunter2@h:0')).toThrow(/redis:\/\/\*\*\*@h:0/);
    expect(() => parseRedisUrl('redis://u:hunter2@h:0')).not.toThrow(/hunter2/);
  });
});
