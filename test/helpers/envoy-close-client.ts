/**
 * A minimal ext_proc client on raw node:http2 that ends every stream the way Envoy's gRPC client does, to measure
 * what that does to one long-lived HTTP/2 connection (test/envoy/emulator.ts plays the protocol; this plays the
 * transport). Envoy's `ExternalProcessorStreamImpl::close()` (source/extensions/filters/http/ext_proc/client_impl.cc)
 * calls `stream_.closeStream()` and then at once `stream_.resetStream()`: an END_STREAM, then an RST_STREAM on a stream
 * the server has not finished. Envoy's HTTP/2 codec sends that reset with code NO_ERROR
 * (source/common/http/http2/codec_impl.cc, `reasonToReset`: only a refused stream or a CONNECT error get another
 * code); a grpc-js client's cancel() sends CANCEL. With the runtime guard
 * `envoy.reloadable_features.ext_proc_graceful_grpc_close` (Envoy ≥ 1.34, off by default) Envoy instead half-closes
 * and waits for the server to close (`halfCloseAndDeleteOnRemoteClose()`), resetting only after
 * `envoy.filters.http.ext_proc.remote_close_timeout_milliseconds` (default 1,000 ms).
 *
 * gRPC framing by hand (1-byte flag, 4-byte length, message); messages serialised with the project's protos.
 */
import * as http2 from 'node:http2';
import { loadSync } from '@grpc/proto-loader';
import { LOADER_OPTIONS, protoDir } from '../../src/extproc/protos.js';
import type { ProcessingRequest } from '../../src/gen/envoy/service/ext_proc/v3/ProcessingRequest.js';

const PROCESS_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
/** Envoy's default `envoy.filters.http.ext_proc.remote_close_timeout_milliseconds`. */
export const ENVOY_REMOTE_CLOSE_TIMEOUT_MS = 1000;

function serializeRequest(msg: ProcessingRequest): Buffer {
  const def = loadSync('envoy/service/ext_proc/v3/external_processor.proto', { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
  const service = def['envoy.service.ext_proc.v3.ExternalProcessor'] as unknown as Record<string, { requestSerialize(m: unknown): Buffer }>;
  const method = service.Process;
  if (!method) throw new Error('ExternalProcessor.Process not found in the protos');
  return method.requestSerialize(msg);
}

export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** `replied`: the reply came and the stream was ended as configured; `closed-by-server`: the same, and (graceful
 * ending) the server closed its side in time, so no reset was needed; `failed`: no reply (GOAWAY, reset, timeout). */
export type ExchangeOutcome = 'replied' | 'closed-by-server' | 'failed';

export interface EnvoyCloseOptions {
  /** `reset` (Envoy's default): half-close, then RST_STREAM. `graceful`: half-close, wait for the server's close. */
  ending?: 'reset' | 'graceful';
  /** The RST_STREAM code: Envoy's NO_ERROR (default) or grpc-js's CANCEL. */
  resetCode?: number;
  /** Give up on a stream whose reply has not come in this long. */
  replyTimeoutMs?: number;
}

export interface EnvoyCloseClient {
  /** One ext_proc stream: the request_headers of a plain GET (passed through), wait for its reply, end the stream. */
  exchange(): Promise<ExchangeOutcome>;
  /** Error codes of the GOAWAY frames the server sent on this connection. */
  goaways: number[];
  /** Whether the HTTP/2 connection has closed. */
  closed(): boolean;
  close(): Promise<void>;
}

/** The request_headers message of `GET /v1/models`: not an LLM call, so tokenmeter answers it and skips the rest. */
export function passThroughHeadersMessage(): Buffer {
  const headers = [[':method', 'GET'], [':path', '/v1/models'], [':authority', 'api.example.com'], ['x-request-id', 'rst']];
  return grpcFrame(serializeRequest({
    request_headers: { headers: { headers: headers.map(([key, value]) => ({ key, raw_value: Buffer.from(value ?? '') })) }, end_of_stream: true },
    protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'STREAMED' },
  }));
}

function endStream(stream: http2.ClientHttp2Stream, opts: EnvoyCloseOptions): Promise<ExchangeOutcome> {
  const resetCode = opts.resetCode ?? http2.constants.NGHTTP2_NO_ERROR;
  stream.end();
  return new Promise((resolve) => {
    if ((opts.ending ?? 'reset') === 'reset') {
      // The END_STREAM goes out first: Envoy defers a reset until the frames that end the local stream are sent, and
      // nghttp2 drops a DATA frame still queued when its stream is reset ('finish' can come before it is sent).
      let turns = 0;
      const resetOnceSent = (): void => {
        if (stream.state.localClose !== 1 && !stream.destroyed && turns++ < 1000) return void setImmediate(resetOnceSent);
        stream.close(resetCode);
        resolve('replied');
      };
      stream.once('finish', resetOnceSent);
      return;
    }
    const timer = setTimeout(() => {
      stream.close(resetCode);
      resolve('replied');
    }, ENVOY_REMOTE_CLOSE_TIMEOUT_MS);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve(stream.rstCode === http2.constants.NGHTTP2_NO_ERROR && stream.readableEnded ? 'closed-by-server' : 'replied');
    });
    stream.resume();
  });
}

export function connectEnvoyCloseClient(port: number, opts: EnvoyCloseOptions = {}): EnvoyCloseClient {
  const replyTimeoutMs = opts.replyTimeoutMs ?? 5000;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const goaways: number[] = [];
  let closed = false;
  session.on('goaway', (code: number) => goaways.push(code));
  session.on('close', () => {
    closed = true;
  });
  // A GOAWAY with an error code also surfaces as a session error: it is counted above, and the streams report it.
  session.on('error', () => undefined);
  const message = passThroughHeadersMessage();

  const exchange = (): Promise<ExchangeOutcome> => new Promise((resolve) => {
    if (closed || session.closed || session.destroyed) return resolve('failed');
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ':method': 'POST', ':path': PROCESS_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    } catch {
      return resolve('failed');
    }
    let reply = Buffer.alloc(0);
    let done = false;
    const finish = (outcome: ExchangeOutcome | Promise<ExchangeOutcome>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      finish('failed');
    }, replyTimeoutMs);
    const onData = (chunk: Buffer): void => {
      reply = Buffer.concat([reply, chunk]);
      if (reply.length < 5 || reply.length < 5 + reply.readUInt32BE(1)) return;
      stream.off('data', onData);
      finish(endStream(stream, opts));
    };
    stream.on('data', onData);
    stream.on('error', () => finish('failed'));
    stream.on('close', () => finish('failed'));
    stream.write(message);
  });

  return {
    exchange,
    goaways,
    closed: () => closed,
    close: () => new Promise<void>((resolve) => {
      if (closed) return resolve();
      session.once('close', () => resolve());
      session.destroy();
    }),
  };
}

/**
 * Runs `count` exchanges on `client`, starting `perTick` every `tickMs` without waiting for earlier ones; each one
 * counts once its stream is ended (reset submitted, or closed by the server).
 */
export async function pacedExchanges(client: EnvoyCloseClient, count: number, perTick: number, tickMs: number): Promise<Record<ExchangeOutcome, number>> {
  const started: Promise<ExchangeOutcome>[] = [];
  for (let i = 0; i < count; i++) {
    started.push(client.exchange());
    if ((i + 1) % perTick === 0) await new Promise((r) => setTimeout(r, tickMs));
  }
  const tally: Record<ExchangeOutcome, number> = { replied: 0, 'closed-by-server': 0, failed: 0 };
  for (const outcome of await Promise.all(started)) tally[outcome]++;
  return tally;
}
