/**
 * A gRPC client that plays Envoy's ext_proc filter as ../shared/docs/envoy-ext-proc.md §3 describes: one stream per
 * HTTP request, protocol_config on the first message only, header values in raw_value, request/response bodies
 * BUFFERED (one message) or STREAMED (every chunk sent without waiting, then the empty end-of-stream chunk of
 * HTTP/1), trailers, half-close then cancel. It fails the exchange on a missing, extra, out-of-order or wrong-kind
 * reply, or on a reply slower than the message timeout (Envoy's default: 200 ms).
 */
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../../src/extproc/protos.js';
import type { ProcessingRequest } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { Struct__Output } from '../../src/gen/google/protobuf/Struct.js';
import type { Value__Output } from '../../src/gen/google/protobuf/Value.js';

export type BodyMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED';
type Kind = 'request_headers' | 'request_body' | 'request_trailers' | 'response_headers' | 'response_body' | 'response_trailers';

export interface Exchange {
  method?: string;
  path: string;
  authority?: string;
  requestHeaders?: Record<string, string>;
  /** The request body as the client sent it, in the chunks the downstream connection delivered. */
  requestChunks?: Buffer[];
  requestTrailers?: Record<string, string>;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseChunks?: Buffer[];
  responseTrailers?: Record<string, string>;
  /**
   * The upstream's answer to the request as forwarded (the processor's replacement body, else the client's): replaces
   * status, responseHeaders and responseChunks when given, for tests whose upstream honours what was forwarded.
   */
  upstream?: (forwardedBody: Buffer) => Pick<Exchange, 'status' | 'responseHeaders' | 'responseChunks'>;
}

/**
 * The message timeout functional tests pass instead of Envoy's 200 ms. They check what the processor replies, and on
 * a loaded shared CI machine a correct reply has been scheduled 336 ms late; a missing or stuck reply still fails
 * (after five times this). Reply latency itself is measured by `npm run bench`, and the emulator's own tests keep
 * Envoy's 200 ms.
 */
export const FUNCTIONAL_TIMEOUT_MS = 2000;

export interface EnvoyOptions {
  requestBodyMode?: BodyMode;
  responseBodyMode?: BodyMode;
  /** HTTP/2 may put end_of_stream on the last data chunk; HTTP/1 sends an extra empty chunk (default). */
  endOnLastChunk?: boolean;
  /** Older Envoy put header values in `value` instead of `raw_value`. */
  legacyHeaderValues?: boolean;
  /**
   * The client sends content-length with a request body (default true, as HTTP/1.1 clients with a fixed body do).
   * In BUFFERED mode Envoy keeps it, and rejects (500) a replaced body whose length differs from the content-length
   * after the reply's header mutation: the emulator fails the exchange the same way.
   */
  contentLength?: boolean;
  observabilityMode?: boolean;
  allowModeOverride?: boolean;
  messageTimeoutMs?: number;
  /** Upstream pacing: wait this long between response body chunks (replies are still not awaited). */
  chunkIntervalMs?: number;
  /** Client gone mid-stream: send only this many response body chunks, then half-close and reset. */
  cancelAfterResponseChunks?: number;
}

export interface ExchangeResult {
  replies: ProcessingResponse__Output[];
  /** Per-reply latency (ms) from sending the message to receiving its reply. */
  latenciesMs: number[];
  /** io.tokenmeter (and any other namespace) as plain JSON, merged in reply order like Envoy does. */
  dynamicMetadata: Record<string, Record<string, unknown>>;
  /** Headers the processor set on the response headers. */
  responseHeaderMutations: Record<string, string>;
  /** A replacement request body, if the processor sent one. */
  requestBodyMutation?: Buffer;
  immediate?: ProcessingResponse__Output['immediate_response'];
}

export class EnvoyProtocolError extends Error {
  override name = 'EnvoyProtocolError';
}

function headerMap(headers: Record<string, string>, legacy: boolean): ProcessingRequest['request_headers'] {
  return {
    headers: {
      headers: Object.entries(headers).map(([key, value]) =>
        legacy ? { key: key.toLowerCase(), value } : { key: key.toLowerCase(), raw_value: Buffer.from(value) }),
    },
  };
}

function plain(v: Value__Output): unknown {
  switch (v.kind) {
    case 'numberValue': return v.numberValue;
    case 'stringValue': return v.stringValue;
    case 'boolValue': return v.boolValue;
    case 'structValue': return v.structValue ? structToJson(v.structValue) : {};
    case 'listValue': return (v.listValue?.values ?? []).map(plain);
    default: return null;
  }
}

export function structToJson(s: Struct__Output): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s.fields).map(([k, v]) => [k, plain(v)]));
}

interface Pending {
  kind: Kind;
  sentAt: number;
  timer: NodeJS.Timeout;
}

