/**
 * Envoy ends every ext_proc stream with a half-close and an RST_STREAM (test/helpers/envoy-close-client.ts cites the
 * source). nghttp2's rapid-reset mitigation closes a connection that sends more than a burst of 1,000 resets refilled
 * at 33/s, so a gateway metering more than 33 requests/s on one connection lost it after ~1,150 requests. These tests
 * drive one connection well above that rate and well past the burst, then count GOAWAYs and failed streams and send
 * one probe stream once the server has read every reset: nothing here depends on how fast the machine is.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSetsStreamResetLimit } from '../../src/extproc/stream-resets.js';
import { connectEnvoyCloseClient, pacedExchanges } from '../helpers/envoy-close-client.js';
import { eventually, startTestServer, type TestServer } from '../helpers/test-server.js';

/** 1,600 streams, 16 every 50 ms (~320/s, ~5 s): past nghttp2's default bucket (1,000 + 33/s) unless the run took
 * over 18 s, which even a loaded machine does not stretch it to. */
const STREAMS = 1600;
const PER_TICK = 16;
const TICK_MS = 50;
const NGHTTP2_INTERNAL_ERROR = http2.constants.NGHTTP2_INTERNAL_ERROR;
const RAISES = nodeSetsStreamResetLimit();
const NODE = `Node ${process.versions.node}`;

/** A TCP relay to `port` that records, in order, the HTTP/2 frames the client sends on its streams. */
async function frameRecorder(port: number): Promise<{ port: number; frames: string[]; close(): Promise<void> }> {
  const frames: string[] = [];
  const names: Record<number, string> = { 0: 'DATA', 1: 'HEADERS', 3: 'RST_STREAM' };
  const relay = net.createServer((downstream) => {
    const upstream = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    downstream.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buf = Buffer.concat([buf, chunk]);
      if (!prefaceSeen && buf.length >= 24) {
        buf = buf.subarray(24);
        prefaceSeen = true;
      }
      while (prefaceSeen && buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const type = buf[3] ?? 0;
        const name = names[type];
        if (name && (buf.readUInt32BE(5) & 0x7fffffff) !== 0) {
          frames.push(type === 3 ? `RST_STREAM ${buf.readUInt32BE(9)}` : `${name}${(buf[4] ?? 0) & 1 ? ' END_STREAM' : ''}`);
        }
        buf = buf.subarray(9 + buf.readUIntBE(0, 3));
      }
    });
    upstream.pipe(downstream);
    downstream.on('close', () => upstream.destroy());
    upstream.on('close', () => downstream.destroy());
    downstream.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  return { port: (relay.address() as AddressInfo).port, frames, close: () => new Promise<void>((r) => relay.close(() => r())) };
}

/** Waits until the server has finished every stream, so it has read every reset sent so far. */
async function serverIdle(t: TestServer): Promise<void> {
  await eventually(() => (t.server.openStreams() === 0 ? true : undefined));
}

describe('one HTTP/2 connection from Envoy, above 33 streams/s and past 1,000', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ args: ['--log-level', 'warn'] });
  });
  afterAll(async () => {
    await t.close();
  });

  it('the client half-closes after the reply, then resets: NO_ERROR as Envoy does, CANCEL as grpc-js does', async () => {
    const recorder = await frameRecorder(t.server.port);
    try {
      for (const resetCode of [http2.constants.NGHTTP2_NO_ERROR, http2.constants.NGHTTP2_CANCEL]) {
        const client = connectEnvoyCloseClient(recorder.port, { resetCode });
        expect(await client.exchange()).toBe('replied');
        await serverIdle(t);
        await client.close();
      }
      expect(recorder.frames).toEqual([
        'HEADERS', 'DATA', 'DATA END_STREAM', 'RST_STREAM 0',
        'HEADERS', 'DATA', 'DATA END_STREAM', 'RST_STREAM 8',
      ]);
    } finally {
      await recorder.close();
    }
  });

  it(RAISES
    ? `${NODE}: stays open; every stream that ends with half-close + reset is answered`
    : `${NODE} cannot raise the limit: the connection still gets GOAWAY, and the server said so at start`, async () => {
    const client = connectEnvoyCloseClient(t.server.port);
    const tally = await pacedExchanges(client, STREAMS, PER_TICK, TICK_MS);
    await serverIdle(t);
    const probe = await client.exchange();
    const warned = t.logs.some((l) => String(l.msg).includes("cannot raise HTTP/2's stream-reset limit"));
    if (RAISES) {
      expect({ goaways: client.goaways, probe, ...tally, warned })
        .toEqual({ goaways: [], probe: 'replied', replied: STREAMS, 'closed-by-server': 0, failed: 0, warned: false });
    } else {
      expect({ goaways: client.goaways, probe, warned }).toEqual({ goaways: [NGHTTP2_INTERNAL_ERROR], probe: 'failed', warned: true });
      expect(tally.failed).toBeGreaterThan(0);
    }
    await client.close();
  }, 60_000);

  it('with Envoy\'s ext_proc_graceful_grpc_close the server closes each stream itself: no reset, no GOAWAY, on any Node', async () => {
    const client = connectEnvoyCloseClient(t.server.port, { ending: 'graceful' });
    const tally = await pacedExchanges(client, STREAMS, PER_TICK, TICK_MS);
    await serverIdle(t);
    expect({ goaways: client.goaways, probe: await client.exchange(), ...tally })
      .toEqual({ goaways: [], probe: 'closed-by-server', replied: 0, 'closed-by-server': STREAMS, failed: 0 });
    await client.close();
  }, 60_000);
});

describe('--max-stream-resets-per-second keeps a bound', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ args: ['--log-level', 'warn', '--max-stream-resets-per-second', '50'] });
  });
  afterAll(async () => {
    await t.close();
  });

  it(RAISES
    ? `${NODE}: a client resetting 400 streams in ~0.4 s, over a limit of 50/s, gets GOAWAY`
    : `${NODE}: the option has no effect, nghttp2's default 1,000 stays (400 resets pass)`, async () => {
    const client = connectEnvoyCloseClient(t.server.port);
    const tally = await pacedExchanges(client, 400, 20, 20);
    await serverIdle(t);
    const probe = await client.exchange();
    if (RAISES) {
      expect({ goaways: client.goaways, probe }).toEqual({ goaways: [NGHTTP2_INTERNAL_ERROR], probe: 'failed' });
    } else {
      expect({ goaways: client.goaways, probe, ...tally }).toEqual({ goaways: [], probe: 'replied', replied: 400, 'closed-by-server': 0, failed: 0 });
    }
    await client.close();
  });
});
