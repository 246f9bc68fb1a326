import { createRequire } from 'node:module';
import type * as http2Types from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyStreamResetLimit, nodeSetsStreamResetLimit, streamResetLimit } from './stream-resets.js';

/** The http2 module object @grpc/grpc-js requires (a namespace import would be a frozen ESM copy). */
const http2 = createRequire(import.meta.url)('node:http2') as typeof http2Types;

describe('which Node reads streamResetBurst/streamResetRate', () => {
  it('22.10 and later, 23 and later; no 20.x (checked up to 20.20.2)', () => {
    expect(['20.20.2', '21.7.3', '22.9.0', '22.10.0', '22.23.5', '23.0.0', '24.22.3'].map((v) => nodeSetsStreamResetLimit(v)))
      .toEqual([false, false, false, true, true, true, true]);
  });
});

describe('streamResetLimit', () => {
  it('is a bucket of one second at the configured rate', () => {
    expect(streamResetLimit(10_000)).toEqual({ burst: 10_000, rate: 10_000 });
  });
});

describe('applyStreamResetLimit: the seam into @grpc/grpc-js', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('grpc-js hands the limit to http2.createServer when the server binds (fails if grpc-js changes how)', async () => {
    const createServer = vi.spyOn(http2, 'createServer');
    const server = new grpc.Server();
    expect(applyStreamResetLimit(server, { burst: 1234, rate: 567 }, '24.0.0')).toBe('applied');
    await new Promise<void>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    server.forceShutdown();
    expect(createServer).toHaveBeenCalledTimes(1);
    expect(createServer.mock.calls[0]?.[0]).toMatchObject({ streamResetBurst: 1234, streamResetRate: 567 });
  });

  it('says when this Node ignores the options, and when grpc-js has no object to put them in', () => {
    expect(applyStreamResetLimit(new grpc.Server(), streamResetLimit(100), '20.20.2')).toBe('node-ignores');
    const changed = { commonServerOptions: undefined } as unknown as grpc.Server;
    expect(applyStreamResetLimit(changed, streamResetLimit(100))).toBe('grpc-internals-changed');
  });
});
