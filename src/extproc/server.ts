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
import { widenReceiveWindows } from './http2-window.js';

type ProcessCall = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

/** An empty reply of the kind that answers `msg`: the safe pass-through when something inside us failed. */
export function passThroughReply(msg: ProcessingRequest__Output): Reply {
  return msg.request ? ({ [msg.request]: msg.request.endsWith('trailers') ? {} : { response: {} } }) : undefined;
}

export interface ExtprocServer {
  port: number;
  health: HealthState;
  openStreams(): number;
  /** Stops accepting, lets open streams finish until the deadline, then cancels the rest. */
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

export async function startExtprocServer(deps: SessionDeps, host: string, port: number): Promise<ExtprocServer> {
  const protos = loadProtos();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.keepalive_permit_without_calls': 1 });
  const health = new HealthState();
  const calls = new Set<ProcessCall>();
  const timers = new MessageTimers(deps.metrics);
  server.addService(protos.extProc.envoy.service.ext_proc.v3.ExternalProcessor.service, {
    Process: (call: ProcessCall) => {
      calls.add(call);
      serveStream(call, deps, timers, () => calls.delete(call));
    },
  });
  server.addService(protos.health.grpc.health.v1.Health.service, health.handlers());
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(new TokenmeterError(ErrorCodes.SERVER_START_FAILED, `cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      else resolve(p);
    });
  });
  if (!widenReceiveWindows(server)) deps.logger.warn('could not widen the HTTP/2 receive windows (grpc-js internals changed): large prompts arrive more slowly');
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
    }),
  };
}
