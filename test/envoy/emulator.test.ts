/**
 * The emulator must catch what real Envoy would punish (wrong-kind, extra, missing replies) and do what real Envoy
 * does where it is less kind than a test double would be: its message timer per direction and what happens when it
 * fires, local replies, the buffer limit, protocol_config by version, observability mode. These tests run it against
 * deliberately scripted processors.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProtos } from '../../src/extproc/protos.js';
import type { ProcessingRequest__Output } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { ATTRIBUTES_KEY, FUNCTIONAL_TIMEOUT_MS, createEnvoyClient, kindOf, runExchange, splitRandomly, type Exchange } from './emulator.js';
import type { ProcessingRequest } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';

type Reply = (r: ProcessingResponse, delayMs?: number) => void;
type Behaviour = (msg: ProcessingRequest__Output, reply: Reply, n?: number) => void;
const empty = (msg: ProcessingRequest__Output): ProcessingResponse => ({ [msg.request as string]: msg.request?.endsWith('trailers') ? {} : { response: {} } });
const echoKind: Behaviour = (msg, reply) => reply(empty(msg));
const lengthHeader = (n: number): { set_headers: { header: { key: string; raw_value: Buffer } }[] } => ({ set_headers: [{ header: { key: 'content-length', raw_value: Buffer.from(String(n)) } }] });
const behaviours: Record<string, Behaviour> = {
  good: echoKind,
  'wrong-kind': (msg, reply) => reply(msg.request === 'request_body' ? { response_body: { response: {} } } : empty(msg)),
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
    reply({ request_body: { response: { header_mutation: lengthHeader(body.length), body_mutation: { body } } } });
  },
  // A 5 MiB replacement body: one gRPC message larger than grpc-js' default 4 MiB receive limit.
  'huge-body': (msg, reply) => {
    if (msg.request !== 'request_body') return echoKind(msg, reply);
    const body = Buffer.alloc(5 * 1024 * 1024, 0x20);
    reply({ request_body: { response: { header_mutation: lengthHeader(body.length), body_mutation: { body } } } });
  },
  'slow-body': (msg, reply) => reply(empty(msg), msg.request === 'request_body' ? 260 : 0),
  // Every reply 400 ms late: each within a 700 ms timer, which Envoy restarts for every message it sends.
  'each-slow': (msg, reply) => reply(empty(msg), 400),
  // The first request chunk's reply at 300 ms stops the request timer; the others come 900 ms later with no timer running.
  'first-chunk-fast': (msg, reply, n) => reply(empty(msg), msg.request === 'request_body' ? (n === 1 ? 300 : 900) : 0),
  'skip-body': (msg, reply) => {
    if (msg.request === 'request_headers') reply({ request_headers: { response: {} }, mode_override: { request_body_mode: 'NONE', response_body_mode: 'NONE', response_header_mode: 'SKIP' } });
    else echoKind(msg, reply);
  },
  'only-skip-headers': (msg, reply) => {
    if (msg.request === 'request_headers') reply({ request_headers: { response: {} }, mode_override: { response_header_mode: 'SKIP' } });
    else echoKind(msg, reply);
  },
  // Answers everything, observability mode or not.
  chatty: (msg, reply) => reply({ ...empty(msg), mode_override: { request_body_mode: 'NONE' } }),
};

let server: grpc.Server;
let port = 0;
beforeAll(async () => {
  const { extProc } = loadProtos();
  server = new grpc.Server();
  server.addService(extProc.envoy.service.ext_proc.v3.ExternalProcessor.service, {
    Process: (call: grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>) => {
      const mode = String(call.metadata.get('behaviour')[0] ?? 'good');
      const behaviour = behaviours[mode];
      let bodies = 0;
      // Replies keep their order even when delayed (one chain per stream, as a real processor must).
      let chain = Promise.resolve();
      const reply: Reply = (r, delayMs = 0) => {
        chain = chain.then(() => new Promise<void>((res) => setTimeout(() => {
          if (call.writable) call.write(r);
          res();
        }, delayMs)));
      };
      call.on('data', (msg: ProcessingRequest__Output) => {
        if (msg.request === 'request_body') bodies++;
        behaviour?.(msg, reply, bodies);
      });
      call.on('end', () => void chain.then(() => call.end()));
      call.on('error', () => undefined);
    },
  });
  port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
});
afterAll(() => server.forceShutdown());

const ex: Exchange = { path: '/v1/chat/completions', requestChunks: splitRandomly(Buffer.from('{"model":"gpt-4o","messages":[]}'), 3, 1), status: 200, responseChunks: [Buffer.from('{}')] };
const kinds = (sent: ProcessingRequest[]): (string | undefined)[] => sent.map(kindOf);

function clientFor(behaviour: string): ExternalProcessorClient {
  const client = createEnvoyClient(`127.0.0.1:${port}`);
  const orig = client.Process.bind(client);
  const md = new grpc.Metadata();
  md.set('behaviour', behaviour);
  client.Process = () => orig(md);
  return client;
}

describe('Envoy emulator: protocol violations', () => {
  it('accepts a processor that answers correctly, in every body mode', async () => {
    for (const requestBodyMode of ['BUFFERED', 'STREAMED'] as const) {
      const res = await runExchange(clientFor('good'), ex, { requestBodyMode });
      expect(res.replies.length).toBe(requestBodyMode === 'STREAMED' ? 1 + 4 + 1 + 2 : 1 + 1 + 1 + 2);
    }
  });
  it.each([
    ['wrong-kind', /expected a request_body reply, got response_body/],
    ['extra', /extra reply|expected a request_body reply, got request_headers/],
    ['missing', /no reply to response_headers within 200 ms/],
    ['slow-body', /no reply to request_body within 200 ms/],
    ['body-without-length', /request body replaced with 33 bytes but content-length is 32: Envoy rejects the mutation/],
  ])('rejects a processor that is %s', async (behaviour, message) => {
    await expect(runExchange(clientFor(behaviour), ex)).rejects.toThrow(message);
  });
  it('accepts a replaced request body when the reply sets the matching content-length, or the client sent none', async () => {
    expect((await runExchange(clientFor('body-with-length'), ex)).requestBodyMutation?.length).toBe(33);
    expect((await runExchange(clientFor('body-without-length'), ex, { contentLength: false })).requestBodyMutation?.length).toBe(33);
  });
  it('receives a reply larger than 4 MiB, as Envoy does', async () => {
    const res = await runExchange(clientFor('huge-body'), ex, { messageTimeoutMs: FUNCTIONAL_TIMEOUT_MS });
    expect(res.forwardedRequestBody?.length).toBe(5 * 1024 * 1024);
  });
});

describe('Envoy emulator: the message timer', () => {
  it('restarts one timer per direction for every message sent, so 400 ms per reply passes a 700 ms timeout', async () => {
    const res = await runExchange(clientFor('each-slow'), ex, { failureModeAllow: false, messageTimeoutMs: 700 });
    expect(res.localReply).toBeUndefined();
    expect(res.replies).toHaveLength(5);
  });
  it('stops the timer at any reply in the direction, even with streamed chunks still queued', async () => {
    const res = await runExchange(clientFor('first-chunk-fast'), ex, { requestBodyMode: 'STREAMED', failureModeAllow: false, messageTimeoutMs: 700 });
    expect(res.localReply).toBeUndefined();
    expect(res.replies.filter((r) => r.response === 'request_body')).toHaveLength(4);
  });
  it('fails open: the original body goes upstream and the processor hears nothing more of the request', async () => {
    const res = await runExchange(clientFor('slow-body'), ex, { failureModeAllow: true });
    expect(res).toMatchObject({ failedOpen: true, messageTimeout: 'request' });
    expect(res.forwardedRequestBody?.toString()).toBe('{"model":"gpt-4o","messages":[]}');
    expect(kinds(res.sent)).toEqual(['request_headers', 'request_body']);
  });
  it('fails closed with 504, not status_on_error', async () => {
    const res = await runExchange(clientFor('slow-body'), ex, { failureModeAllow: false });
    expect(res.localReply).toEqual({ status: 504, details: 'ext_proc_error_per-message_timeout_exceeded' });
    expect(res.forwardedRequestBody).toBeUndefined();
    expect(kinds(res.sent)).toEqual(['request_headers', 'request_body']);
  });
});

describe('Envoy emulator: versions and modes', () => {
  it('sends protocol_config on the first message from 1.34, never before, never in observability mode', async () => {
    const v134 = await runExchange(clientFor('good'), ex, { envoyVersion: '1.34.0' });
    expect(v134.sent[0]?.protocol_config).toEqual({ request_body_mode: 'BUFFERED', response_body_mode: 'STREAMED' });
    expect(v134.sent.slice(1).every((m) => m.protocol_config === undefined)).toBe(true);
    const v133 = await runExchange(clientFor('good'), ex, { envoyVersion: '1.33.2' });
    expect(v133.sent.every((m) => m.protocol_config === undefined)).toBe(true);
    const observed = await runExchange(clientFor('good'), ex, { observabilityMode: true, requestBodyMode: 'STREAMED' });
    expect(observed.sent.every((m) => m.protocol_config === undefined)).toBe(true);
  });
  it('puts request attributes on the first request message only, under the filter\'s constant name', async () => {
    const res = await runExchange(clientFor('good'), ex, { requestAttributes: { 'xds.route_name': 'httproute/team-a/chat/rule/0/match/0/api_example_com' } });
    expect(Object.keys(res.sent[0]?.attributes ?? {})).toEqual([ATTRIBUTES_KEY]);
    expect(res.sent.slice(1).every((m) => m.attributes === undefined)).toBe(true);
  });
  it('sends a local reply through the processor before 1.33.1 only', async () => {
    const local: Exchange = { ...ex, localReply: { status: 503 } };
    const old = await runExchange(clientFor('good'), local, { envoyVersion: '1.33.0' });
    expect(old.localReply?.status).toBe(503);
    expect(kinds(old.sent)).toContain('response_headers');
    const fixed = await runExchange(clientFor('good'), local, { envoyVersion: '1.33.1' });
    expect(fixed.localReply?.status).toBe(503);
    expect(kinds(fixed.sent)).toEqual(['request_headers', 'request_body']);
  });
  it('answers 413 for a BUFFERED body over the buffer limit while the headers reply is pending, from 1.35', async () => {
    const upload: Exchange = { ...ex, path: '/v1/files', requestChunks: [Buffer.alloc(2 * 1024 * 1024, 0x61)] };
    const v135 = await runExchange(clientFor('skip-body'), upload, { envoyVersion: '1.35.0', allowModeOverride: true });
    expect(v135.localReply?.status).toBe(413);
    const v134 = await runExchange(clientFor('skip-body'), upload, { envoyVersion: '1.34.2', allowModeOverride: true });
    expect(v134.localReply).toBeUndefined();
    expect(v134.forwardedRequestBody?.length).toBe(2 * 1024 * 1024);
    const none = await runExchange(clientFor('skip-body'), upload, { requestBodyMode: 'NONE', allowModeOverride: true });
    expect(none.localReply).toBeUndefined();
    const metered = await runExchange(clientFor('good'), upload, { envoyVersion: '1.34.2' });
    expect(metered.localReply?.status).toBe(413);
    expect(kinds(metered.sent)).toEqual(['request_headers']);
  });
  it('takes body modes from every mode_override (proto3: unset is NONE)', async () => {
    const res = await runExchange(clientFor('only-skip-headers'), ex, { allowModeOverride: true });
    expect(kinds(res.sent)).toEqual(['request_headers']);
    const ignored = await runExchange(clientFor('only-skip-headers'), ex);
    expect(kinds(ignored.sent)).toContain('response_body');
  });
  it('observability mode: STREAMED bodies only, replies ignored, no timer', async () => {
    const buffered = await runExchange(clientFor('chatty'), ex, { observabilityMode: true });
    expect(kinds(buffered.sent)).toEqual(['request_headers', 'response_headers', 'response_body', 'response_body']);
    expect(buffered.sent.every((m) => m.observability_mode)).toBe(true);
    expect(buffered.replies).toHaveLength(0);
    const streamed = await runExchange(clientFor('chatty'), ex, { observabilityMode: true, requestBodyMode: 'STREAMED' });
    expect(kinds(streamed.sent).filter((k) => k === 'request_body')).toHaveLength(4);
  });
  it('removes the response content-length when the response body is STREAMED', async () => {
    const withLength: Exchange = { ...ex, responseHeaders: { 'content-length': '2' } };
    expect((await runExchange(clientFor('good'), withLength)).responseContentLengthRemoved).toBe(true);
    expect((await runExchange(clientFor('good'), withLength, { responseBodyMode: 'BUFFERED' })).responseContentLengthRemoved).toBe(false);
  });
});
