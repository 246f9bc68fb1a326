/**
 * Emulator options from what the operator renders, so a test plays Envoy configured exactly as tokenmeter configures
 * it in each flavour: the ext_proc filter (Istio EnvoyFilter, plain-Envoy ConfigMap) or Envoy Gateway's extProc entry,
 * translated as Envoy Gateway's translator does (internal/xds/translator/extproc.go: no `request.body` → NONE).
 */
import type { ExtProcFilterConfig } from '../../src/render/ext-proc-filter.js';
import type { ExtProcSpec } from '../../src/render/envoy-gateway.js';
import { parseGoDuration } from '../../src/render/settings.js';
import type { BodyMode, EnvoyOptions } from './emulator.js';

type Rendered = Pick<EnvoyOptions, 'requestBodyMode' | 'responseBodyMode' | 'allowModeOverride' | 'failureModeAllow' | 'messageTimeoutMs'>;

export function optionsForFilter(c: ExtProcFilterConfig): Rendered {
  return {
    requestBodyMode: c.processing_mode.request_body_mode, responseBodyMode: c.processing_mode.response_body_mode,
    allowModeOverride: c.allow_mode_override, failureModeAllow: c.failure_mode_allow, messageTimeoutMs: Number.parseFloat(c.message_timeout) * 1000,
  };
}

const EG_BODY: Record<string, BodyMode> = { Buffered: 'BUFFERED', Streamed: 'STREAMED', BufferedPartial: 'BUFFERED_PARTIAL', FullDuplexStreamed: 'FULL_DUPLEX_STREAMED' };

export function optionsForEnvoyGateway(e: ExtProcSpec): Rendered {
  const body = (m: object): BodyMode => {
    const b = (m as { body?: string }).body;
    return b === undefined ? 'NONE' : EG_BODY[b] ?? 'NONE';
  };
  return {
    requestBodyMode: body(e.processingMode.request), responseBodyMode: body(e.processingMode.response),
    allowModeOverride: e.processingMode.allowModeOverride, failureModeAllow: e.failOpen, messageTimeoutMs: parseGoDuration(e.messageTimeout) ?? 200,
  };
}
