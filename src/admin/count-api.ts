/**
 * `POST /v1/count[?endpoint=NAME | ?path=/v1/chat/completions][&model=M]`: input tokens, encoding, exact or
 * estimated, and the estimated cost of a request body of any supported format (rules in
 * src/metering/request-estimate.ts). Public: it reveals nothing about traffic or budgets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { estimateRequest, parseJsonBody } from '../metering/request-estimate.js';
import type { EncodingOverrides } from '../tokenize/encodings.js';
import { readBody, sendError, sendJson, sendTooLarge } from './http.js';

export interface CountApiDeps {
  /** Largest body accepted (config.maxRequestBodyBytes); larger → 413. */
  maxBodyBytes: number;
  overrides?: EncodingOverrides;
}

export async function handleCount(req: IncomingMessage, res: ServerResponse, url: URL, deps: CountApiDeps): Promise<void> {
  const reading = await readBody(req, deps.maxBodyBytes);
  if (!reading.ok) {
    if (reading.reason === 'too_large') sendTooLarge(req, res, deps.maxBodyBytes);
    return;
  }
  const parsed = parseJsonBody(reading.body);
  if (!parsed.ok) {
    sendError(res, 400, 'TM_JSON_INVALID', parsed.message);
    return;
  }
  const q = url.searchParams;
  const result = await estimateRequest({
    body: parsed.body,
    endpoint: q.get('endpoint') ?? undefined,
    path: q.get('path') ?? undefined,
    model: q.get('model') ?? undefined,
    overrides: deps.overrides,
  });
  if (!result.ok) {
    sendError(res, 400, 'TM_REQUEST_INVALID', result.message);
    return;
  }
  sendJson(res, 200, result.estimate);
}
