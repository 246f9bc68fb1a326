/**
 * Which body modes a stream runs in, and the mode_override that asks Envoy for the request body of a metered request.
 *
 * The filter is configured without a request body (NONE; src/envoy/filter-facts.ts RENDERED_FILTER): from Envoy 1.35
 * a BUFFERED body that arrives while the request-headers reply is pending is buffered, and past the buffer limit Envoy
 * answers 413 even if the reply then skips the body (ext_proc.cc `Filter::onData`, PR #39345) — so an upload on a path
 * tokenmeter does not meter could be refused. Instead, the headers reply of a metered request switches the request
 * body to BUFFERED. Envoy applies body modes from every honoured override (E-new `effectiveModeOverride`) and sends
 * the body held meanwhile (processor_state.cc `handleHeadersResponse`). Header and trailer modes are left DEFAULT:
 * unchanged from 1.34, SEND (headers) and SKIP (trailers) before — what the filter is configured with either way.
 *
 * Modes are known from `protocol_config` (Envoy ≥ 1.34, first message, not in observability mode), else from the
 * facts the operator published or the flags: Envoy before 1.34 says nothing.
 */
import type { ProcessingMode } from '../gen/envoy/extensions/filters/http/ext_proc/v3/ProcessingMode.js';
import type { ProcessingRequest__Output } from '../gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import { isBodyMode, type BodyMode, type FilterFacts } from '../envoy/filter-facts.js';

export interface StreamModes {
  request: BodyMode;
  response: BodyMode;
}

/** The stream's configured modes: protocol_config when Envoy sent it, else the facts. */
export function streamModes(msg: ProcessingRequest__Output, facts: Pick<FilterFacts, 'requestBodyMode' | 'responseBodyMode'>): StreamModes {
  const pc = msg.protocol_config;
  if (pc && isBodyMode(pc.request_body_mode) && isBodyMode(pc.response_body_mode)) return { request: pc.request_body_mode, response: pc.response_body_mode };
  return { request: facts.requestBodyMode, response: facts.responseBodyMode };
}

/** For a metered request with a body: the override asking for it BUFFERED, when the filter is not sending it. */
export function bufferRequestBody(modes: StreamModes): ProcessingMode | undefined {
  if (modes.request !== 'NONE') return undefined;
  return { request_body_mode: 'BUFFERED', response_body_mode: modes.response };
}
