/**
 * What the ext_proc knows about the Envoy filter it runs behind, beyond what Envoy tells it on the wire: the body
 * modes the filter is configured with (Envoy sends them in `protocol_config` only from 1.34, PR #38755: older
 * releases, and Envoy in observability mode, do not) and the filter's `message_timeout`, inside which every budget
 * decision must be answered. In Kubernetes the operator publishes what it rendered (src/render/data-plane.ts); in
 * local mode the flags --message-timeout and --assume-body-modes say it. Pure.
 */

export type BodyMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED';
export const BODY_MODES: readonly BodyMode[] = ['NONE', 'STREAMED', 'BUFFERED', 'BUFFERED_PARTIAL', 'FULL_DUPLEX_STREAMED'];

export interface FilterFacts {
  /** Envoy's message_timeout for this filter, in ms. */
  messageTimeoutMs: number;
  /** The configured request body mode (before any mode_override). */
  requestBodyMode: BodyMode;
  /** The configured response body mode. */
  responseBodyMode: BodyMode;
}

/**
 * What the operator renders in every flavour and the README's plain-Envoy snippet configures: no request body by
 * default (tokenmeter asks for it, BUFFERED, on the requests it meters: an upload on any other path is never
 * buffered), a STREAMED response body, a 2 s message timeout (src/render/settings.ts).
 */
export const RENDERED_FILTER: FilterFacts = Object.freeze({ messageTimeoutMs: 2000, requestBodyMode: 'NONE', responseBodyMode: 'STREAMED' });

export function isBodyMode(v: unknown): v is BodyMode {
  return typeof v === 'string' && (BODY_MODES as readonly string[]).includes(v);
}

/** `REQUEST,RESPONSE` (e.g. `NONE,STREAMED`); undefined when it is not two body modes. */
export function parseBodyModes(text: string): { requestBodyMode: BodyMode; responseBodyMode: BodyMode } | undefined {
  const [request, response, ...rest] = text.split(',').map((s) => s.trim().toUpperCase());
  if (rest.length > 0 || !isBodyMode(request) || !isBodyMode(response)) return undefined;
  return { requestBodyMode: request, responseBodyMode: response };
}

/** FilterFacts from untrusted JSON (the published document); undefined when any field is missing or wrong. */
export function filterFactsFrom(v: unknown): FilterFacts | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const ms = o.messageTimeoutMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return undefined;
  if (!isBodyMode(o.requestBodyMode) || !isBodyMode(o.responseBodyMode)) return undefined;
  return { messageTimeoutMs: ms, requestBodyMode: o.requestBodyMode, responseBodyMode: o.responseBodyMode };
}
