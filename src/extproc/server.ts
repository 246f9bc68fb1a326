/**
 * The gRPC edge: ExternalProcessor/Process streams and grpc.health.v1 on one server. Each stream gets a Session;
 * replies are written in arrival order (a synchronous reply goes out at once unless an earlier one is still pending).
 */
import * as grpc from '@grpc/grpc-js';
import type { ProcessingRequest__Output } from '../gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';
import type { SessionDeps } from './deps.js';
import { HealthState } from './health.js';
import { loadProtos } from './protos.js';
import { Session, type Reply } from './session.js';
import { applyStreamResetLimit, streamResetLimit } from './stream-resets.js';

type ProcessCall = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

/** How long shutdown waits for streams that have ended to finish settling (a settle is one store round trip). */
const SETTLE_AFTER_SHUTDOWN_MS = 5000;

/** An empty reply of the kind that answers `msg`: the safe pass-through when something inside us failed. */
export function passThroughReply(msg: ProcessingRequest__Output): Reply {
  return msg.request ? ({ [msg.request]: msg.request.endsWith('trailers') ? {} : { response: {} } }) : undefined;
}

export interface ExtprocServer {
  port: number;
  health: HealthState;
  openStreams(): number;
  /**
   * Stops accepting, lets open streams finish until the deadline, then cancels the rest; resolves once every stream's
   * request has settled (its log line written and its usage record handed to the ledger), or a few seconds later.
   */
  shutdown(graceMs: number): Promise<void>;
}

/** Per-message-kind histogram children, bound once: labelled observe() re-validates labels on every call. */
class MessageTimers {
  private readonly children = new Map<string, { observe(v: number): void }>();
  constructor(private readonly metrics: SessionDeps['metrics']) {}
  get(kind: string): { observe(v: number): void } {
    let child = this.children.get(kind);
    if (!child) {
      child = this.metrics.messageDuration.labels({ message: kind });
      this.children.set(kind, child);
    }
    return child;
  }
}

function serveStream(call: ProcessCall, deps: SessionDeps, timers: MessageTimers, onDone: () => void): void {
  const { metrics, logger } = deps;
  const session = new Session(deps);
  let tail: Promise<void> | undefined;
  let pending = 0;
  let ended = false;
  const now = deps.now ?? ((): bigint => process.hrtime.bigint());
  const send = (reply: Reply, kind: string, start: bigint): void => {
    if (reply && !ended && call.writable) call.write(reply);
    timers.get(kind).observe(Number(now() - start) / 1e9);
  };
  call.on('data', (msg: ProcessingRequest__Output) => {
    const start = now();
    const kind = msg.request ?? 'unknown';
    let out: Reply | Promise<Reply>;
    try {
      out = session.handle(msg);
    } catch (err) {
      metrics.streamErrors.inc({ reason: 'internal' });
      logger.error({ err, kind }, 'ext_proc message handling failed; passing through');
      out = msg.observability_mode ? undefined : passThroughReply(msg);
    }
    if (pending === 0 && !(out instanceof Promise)) {
      send(out, kind, start);
      return;
    }
    pending++;
    const settled = Promise.resolve(out).catch((err: unknown) => {
      metrics.streamErrors.inc({ reason: 'internal' });
      logger.error({ err, kind }, 'ext_proc reply failed; passing through');
      return msg.observability_mode ? undefined : passThroughReply(msg);
    });
    tail = (tail ?? Promise.resolve()).then(() => settled).then((reply) => {
      pending--;
      send(reply, kind, start);
    });
  });
  let closed = false;
  const close = (how: 'end' | 'cancelled' | 'error'): void => {
    if (closed) return;
    closed = true;
    const finishStream = (): void => {
      ended = true;
      if (how === 'end' && call.writable) call.end();
      void session.close().finally(onDone);
    };
    if (tail) void tail.then(finishStream);
    else finishStream();
  };
  call.on('end', () => close('end'));
  // Envoy ends every stream with half-close then reset: CANCELLED is the normal end, not an error.
  call.on('cancelled', () => close('cancelled'));
  call.on('error', (err: grpc.ServiceError) => {
    if (err.code !== grpc.status.CANCELLED) {
      metrics.streamErrors.inc({ reason: 'grpc_error' });
      logger.warn({ err: { code: err.code, message: err.message } }, 'ext_proc stream error');
    }
    close('error');
  });
}

/**
 * Envoy resets every ext_proc stream it is done with (see stream-resets.ts): nghttp2's default rapid-reset limit would
 * close a busy gateway's connection after ~1,000 requests. Raise it to the configured bound, or say loudly why not.
 */
function limitStreamResets(server: grpc.Server, deps: SessionDeps): void {
  const perSecond = deps.config.maxStreamResetsPerSecond;
  const outcome = applyStreamResetLimit(server, streamResetLimit(perSecond));
  if (outcome === 'applied') return;
  const effect = 'an Envoy sending more than 33 ext_proc requests/s on one connection has it closed (GOAWAY) after about 1,000';
  if (outcome === 'node-ignores') {
    deps.logger.warn({ node: process.versions.node }, `Node < 22.10 cannot raise HTTP/2's stream-reset limit: ${effect}; run Node >= 22.10, turn on Envoy's ext_proc_graceful_grpc_close, or set max_requests_per_connection below 1000 on its tokenmeter cluster`);
  } else {
    deps.logger.error({ node: process.versions.node }, `@grpc/grpc-js no longer takes http2 server options from commonServerOptions: the stream-reset limit stays nghttp2's default, and ${effect}`);
  }
}

export async function startExtprocServer(deps: SessionDeps, host: string, port: number): Promise<ExtprocServer> {
  const protos = loadProtos();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.keepalive_permit_without_calls': 1 });
  limitStreamResets(server, deps);
  const health = new HealthState();
  const calls = new Set<ProcessCall>();
  const timers = new MessageTimers(deps.metrics);
  let onDrained: (() => void) | undefined;
  server.addService(protos.extProc.envoy.service.ext_proc.v3.ExternalProcessor.service, {
    Process: (call: ProcessCall) => {
      calls.add(call);
      serveStream(call, deps, timers, () => {
        calls.delete(call);
        if (calls.size === 0) onDrained?.();
      });
    },
  });
  /** Streams end before their request settles (the store round trip): wait for those, bounded. */
  const settled = (ms: number): Promise<void> => new Promise<void>((resolve) => {
    if (calls.size === 0) return resolve();
    const timer = setTimeout(() => {
      deps.logger.warn({ unsettled: calls.size }, 'shutdown: requests still settling after the deadline');
      resolve();
    }, ms);
    onDrained = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  server.addService(protos.health.grpc.health.v1.Health.service, health.handlers());
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(new TokenmeterError(ErrorCodes.SERVER_START_FAILED, `cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      else resolve(p);
    });
  });
  return {
    port: boundPort,
    health,
    openStreams: () => calls.size,
    shutdown: (graceMs) => new Promise<void>((resolve) => {
      health.set('NOT_SERVING');
      health.endWatches();
      const timer = setTimeout(() => {
        deps.logger.warn({ open_streams: calls.size }, 'shutdown deadline reached; cancelling open streams');
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }).then(() => settled(SETTLE_AFTER_SHUTDOWN_MS)),
  };
}