/** Runs one HTTP request through the processor as Envoy would. Rejects with EnvoyProtocolError on any violation. */
export function runExchange(client: ExternalProcessorClient, ex: Exchange, opts: EnvoyOptions = {}): Promise<ExchangeResult> {
  const timeoutMs = opts.messageTimeoutMs ?? 200;
  let reqMode: BodyMode = opts.requestBodyMode ?? 'BUFFERED';
  let respMode: BodyMode = opts.responseBodyMode ?? 'STREAMED';
  const observe = opts.observabilityMode ?? false;
  const legacy = opts.legacyHeaderValues ?? false;
  const result: ExchangeResult = { replies: [], latenciesMs: [], dynamicMetadata: {}, responseHeaderMutations: {} };
  const reqBodyBytes = (ex.requestChunks ?? []).reduce((n, c) => n + c.length, 0);
  const reqHeaderInput: Record<string, string> = { ...(reqBodyBytes > 0 && opts.contentLength !== false ? { 'content-length': String(reqBodyBytes) } : {}), ...ex.requestHeaders };
  const clientContentLength = Object.entries(reqHeaderInput).find(([k]) => k.toLowerCase() === 'content-length')?.[1];
  const call = client.Process();
  const pending: Pending[] = [];
  let failure: EnvoyProtocolError | undefined;
  let wake: (() => void) | undefined;
  let first = true;
  let sendResponseHeaders = true;

  const fail = (message: string): void => {
    failure ??= new EnvoyProtocolError(message);
    wake?.();
  };
  call.on('data', (reply: ProcessingResponse__Output) => {
    if (observe) return fail(`reply in observability mode: ${reply.response ?? 'none'}`);
    const p = pending.shift();
    if (!p) return fail(`extra reply of kind ${reply.response ?? 'none'}`);
    clearTimeout(p.timer);
    const latency = performance.now() - p.sentAt;
    result.replies.push(reply);
    result.latenciesMs.push(latency);
    if (latency > timeoutMs) fail(`reply to ${p.kind} took ${latency.toFixed(1)} ms (> ${timeoutMs} ms)`);
    if (reply.response === 'immediate_response') {
      result.immediate = reply.immediate_response;
      pending.splice(0).forEach((q) => clearTimeout(q.timer));
    } else if (reply.response !== p.kind) {
      fail(`expected a ${p.kind} reply, got ${reply.response ?? 'none'}`);
    }
    collect(reply);
    if (pending.length === 0) wake?.();
  });
  call.on('error', (err: grpc.ServiceError) => {
    if (err.code !== grpc.status.CANCELLED) fail(`stream error: ${err.code} ${err.message}`);
  });

  const collect = (reply: ProcessingResponse__Output): void => {
    if (reply.dynamic_metadata) {
      for (const [ns, v] of Object.entries(structToJson(reply.dynamic_metadata))) {
        result.dynamicMetadata[ns] = { ...(result.dynamicMetadata[ns] ?? {}), ...(v as Record<string, unknown>) };
      }
    }
    const common = reply.request_body?.response ?? reply.response_headers?.response;
    const mutation = common?.body_mutation;
    if (reply.request_body && mutation?.mutation === 'body') {
      result.requestBodyMutation = mutation.body ?? undefined;
      if (reqMode === 'BUFFERED' && clientContentLength !== undefined) {
        const set = common?.header_mutation?.set_headers.find((h) => h.header?.key.toLowerCase() === 'content-length')?.header;
        const declared = set ? (set.raw_value.length > 0 ? set.raw_value.toString() : set.value) : clientContentLength;
        const length = mutation.body?.length ?? 0;
        if (Number(declared) !== length) fail(`request body replaced with ${length} bytes but content-length is ${declared}: Envoy rejects the mutation (500)`);
      }
    }
    for (const h of reply.response_headers?.response?.header_mutation?.set_headers ?? []) {
      if (h.header?.value && h.header.raw_value.length > 0) fail(`header ${h.header.key} sets both value and raw_value`);
      if (h.header) result.responseHeaderMutations[h.header.key] = h.header.raw_value.length > 0 ? h.header.raw_value.toString() : h.header.value;
    }
    const override = reply.mode_override;
    if (override && opts.allowModeOverride && (reply.request_headers || reply.response_headers)) {
      if (reply.request_headers) reqMode = override.request_body_mode as BodyMode;
      respMode = override.response_body_mode as BodyMode;
      if (override.response_header_mode === 'SKIP') sendResponseHeaders = false;
    }
  };

  const send = (kind: Kind, msg: ProcessingRequest): void => {
    if (failure || result.immediate) return;
    const full: ProcessingRequest = { ...msg, observability_mode: observe };
    if (first) {
      full.protocol_config = { request_body_mode: reqMode, response_body_mode: respMode };
      first = false;
    }
    if (!observe) {
      const p: Pending = { kind, sentAt: performance.now(), timer: setTimeout(() => fail(`no reply to ${kind} within ${timeoutMs} ms`), timeoutMs * 5) };
      pending.push(p);
    }
    call.write(full);
  };
  const settle = (): Promise<void> => new Promise<void>((resolve) => {
    if (failure || pending.length === 0) return resolve();
    wake = () => {
      wake = undefined;
      resolve();
    };
  });
  const body = async (kind: 'request_body' | 'response_body', mode: BodyMode, chunks: Buffer[], trailers: boolean): Promise<void> => {
    if (mode === 'NONE') return;
    if (mode === 'BUFFERED' || mode === 'BUFFERED_PARTIAL') {
      send(kind, { [kind]: { body: Buffer.concat(chunks), end_of_stream: !trailers } });
    } else if (kind === 'response_body' && opts.cancelAfterResponseChunks !== undefined) {
      chunks.slice(0, opts.cancelAfterResponseChunks).forEach((c) => send(kind, { [kind]: { body: c, end_of_stream: false } }));
    } else {
      const nonEmpty = chunks.filter((c) => c.length > 0);
      const pace = kind === 'response_body' ? opts.chunkIntervalMs ?? 0 : 0;
      for (const [i, c] of nonEmpty.entries()) {
        if (pace > 0 && i > 0) await new Promise((r) => setTimeout(r, pace));
        send(kind, { [kind]: { body: c, end_of_stream: !trailers && opts.endOnLastChunk === true && i === nonEmpty.length - 1 } });
      }
      if (!trailers && !(opts.endOnLastChunk && nonEmpty.length > 0)) send(kind, { [kind]: { body: Buffer.alloc(0), end_of_stream: true } });
    }
    await settle();
  };

  return (async () => {
    const reqChunks = ex.requestChunks ?? [];
    const hasReqBody = reqChunks.some((c) => c.length > 0);
    const reqHeaders = { ':method': ex.method ?? 'POST', ':path': ex.path, ':authority': ex.authority ?? 'api.example.com', ':scheme': 'https', ...reqHeaderInput };
    send('request_headers', { request_headers: { ...headerMap(reqHeaders, legacy), end_of_stream: !hasReqBody } });
    await settle();
    if (hasReqBody) await body('request_body', reqMode, reqChunks, ex.requestTrailers !== undefined);
    if (ex.requestTrailers) {
      send('request_trailers', { request_trailers: { trailers: headerMap(ex.requestTrailers, legacy)?.headers ?? null } });
      await settle();
    }
    const answer = ex.upstream && !result.immediate ? { ...ex, ...ex.upstream(result.requestBodyMutation ?? Buffer.concat(reqChunks)) } : ex;
    const respChunks = answer.responseChunks ?? [];
    const hasRespBody = respChunks.some((c) => c.length > 0);
    if (sendResponseHeaders && !result.immediate) {
      const respHeaders = { ':status': String(answer.status ?? 200), ...answer.responseHeaders };
      send('response_headers', { response_headers: { ...headerMap(respHeaders, legacy), end_of_stream: !hasRespBody } });
      await settle();
    }
    if (hasRespBody) await body('response_body', respMode, respChunks, ex.responseTrailers !== undefined);
    if (ex.responseTrailers && opts.cancelAfterResponseChunks === undefined) {
      send('response_trailers', { response_trailers: { trailers: headerMap(ex.responseTrailers, legacy)?.headers ?? null } });
      await settle();
    }
    // Give a spurious extra reply a moment to show up, then end as Envoy does: half-close, then reset.
    await new Promise((r) => setTimeout(r, observe ? 20 : 2));
    call.end();
    call.cancel();
    pending.splice(0).forEach((p) => clearTimeout(p.timer));
    if (failure) throw failure;
    return result;
  })();
}

/** A client; `ownConnection`: its own HTTP/2 connection instead of the one grpc-js shares between clients of an address. */
export function createEnvoyClient(address: string, ownConnection = false): ExternalProcessorClient {
  const { extProc } = loadProtos();
  return new extProc.envoy.service.ext_proc.v3.ExternalProcessor(address, grpc.credentials.createInsecure(), ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {});
}

/** Splits a buffer at `points` random byte offsets (deterministic for a given seed). */
export function splitRandomly(buf: Buffer, pieces: number, seed: number): Buffer[] {
  let s = seed >>> 0 || 1;
  const rand = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const cuts = new Set<number>();
  for (let i = 0; i < pieces - 1 && buf.length > 1; i++) cuts.add(1 + Math.floor(rand() * (buf.length - 1)));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of sorted) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}
