/**
 * The HTTP/2 stream-reset limit of the ext_proc server. Envoy ends every ext_proc stream with a half-close followed at
 * once by RST_STREAM (source/extensions/filters/http/ext_proc/client_impl.cc, `ExternalProcessorStreamImpl::close()`;
 * not when `envoy.reloadable_features.ext_proc_graceful_grpc_close` is on, Envoy ≥ 1.34, off by default), so one reset
 * reaches us per metered request. Node's nghttp2 (≥ 1.57, the CVE-2023-44487 "rapid reset" mitigation) answers more
 * than a burst of 1,000 resets refilled at 33 per second on one connection with GOAWAY and closes it, killing every
 * stream on it. Node ≥ 22.10 (and 23+) lets a server set that token bucket (`streamResetBurst`, `streamResetRate`);
 * Node 20 has no such option. @grpc/grpc-js (to 1.14.7) builds its http2 server from a private `commonServerOptions`
 * object and has no channel option for it, so the limit is written there before the server binds; the contract test
 * in stream-resets.test.ts fails if grpc-js stops reading that object.
 */
import type * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

export interface StreamResetLimit {
  /** Resets allowed at once on one connection (the bucket's size). */
  burst: number;
  /** Resets per second the bucket refills. */
  rate: number;
}

/** The nghttp2 bucket for a limit of `perSecond` resets a second on one connection: that rate, and a second's burst. */
export function streamResetLimit(perSecond: number): StreamResetLimit {
  return { burst: perSecond, rate: perSecond };
}

/** Whether this Node passes `streamResetBurst`/`streamResetRate` to nghttp2 (nodejs/node#54875: 23.0.0, 22.10.0). */
export function nodeSetsStreamResetLimit(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 10);
}

/**
 * What became of the limit: `applied`; `node-ignores` (the options are set but this Node does not read them, so
 * nghttp2's default 1,000 + 33/s stays); `grpc-internals-changed` (grpc-js no longer has the object it builds its
 * http2 server from: nothing was set).
 */
export type StreamResetLimitOutcome = 'applied' | 'node-ignores' | 'grpc-internals-changed';

/** Writes the limit into the http2 server options grpc-js will use when `server` binds; call before bindAsync. */
export function applyStreamResetLimit(server: grpc.Server, limit: StreamResetLimit, nodeVersion?: string): StreamResetLimitOutcome {
  const options = (server as unknown as { commonServerOptions?: unknown }).commonServerOptions;
  if (typeof options !== 'object' || options === null) return 'grpc-internals-changed';
  const http2Options = options as http2.ServerOptions & { streamResetBurst?: number; streamResetRate?: number };
  http2Options.streamResetBurst = limit.burst;
  http2Options.streamResetRate = limit.rate;
  return nodeSetsStreamResetLimit(nodeVersion) ? 'applied' : 'node-ignores';
}
