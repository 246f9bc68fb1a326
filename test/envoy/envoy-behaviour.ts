/**
 * What the Envoy emulator does differently by Envoy version, and the mode rules of Envoy's ext_proc filter, each cited
 * to Envoy's own source (envoyproxy/envoy, source/extensions/filters/http/ext_proc/: ext_proc.cc, processor_state.cc,
 * processor_state.h; changelogs/). Read from the stored sources for issue 12; "E-old" is the ≈1.31–1.33 ext_proc.cc
 * (no protocol_config, no FULL_DUPLEX), "E-new" the 1.36/1.37-era one. Where ../shared/docs/envoy-ext-proc.md (the
 * wire sheet) disagrees with this file, this file follows Envoy's code.
 */

export type BodyMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED';
export type HeaderMode = 'DEFAULT' | 'SEND' | 'SKIP';

/** `major.minor` or `major.minor.patch`; compared numerically. */
export type EnvoyVersion = string;

/** The version the emulator plays unless a test names one: a current Envoy (every behaviour below on). */
export const DEFAULT_ENVOY_VERSION: EnvoyVersion = '1.36.0';

function parts(v: EnvoyVersion): number[] {
  const p = v.split('.').map(Number);
  if (p.length < 2 || p.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`bad Envoy version "${v}"`);
  return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0];
}

/** v >= min. */
export function atLeast(v: EnvoyVersion, min: EnvoyVersion): boolean {
  const [a, b] = [parts(v), parts(min)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

export const Since = {
  /**
   * protocol_config on the first ProcessingRequest (not in observability mode): E-new `Filter::encodeProtocolConfig`
   * (`if (!protocol_config_encoded_ && !config_->observabilityMode())`), called from buildHeaderRequest,
   * setupBodyChunk and sendTrailers; E-old has no such function. Implemented by PR #38755 (merged for 1.34.0).
   */
  protocolConfig: '1.34.0',
  /**
   * Local replies (Envoy's own 503/504/413…) are no longer sent to the processor: changelogs/1.33.1.yaml and
   * 1.34.0.yaml, "Fixes a bug where local replies were incorrectly sent to the ext_proc server" (runtime guard
   * envoy_reloadable_features_skip_ext_proc_on_local_reply; CVE-2025-30157).
   */
  localRepliesSkipped: '1.33.1',
  /**
   * A BUFFERED request body that arrives while the request_headers reply is pending is buffered
   * (StopIterationAndBuffer), so above the buffer limit Envoy answers 413 even if the reply then skips the body:
   * E-new `Filter::onData` ("For BUFFERED mode, return StopIterationAndBuffer so when buffered data reaches the
   * per-connection-limit, Envoy will a send a 413"), PR #39345 (1.35.0). E-old returns StopIterationAndWatermark
   * (flow control, never 413) for every mode.
   */
  bufferedWhileHeadersPending: '1.35.0',
  /**
   * mode_override header/trailer modes equal to DEFAULT leave the configured mode unchanged (E-new
   * `effectiveModeOverride`; 1.34.0 changelog). Before, E-old applied `response->mode_override()` verbatim.
   */
  defaultOverrideKeepsMode: '1.34.0',
} as const;

export interface Modes {
  requestBody: BodyMode;
  responseBody: BodyMode;
  /** SEND unless SKIP (DEFAULT means SEND for headers). */
  responseHeaders: 'SEND' | 'SKIP';
}

export interface ModeOverride {
  response_header_mode?: string;
  request_body_mode?: string;
  response_body_mode?: string;
}

/**
 * The modes after a headers reply's mode_override (already known to be honoured: allow_mode_override, a headers
 * reply, no FULL_DUPLEX configured — E-new `Filter::onReceiveMessage`). Body modes are always taken from the
 * override (proto3: an unset body mode is NONE); header modes per version (see Since.defaultOverrideKeepsMode).
 */
export function applyModeOverride(current: Modes, o: ModeOverride, version: EnvoyVersion): Modes {
  const header = o.response_header_mode ?? 'DEFAULT';
  let responseHeaders: Modes['responseHeaders'];
  if (header === 'DEFAULT') responseHeaders = atLeast(version, Since.defaultOverrideKeepsMode) ? current.responseHeaders : 'SEND';
  else responseHeaders = header === 'SKIP' ? 'SKIP' : 'SEND';
  return {
    requestBody: (o.request_body_mode ?? 'NONE') as BodyMode,
    responseBody: (o.response_body_mode ?? 'NONE') as BodyMode,
    responseHeaders,
  };
}

/**
 * processor_state.h `shouldRemoveContentLength`: Envoy drops the content-length header when the body mode at header
 * time is STREAMED, FULL_DUPLEX_STREAMED or BUFFERED_PARTIAL (or BUFFERED with headers not sent), evaluated in
 * decodeHeaders/encodeHeaders after the headers were sent to the processor (E-new `Filter::decodeHeaders`, `encodeHeaders`:
 * `if (!processing_complete_ && …shouldRemoveContentLength()) headers.removeContentLength()`).
 */
export function removesContentLength(mode: BodyMode, headersSent: boolean): boolean {
  return mode === 'STREAMED' || mode === 'FULL_DUPLEX_STREAMED' || mode === 'BUFFERED_PARTIAL' || (mode === 'BUFFERED' && !headersSent);
}

/** Envoy's default per-connection buffer limit (listener.proto: "If unspecified, an implementation defined default is applied (1MiB)"). */
export const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;
