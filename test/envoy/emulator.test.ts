/**
 * The emulator must catch what real Envoy would punish: wrong-kind, extra, missing and slow replies. These tests run
 * it against deliberately broken processors.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProtos } from '../../src/extproc/protos.js';
import type { ProcessingRequest__Output } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { createEnvoyClient, runExchange, splitRandomly, type Exchange } from './emulator.js';

type Behaviour = (msg: ProcessingRequest__Output, reply: (r: ProcessingResponse) => void) => void;
const echoKind: Behaviour = (msg, reply) => reply({ [msg.request as string]: msg.request?.endsWith('trailers') ? {} : { response: {} } });
const behaviours: Record<string, Behaviour> = {
  good: echoKind,
  'wrong-kind': (msg, reply) => reply(msg.request === 'request_body' ? { response_body: { response: {} } } : ({ [msg.request as string]: { response: {} } })),
  extra: (msg, reply) => {
    echoKind(msg, reply);
    if (msg.request === 'request_headers') echoKind(msg, reply);
  },
  missing: (msg, reply) => {
    if (msg.request !== 'response_headers') echoKind(msg, reply);
  },
  // Replaces the request body with a longer one and leaves content-length as the client sent it.
  'body-without-length': (msg, reply) => {
    if (msg.request === 'request_body') reply({ request_body: { response: { body_mutation: { body: Buffer.concat([msg.request_body?.body ?? Buffer.alloc(0), Buffer.from(' ')]) } } } });
    else echoKind(msg, reply);
  },
  'body-with-length': (msg, reply) => {
    if (msg.request !== 'request_body') return echoKind(msg, reply);
    const body = Buffer.concat([msg.request_body?.body ?? Buffer.alloc(0), Buffer.from(' ')]);
    reply({ request_body: { response: { header_mutation: { set_headers: [{ header: { key: 'content-length', raw_value: Buffer.from(String(body.length)) } }] }, body_mutation: { body } } } });
  },
  slow: (msg, reply) => {
    setTimeout(() => echoKind(msg, reply), msg.request === 'request_body' ? 260 : 0);
  },
};

let server: grpc.Server;
let port = 0;
beforeAll(async () => {
  const { extProc } = loadProtos();
  server = new grpc.Server();
  server.addService(extProc.envoy.service.ext_proc.v3.ExternalProcessor.service, {
    Process: (call: grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>) => {
      const mode = String(call.metadata.get('behaviour')[0] ?? 'good');
      let behaviour: Behaviour | undefined;
      call.on('data', (msg: ProcessingRequest__Output) => {
        behaviour ??= behaviours[mode];
        behaviour?.(msg, (r) => call.write(r));
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
});
afterAll(() => server.forceShutdown());

const ex: Exchange = { path: '/v1/chat/completions', requestChunks: splitRandomly(Buffer.from('{"model":"gpt-4o","messages":[]}'), 3, 1), status: 200, responseChunks: [Buffer.from('{}')] };

function clientFor(behaviour: string): ExternalProcessorClient {
  const client = createEnvoyClient(`127.0.0.1:${port}`);
  const orig = client.Process.bind(client);
  const md = new grpc.Metadata();
  md.set('behaviour', behaviour);
  client.Process = () => orig(md);
  return client;
}

describe('Envoy emulator', () => {
  it('accepts a processor that answers correctly, in every body mode', async () => {
    for (const requestBodyMode of ['BUFFERED', 'STREAMED'] as const) {
      const res = await runExchange(clientFor('good'), ex, { requestBodyMode });
      expect(res.replies.length).toBe(requestBodyMode === 'STREAMED' ? 1 + 4 + 1 + 2 : 1 + 1 + 1 + 2);
    }
  });
  it.each([
    ['wrong-kind', /expected a request_body reply, got response_body/],
    ['extra', /extra reply|expected a request_body reply, got request_headers/],
    ['missing', /no reply to response_headers/],
    ['slow', /reply to request_body took .* ms \(> 200 ms\)/],
    ['body-without-length', /request body replaced with 33 bytes but content-length is 32: Envoy rejects the mutation/],
  ])('rejects a processor that is %s', async (behaviour, message) => {
    await expect(runExchange(clientFor(behaviour), ex)).rejects.toThrow(message);
  });
  it('accepts a replaced request body when the reply sets the matching content-length, or the client sent none', async () => {
    expect((await runExchange(clientFor('body-with-length'), ex)).requestBodyMutation?.length).toBe(33);
    expect((await runExchange(clientFor('body-without-length'), ex, { contentLength: false })).requestBodyMutation?.length).toBe(33);
  });
});
