import { connect, type Settings } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { STREAM_WINDOW_BYTES, widenReceiveWindows } from './http2-window.js';

describe('the ext_proc server\'s HTTP/2 receive window', () => {
  it('is advertised wide, so Envoy can send an 8 MiB prompt without waiting for WINDOW_UPDATEs', async () => {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    expect(widenReceiveWindows(server)).toBe(true);
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      const window = await new Promise<number | undefined>((resolve) => {
        session.on('remoteSettings', (s: Settings) => {
          if (s.initialWindowSize !== 65_535) resolve(s.initialWindowSize);
        });
        setTimeout(() => resolve(session.remoteSettings.initialWindowSize), 2000).unref();
      });
      expect(window).toBe(STREAM_WINDOW_BYTES);
    } finally {
      session.close();
      server.forceShutdown();
    }
  });
  it('reports when grpc-js internals do not allow it', () => {
    expect(widenReceiveWindows(new grpc.Server())).toBe(false);
  });
});
