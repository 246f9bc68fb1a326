/**
 * A gRPC client that plays Envoy's ext_proc filter (envoyproxy/envoy source/extensions/filters/http/ext_proc/),
 * version by version where Envoy changed (envoy-behaviour.ts cites each rule): one stream per HTTP request, header
 * values in raw_value, request/response bodies BUFFERED (one message) or STREAMED (every chunk sent without waiting,
 * then the empty end-of-stream chunk of HTTP/1), trailers, half-close then cancel; protocol_config on the first
 * message from 1.34; request attributes on the first request message; one message timer per direction; local replies
 * (its own 413/503/504) sent to the processor only before 1.33.1; the per-connection buffer limit; observability mode.
 *
 * It fails the exchange on a missing, extra, out-of-order or wrong-kind reply. A message timeout fails it too unless
 * the test sets `failureModeAllow`, in which case the emulator does what Envoy does (fail open or a 504).
 */
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../../src/extproc/protos.js';
import type { ProcessingRequest } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { ExternalProcessorClient } from '../../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { Struct__Output } from '../../src/gen/google/protobuf/Struct.js';
import type { Value__Output } from '../../src/gen/google/protobuf/Value.js';
import {
  DEFAULT_BUFFER_LIMIT_BYTES, DEFAULT_ENVOY_VERSION, Since, applyModeOverride, atLeast, removesContentLength,
  type BodyMode, type EnvoyVersion, type Modes,
} from './envoy-behaviour.js';

export type { BodyMode, EnvoyVersion } from './envoy-behaviour.js';
type Kind = 'request_headers' | 'request_body' | 'request_trailers' | 'response_headers' | 'response_body' | 'response_trailers';
type Direction = 'request' | 'response';

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
  /** Envoy answers the request itself once the request went through the filter (503 no healthy upstream, 504…). */
  localReply?: { status: number; body?: string };
  /**
   * The upstream's answer to the request as forwarded (the processor's replacement body, else the client's): replaces
   * status, responseHeaders and responseChunks when given, for tests whose upstream honours what was forwarded.
   */
  upstream?: (forwardedBody: Buffer) => Pick<Exchange, 'status' | 'responseHeaders' | 'responseChunks'>;
}

/**
 * The message timeout functional tests pass instead of Envoy's 200 ms. They check what the processor replies, and on
 * a loaded shared CI machine a correct reply has been scheduled 336 ms late; a missing or stuck reply still fails.
 * Tests of what Envoy does at its timeout (fail open, 504) run the timer at the rendered value with failureModeAllow.
 */
export const FUNCTIONAL_TIMEOUT_MS = 2000;

/** The attribute map key: ext_proc.cc `FilterName` ("envoy.filters.http.ext_proc"), whatever the filter instance is named. */
export const ATTRIBUTES_KEY = 'envoy.filters.http.ext_proc';

export interface EnvoyOptions {
  requestBodyMode?: BodyMode;
  responseBodyMode?: BodyMode;
  /** HTTP/2 may put end_of_stream on the last data chunk; HTTP/1 sends an extra empty chunk (default). */
  endOnLastChunk?: boolean;
  /** Older Envoy put header values in `value` instead of `raw_value`. */
  legacyHeaderValues?: boolean;
  /**
   * The client sends content-length with a request body (default true, as HTTP/1.1 clients with a fixed body do).
   * When Envoy keeps it (BUFFERED or NONE at header time), it rejects (500) a replaced body whose length differs from
   * the content-length after the reply's header mutation (processor_state.cc `validateContentLength`): the emulator
   * fails the exchange the same way.
   */
  contentLength?: boolean;
  observabilityMode?: boolean;
  allowModeOverride?: boolean;
  /** Envoy's message_timeout (default 200 ms, ext_proc.proto). */
  messageTimeoutMs?: number;
  /** Envoy's failure_mode_allow: when set, a message timeout has Envoy's outcome instead of failing the exchange. */
  failureModeAllow?: boolean;
  /** The Envoy release to play (default DEFAULT_ENVOY_VERSION). */
  envoyVersion?: EnvoyVersion;
  /** per_connection_buffer_limit_bytes (Envoy's default 1 MiB; Envoy Gateway's default 32 KiB). */
  bufferLimitBytes?: number;
  /** request_attributes as Envoy evaluated them, e.g. {'source.address': '10.1.2.3:4567', 'xds.route_name': '…'}. */
  requestAttributes?: Record<string, string | number | boolean>;
  /** Upstream pacing: wait this long between response body chunks (replies are still not awaited). */
  chunkIntervalMs?: number;
  /** Client gone mid-stream: send only this many response body chunks, then half-close and reset. */
  cancelAfterResponseChunks?: number;
}

