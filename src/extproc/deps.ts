/**
 * What the ext_proc edge needs from the pure domain, as small interfaces so the session is tested with real or fake
 * implementations and the composition root picks them.
 */
import type { Endpoint, InputCount } from '../llm/types.js';
import type { ExtprocConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Admission, AdmitInput } from '../limits/limiter.js';
import type { FilterFacts } from '../envoy/filter-facts.js';
import type { RouteIndex } from '../policy/routes.js';
import type { LedgerSink } from '../ledger/writer.js';

export interface InputCounter {
  /** Counts a parsed request body. May run off the event loop for large bodies; never rejects for bad shapes. */
  count(endpoint: Endpoint, body: unknown, model: string | undefined, bodyBytes: number): Promise<InputCount>;
}

/** The response meter the session drives is the domain's (src/llm/response-meter.ts): one definition, not a copy. */
export type { ResponseMeter, ResponseMeterResult } from '../llm/response-meter.js';
import type { ResponseMeter } from '../llm/response-meter.js';

/** What the session knows when a response starts; the composition root adds caps and the output tokenizer. */
export interface ResponseMeterOptions {
  endpoint: Endpoint;
  status: number;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  stream: boolean;
  sse?: boolean;
  /** The model the request named: picks the tokenizer for output estimates. */
  model?: string;
}

export interface Gatekeeper {
  /** Whether any policy is loaded (when none is, requests skip the admission step entirely). */
  active(): boolean;
  admit(input: AdmitInput): Promise<Admission>;
}

export type ResponseMeterFactory = (opts: ResponseMeterOptions) => ResponseMeter;

export interface SessionDeps {
  config: ExtprocConfig;
  logger: Logger;
  metrics: Metrics;
  counter: InputCounter;
  createResponseMeter: ResponseMeterFactory;
  /** Token budgets; absent = metering only. */
  limiter?: Gatekeeper;
  /** Monotonic clock in nanoseconds; injected for tests. */
  now?: () => bigint;
  /** The filter's facts as the operator published them; absent or undefined: the flags' (config). */
  filterFacts?: () => FilterFacts | undefined;
  /**
   * The route index the operator published: a policy with targetRefs applies only on the routes it is attached to.
   * Absent or undefined (local mode, an operator that does not publish it): targetRefs are not resolvable and ignored.
   */
  routes?: () => RouteIndex | undefined;
  /** The spend ledger: each settled request's usage record is handed to it (never awaited). Absent: no ledger. */
  ledger?: LedgerSink;
  /** Wall clock (ms since the epoch) for the records' time; injected for tests. */
  wallClock?: () => number;
}

/** What the session knows about the filter: the operator's published facts, else the flags. */
export function filterFacts(deps: Pick<SessionDeps, 'config' | 'filterFacts'>): FilterFacts {
  return deps.filterFacts?.() ?? { messageTimeoutMs: deps.config.messageTimeoutMs, ...deps.config.assumedBodyModes };
}
