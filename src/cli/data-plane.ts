/**
 * The metering implementations the ext_proc session uses, built from config: input counting (synchronous for small
 * bodies, sliced off the hot path for large ones) and the response meter with an output tokenizer for estimates.
 */
import type { ExtprocConfig } from '../config/config.js';
import type { InputCounter, ResponseMeterFactory } from '../extproc/deps.js';
import type { Logger } from '../log/logger.js';
import { createResponseMeter } from '../llm/response-meter.js';
import { countInputTokens, countInputTokensAsync } from '../tokenize/count-request.js';
import { encodingForModel, type EncodingOverrides } from '../tokenize/encodings.js';
import { countText } from '../tokenize/text-count.js';
import { createTokenizer } from '../tokenize/tokenizer.js';

/** Bodies up to this size are counted inline (well under a millisecond); larger ones in slices that yield. */
const SYNC_COUNT_BYTES = 32 * 1024;

export interface DataPlane {
  counter: InputCounter;
  createResponseMeter: ResponseMeterFactory;
  close(): Promise<void>;
}

export function createDataPlane(config: ExtprocConfig, _logger: Logger): DataPlane {
  const overrides = config.encodingOverrides as EncodingOverrides;
  const counter: InputCounter = {
    count: (endpoint, body, model, bytes) => {
      const opts = model === undefined ? { overrides } : { model, overrides };
      if (bytes <= SYNC_COUNT_BYTES) return Promise.resolve(countInputTokens(endpoint, body, opts));
      return countInputTokensAsync(endpoint, body, opts);
    },
  };
  const meterFactory: ResponseMeterFactory = (o) => {
    const tok = createTokenizer(encodingForModel(o.model, overrides));
    return createResponseMeter({
      endpoint: o.endpoint, status: o.status, contentType: o.contentType, contentEncoding: o.contentEncoding, stream: o.stream,
      maxDecodedBytes: config.maxDecodedBytes, maxJsonBytes: config.maxResponseBodyBytes,
      countText: (text) => countText(tok, text).tokens,
    });
  };
  return { counter, createResponseMeter: meterFactory, close: () => Promise.resolve() };
}