export interface ExchangeResult {
  replies: ProcessingResponse__Output[];
  /** Per-reply latency (ms) from sending the message to receiving its reply. */
  latenciesMs: number[];
  /** Every message sent to the processor, in order. */
  sent: ProcessingRequest[];
  /** io.tokenmeter (and any other namespace) as plain JSON, merged in reply order like Envoy does. */
  dynamicMetadata: Record<string, Record<string, unknown>>;
  /** Headers the processor set on the response headers. */
  responseHeaderMutations: Record<string, string>;
  /** A replacement request body, if the processor sent one. */
  requestBodyMutation?: Buffer;
  /** The request body Envoy sent upstream; undefined when the request never went upstream. */
  forwardedRequestBody?: Buffer;
  immediate?: ProcessingResponse__Output['immediate_response'];
  /** A reply Envoy made itself: 504 at a message timeout (fail closed), 413 over the buffer limit, Exchange.localReply. */
  localReply?: { status: number; details: string };
  /** The direction whose message timer fired (only with failureModeAllow set). */
  messageTimeout?: Direction;
  /** failure_mode_allow let the request go on without the processor after its timeout (Filter::onMessageTimeout). */
  failedOpen?: boolean;
  /** Replies Envoy ignored: in observability mode, or after it stopped listening (timeout). */
  ignoredReplies: number;
  /** Envoy removed the response content-length (STREAMED response: HTTP/1 goes chunked). */
  responseContentLengthRemoved: boolean;
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

/** ExpressionManager::evaluateAttributes (matching_utils.cc): bools and numbers as such, everything else as a string. */
function attributeStruct(attrs: Record<string, string | number | boolean>): NonNullable<ProcessingRequest['attributes']> {
  const fields = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k,
    typeof v === 'boolean' ? { boolValue: v } : typeof v === 'number' ? { numberValue: v } : { stringValue: v }]));
  return { [ATTRIBUTES_KEY]: { fields } };
}

const direction = (k: Kind): Direction => (k.startsWith('request') ? 'request' : 'response');
const KINDS: readonly Kind[] = ['request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers'];

/** The kind of a message the emulator sent (the oneof field it sets). */
export function kindOf(msg: ProcessingRequest): Kind | undefined {
  return KINDS.find((k) => msg[k] !== undefined);
}

