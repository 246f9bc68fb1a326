/**
 * A wider HTTP/2 receive window for the ext_proc server. Node's default (65,535 bytes per stream and connection) makes
 * Envoy wait for a WINDOW_UPDATE from tokenmeter's event loop every 64 KiB, so an 8 MiB prompt took about 128 round
 * trips to arrive — 140–300 ms on a busy two-core machine, all of it inside Envoy's message timeout (the timer starts
 * when Envoy sends the message). With a 16 MiB stream window and a 64 MiB connection window it arrives in one go
 * (74–98 ms measured the same way; README, "Budget decisions inside Envoy's message timeout"). Envoy's own windows
 * for the replies are 256 MiB by default (http2_protocol_options).
 *
 * @grpc/grpc-js has no server option for it (only its client has `grpc-node.flow_control_window`), so each HTTP/2
 * session is widened when it starts, through the server's http2 listeners. They are a private field of grpc-js'
 * Server: when a future version moves it, nothing breaks — the windows stay Node's defaults and the caller logs it.
 */
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

export const STREAM_WINDOW_BYTES = 16 * 1024 * 1024;
export const CONNECTION_WINDOW_BYTES = 64 * 1024 * 1024;

/** Widens every HTTP/2 session `server` accepts from now on; false when the listeners could not be found. */
export function widenReceiveWindows(server: grpc.Server): boolean {
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map) || listeners.size === 0) return false;
  for (const h of listeners.keys() as IterableIterator<Http2Server>) {
    if (typeof h.on !== 'function') return false;
    h.on('session', (session: ServerHttp2Session) => {
      session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      session.settings({ initialWindowSize: STREAM_WINDOW_BYTES });
    });
  }
  return true;
}
