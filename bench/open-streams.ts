/**
 * Memory held per open stream: opens N streams that are mid-response (request counted, response headers seen, a few
 * SSE chunks in), measures the server's RSS after a GC, then closes them.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { ProcessingRequest } from '../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../src/gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { Exchange } from '../test/envoy/emulator.js';
import type { ServerProcess } from './extproc-load.js';

type Stream = ClientDuplexStream<ProcessingRequest, ProcessingResponse__Output>;

function hdrs(h: Record<string, string>): ProcessingRequest['request_headers'] {
  return { headers: { headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) } };
}

async function openMidStream(server: ServerProcess, ex: Exchange): Promise<Stream> {
  const call = server.client.Process();
  const msgs: ProcessingRequest[] = [
    { protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'STREAMED' }, request_headers: { ...hdrs({ ':method': 'POST', ':path': ex.path, ...ex.requestHeaders }), end_of_stream: false } },
    { request_body: { body: Buffer.concat(ex.requestChunks ?? []), end_of_stream: true } },
    { response_headers: { ...hdrs({ ':status': '200', ...ex.responseHeaders }), end_of_stream: false } },
    ...(ex.responseChunks ?? []).slice(0, 3).map((c) => ({ response_body: { body: c, end_of_stream: false } })),
  ];
  await new Promise<void>((resolve) => {
    let left = msgs.length;
    call.on('data', () => {
      if (--left === 0) resolve();
    });
    call.on('error', () => undefined);
    for (const m of msgs) call.write(m);
  });
  return call;
}

export interface StreamMemory {
  rssPerStream: number;
  heapPerStream: number;
}

export async function memoryPerOpenStream(server: ServerProcess, ex: Exchange, n: number): Promise<StreamMemory> {
  const warm = await Promise.all(Array.from({ length: 50 }, () => openMidStream(server, ex)));
  warm.forEach((c) => c.cancel());
  await new Promise((r) => setTimeout(r, 200));
  const before = await server.sample(true);
  const streams: Stream[] = [];
  for (let i = 0; i < n; i += 100) streams.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => openMidStream(server, ex)))));
  const after = await server.sample(true);
  streams.forEach((c) => {
    c.end();
    c.cancel();
  });
  await new Promise((r) => setTimeout(r, 200));
  return { rssPerStream: (after.rss - before.rss) / n, heapPerStream: (after.heap - before.heap) / n };
}