/** Runs one HTTP request through the processor as Envoy would. Rejects with EnvoyProtocolError on any violation. */
export function runExchange(client: ExternalProcessorClient, ex: Exchange, opts: EnvoyOptions = {}): Promise<ExchangeResult> {
  const timeoutMs = opts.messageTimeoutMs ?? 200;
  const version = opts.envoyVersion ?? DEFAULT_ENVOY_VERSION;
  const bufferLimit = opts.bufferLimitBytes ?? DEFAULT_BUFFER_LIMIT_BYTES;
  const configured = { request: opts.requestBodyMode ?? 'BUFFERED', response: opts.responseBodyMode ?? 'STREAMED' } as const;
  let modes: Modes = { requestBody: configured.request, responseBody: configured.response, responseHeaders: 'SEND' };
  const fullDuplex = configured.request === 'FULL_DUPLEX_STREAMED' || configured.response === 'FULL_DUPLEX_STREAMED';
  const observe = opts.observabilityMode ?? false;
  const legacy = opts.legacyHeaderValues ?? false;
  const result: ExchangeResult = {
    replies: [], latenciesMs: [], sent: [], dynamicMetadata: {}, responseHeaderMutations: {}, ignoredReplies: 0, responseContentLengthRemoved: false,
  };
  const reqChunks = ex.requestChunks ?? [];
  const reqBodyBytes = reqChunks.reduce((n, c) => n + c.length, 0);
  const reqHeaderInput: Record<string, string> = { ...(reqBodyBytes > 0 && opts.contentLength !== false ? { 'content-length': String(reqBodyBytes) } : {}), ...ex.requestHeaders };
  const clientContentLength = Object.entries(reqHeaderInput).find(([k]) => k.toLowerCase() === 'content-length')?.[1];
  // decodeHeaders removes the request content-length for the modes of shouldRemoveContentLength (headers are sent).
  const requestContentLengthKept = !removesContentLength(configured.request, true);
  const call = client.Process();
  const pending: { kind: Kind; sentAt: number }[] = [];
  const timers: Record<Direction, NodeJS.Timeout | undefined> = { request: undefined, response: undefined };
  let failure: EnvoyProtocolError | undefined;
  let wake: (() => void) | undefined;
  let first = true;
  // Set once Envoy stops talking to the processor (immediate or local reply, timeout): ext_proc.cc processing_complete_.
  let done = false;
  let closed = false;

  const fail = (message: string): void => {
    failure ??= new EnvoyProtocolError(message);
    wake?.();
  };
  const stopTimer = (d: Direction): void => {
    clearTimeout(timers[d]);
    timers[d] = undefined;
  };
  const closeStream = (): void => {
    if (closed) return;
    closed = true;
    call.end();
    call.cancel();
  };
  const finish = (): void => {
    done = true;
    pending.splice(0);
    stopTimer('request');
    stopTimer('response');
    wake?.();
  };
  // Filter::onMessageTimeout (E-old and E-new): the processor is dropped for the rest of the request. failure_mode_allow:
  // the filter chain continues with the data as received (clearAsyncState); otherwise a 504 local reply with details
  // "ext_proc_error_per-message_timeout_exceeded" and no body. status_on_error does not apply to timeouts.
  const onTimeout = (d: Direction, kind: Kind): void => {
    if (opts.failureModeAllow === undefined) return fail(`no reply to ${kind} within ${timeoutMs} ms (Envoy's message timeout)`);
    result.messageTimeout = d;
    if (opts.failureModeAllow) result.failedOpen = true;
    else result.localReply = { status: 504, details: 'ext_proc_error_per-message_timeout_exceeded' };
    closeStream();
    finish();
  };

  call.on('data', (reply: ProcessingResponse__Output) => {
    // Observability mode: Filter::onReceiveMessage ignores every reply. After a timeout the stream is closed.
    if (observe || done) {
      result.ignoredReplies++;
      return;
    }
    const p = pending.shift();
    if (!p) return fail(`extra reply of kind ${reply.response ?? 'none'}`);
    // Every reply stops its direction's timer (onFinishProcessorCall → stopMessageTimer), even with chunks still queued.
    stopTimer(direction(p.kind));
    result.replies.push(reply);
    result.latenciesMs.push(performance.now() - p.sentAt);
    if (reply.response === 'immediate_response') {
      result.immediate = reply.immediate_response;
      collect(reply);
      finish();
      return;
    }
    if (reply.response !== p.kind) return fail(`expected a ${p.kind} reply, got ${reply.response ?? 'none'}`);
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
      if (modes.requestBody === 'BUFFERED' && requestContentLengthKept && clientContentLength !== undefined) {
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
    // Honoured only with allow_mode_override, in a headers reply, without FULL_DUPLEX_STREAMED (Filter::onReceiveMessage).
    const override = reply.mode_override;
    if (override && opts.allowModeOverride && !fullDuplex && (reply.request_headers || reply.response_headers)) {
      modes = applyModeOverride(modes, override, version);
    }
  };

  const send = (kind: Kind, msg: ProcessingRequest): void => {
    if (failure || done) return;
    const full: ProcessingRequest = { ...msg, observability_mode: observe };
    if (first) {
      if (atLeast(version, Since.protocolConfig) && !observe) full.protocol_config = { request_body_mode: configured.request, response_body_mode: configured.response };
      // Request attributes ride on the first request-direction message (processor_state.h sendAttributes, attributes_sent_).
      if (opts.requestAttributes) full.attributes = attributeStruct(opts.requestAttributes);
      first = false;
    }
    result.sent.push(full);
    if (!observe) {
      pending.push({ kind, sentAt: performance.now() });
      // One timer per direction, restarted for every message sent (ProcessorState::onStartProcessorCall →
      // message_timer_->enableTimer); none for FULL_DUPLEX_STREAMED, none in observability mode.
      const d = direction(kind);
      const mode = d === 'request' ? modes.requestBody : modes.responseBody;
      if (mode !== 'FULL_DUPLEX_STREAMED') {
        stopTimer(d);
        timers[d] = setTimeout(() => onTimeout(d, kind), timeoutMs);
      }
    }
    call.write(full);
  };
  const settle = (): Promise<void> => new Promise<void>((resolve) => {
    if (failure || done || pending.length === 0) return resolve();
    wake = () => {
      wake = undefined;
      resolve();
    };
  });
  const body = async (kind: 'request_body' | 'response_body', mode: BodyMode, chunks: Buffer[], trailers: boolean): Promise<void> => {
    if (mode === 'NONE') return;
    // sendDataInObservabilityMode: "only STREAMED body processing mode is supported and any other body processing
    // modes will be ignored".
    if (observe && mode !== 'STREAMED') return;
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
  const responsePhase = async (status: number, headers: Record<string, string>, chunks: Buffer[], trailers?: Record<string, string>): Promise<void> => {
    const hasBody = chunks.some((c) => c.length > 0);
    if (modes.responseHeaders === 'SEND') {
      send('response_headers', { response_headers: { ...headerMap({ ':status': String(status), ...headers }, legacy), end_of_stream: !hasBody } });
      const hasLength = Object.keys(headers).some((k) => k.toLowerCase() === 'content-length');
      result.responseContentLengthRemoved = !done && hasLength && removesContentLength(modes.responseBody, true);
      await settle();
    }
    if (hasBody && !done) await body('response_body', modes.responseBody, chunks, trailers !== undefined);
    if (trailers && !done && opts.cancelAfterResponseChunks === undefined) {
      send('response_trailers', { response_trailers: { trailers: headerMap(trailers, legacy)?.headers ?? null } });
      await settle();
    }
  };
  // Envoy's own reply. Before 1.33.1 it went through the encoder filters, so the processor saw its headers and body.
  const localReply = async (status: number, details: string, text: string): Promise<void> => {
    result.localReply = { status, details };
    if (!done && !atLeast(version, Since.localRepliesSkipped)) {
      await responsePhase(status, { 'content-type': 'text/plain', 'content-length': String(text.length) }, [Buffer.from(text)]);
    }
    finish();
  };

  return (async () => {
    const hasReqBody = reqChunks.some((c) => c.length > 0);
    const reqHeaders = { ':method': ex.method ?? 'POST', ':path': ex.path, ':authority': ex.authority ?? 'api.example.com', ':scheme': 'https', ...reqHeaderInput };
    send('request_headers', { request_headers: { ...headerMap(reqHeaders, legacy), end_of_stream: !hasReqBody } });
    // The client's body arrives while the headers reply is pending. From 1.35 a BUFFERED body is buffered meanwhile
    // (StopIterationAndBuffer): past the buffer limit Envoy answers 413 whatever the reply then says.
    if (hasReqBody && !observe && configured.request === 'BUFFERED' && reqBodyBytes > bufferLimit && atLeast(version, Since.bufferedWhileHeadersPending)) {
      closeStream();
      await localReply(413, 'request_payload_too_large', 'Payload Too Large');
    }
    await settle();
    if (hasReqBody && !done) {
      // handleDataBufferedMode: StopIterationAndBuffer until end of stream, so past the limit a 413 (any version).
      if (modes.requestBody === 'BUFFERED' && !observe && reqBodyBytes > bufferLimit) await localReply(413, 'request_payload_too_large', 'Payload Too Large');
      else await body('request_body', modes.requestBody, reqChunks, ex.requestTrailers !== undefined);
    }
    if (ex.requestTrailers && !done) {
      send('request_trailers', { request_trailers: { trailers: headerMap(ex.requestTrailers, legacy)?.headers ?? null } });
      await settle();
    }
    const upstreamSeesIt = result.immediate === undefined && result.localReply === undefined && !failure;
    if (upstreamSeesIt) result.forwardedRequestBody = result.requestBodyMutation ?? Buffer.concat(reqChunks);
    if (upstreamSeesIt && ex.localReply) {
      const text = ex.localReply.body ?? 'no healthy upstream';
      await localReply(ex.localReply.status, `local_reply_${ex.localReply.status}`, text);
    } else if (upstreamSeesIt && !done) {
      const answer = ex.upstream && result.forwardedRequestBody ? { ...ex, ...ex.upstream(result.forwardedRequestBody) } : ex;
      await responsePhase(answer.status ?? 200, answer.responseHeaders ?? {}, answer.responseChunks ?? [], ex.responseTrailers);
    }
    // Give a spurious extra reply a moment to show up, then end as Envoy does: half-close, then reset.
    await new Promise((r) => setTimeout(r, observe ? 20 : 2));
    closeStream();
    stopTimer('request');
    stopTimer('response');
    if (failure) throw failure;
    return result;
  })();
}

/**
 * Envoy's gRPC client (Envoy-gRPC) puts no per-message receive cap on ext_proc replies (a replaced 8 MiB body is one
 * message), and its HTTP/2 windows are large: http2_protocol_options initial_stream_window_size and
 * initial_connection_window_size default to 268435456 (protocol.proto), so an 8 MiB reply is not paced by WINDOW_UPDATEs.
 */
export const ENVOY_HTTP2_WINDOW = 268_435_456;

/**
 * A client as Envoy's; `ownConnection`: its own HTTP/2 connection instead of the one grpc-js shares between clients of
 * an address with the same options. Ending every stream with half-close + cancel (as Envoy does) costs a connection
 * after about 1,000 streams on Node's HTTP/2 (its reset limit: test/helpers/envoy-close-client.ts); runs longer than
 * that open new clients on their own connections.
 */
export function createEnvoyClient(address: string, ownConnection = false): ExternalProcessorClient {
  const { extProc } = loadProtos();
  return new extProc.envoy.service.ext_proc.v3.ExternalProcessor(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1, 'grpc-node.flow_control_window': ENVOY_HTTP2_WINDOW,
    ...(ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  });
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
