/**
 * Request attributes Envoy sends when the filter lists them in request_attributes: in
 * `ProcessingRequest.attributes["envoy.filters.http.ext_proc"]` (ext_proc.cc addAttributes), keyed by the expression
 * text, strings as string values, on the first request-direction message only.
 */
import type { ProcessingRequest__Output } from '../gen/envoy/service/ext_proc/v3/ProcessingRequest.js';

/** The route the request came through (Envoy's `xds.route_name`): src/policy/routes.ts. */
export const ROUTE_NAME_ATTRIBUTE = 'xds.route_name';

/** A non-empty string attribute, from whichever filter struct carries it. */
export function stringAttribute(msg: ProcessingRequest__Output, key: string): string | undefined {
  for (const struct of Object.values(msg.attributes ?? {})) {
    const v = struct.fields?.[key];
    if (v?.kind === 'stringValue' && v.stringValue) return v.stringValue;
  }
  return undefined;
}
