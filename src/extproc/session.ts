/**
 * One ext_proc stream = one HTTP request. Answers every ProcessingRequest exactly once, in order, with the matching
 * kind, and never holds a body chunk back waiting for later ones: metering happens beside the traffic. Bad input is
 * counted and passed through; it never fails the stream.
 */
import { TextDecoder } from 'node:util';
import type { ProcessingRequest__Output } from '../gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { HttpBody__Output } from '../gen/envoy/service/ext_proc/v3/HttpBody.js';
import type { HttpHeaders__Output } from '../gen/envoy/service/ext_proc/v3/HttpHeaders.js';
import type { Struct } from '../gen/google/protobuf/Struct.js';
import { matchRoute, type Route } from '../llm/routes.js';
import { readRequestFacts, withStreamUsage } from '../llm/request-facts.js';
import type { InputCount, RequestFacts } from '../llm/types.js';
import { decideOutcome } from '../metering/outcome.js';
import type { ResponseMeter, ResponseMeterResult, SessionDeps } from './deps.js';
import { readHeaders, setHeader } from './headers.js';
import { logRecord, metadataFor, recordMetrics, type RequestRecord } from './report.js';

export type Reply = ProcessingResponse | undefined;
type BodyMode = string;

/** Asks Envoy (when allow_mode_override is on) to send nothing more for a request we do not meter. */
const SKIP_REST = {
  request_body_mode: 'NONE', response_body_mode: 'NONE', response_header_mode: 'SKIP',
  request_trailer_mode: 'SKIP', response_trailer_mode: 'SKIP',
} as const;
const PRECOUNT_HEADER = 'x-tokenmeter-input-tokens';
const PRECOUNT_WAIT_MS = 50;

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(resolve, ms, undefined).unref());
}
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class Session {
  private route: Route | undefined;
  private passthrough = false;
  private requestId = '';
  private facts: RequestFacts = { stream: false };
  private reqChunks: Buffer[] = [];
  private reqBytes = 0;
  private reqOverCap = false;
  private reqDone = false;
  private reqUnreadable: string | undefined;
  private injected = false;
  private precount: Promise<InputCount | undefined> | undefined;
  private precountValue: InputCount | undefined;
  private status: number | undefined;
  private meter: ResponseMeter | undefined;
  private finishing: Promise<Struct | undefined> | undefined;
  private responseIncomplete = false;
  private requestBodyMode: BodyMode | undefined;
  private responseBodyMode: BodyMode | undefined;
  private readonly startedAt: bigint;
  private readonly now: () => bigint;

  constructor(private readonly deps: SessionDeps) {
    this.now = deps.now ?? ((): bigint => process.hrtime.bigint());
    this.startedAt = this.now();
  }

  /** Processes one message; the reply (or undefined in observability mode) may be a promise. */
  handle(msg: ProcessingRequest__Output): Reply | Promise<Reply> {
    if (msg.protocol_config) {
      this.requestBodyMode = msg.protocol_config.request_body_mode;
      this.responseBodyMode = msg.protocol_config.response_body_mode;
    }
    const reply = this.dispatch(msg);
    if (!msg.observability_mode) return reply;
    return reply instanceof Promise ? reply.then(() => undefined) : undefined;
  }

  private dispatch(msg: ProcessingRequest__Output): Reply | Promise<Reply> {
    switch (msg.request) {
      case 'request_headers': return this.onRequestHeaders(msg.request_headers);
      case 'request_body': return this.onRequestBody(msg.request_body);
      case 'request_trailers':
        this.completeRequestBody(false);
        return { request_trailers: {} };
      case 'response_headers': return this.onResponseHeaders(msg.response_headers);
      case 'response_body': return this.onResponseBody(msg.response_body);
      case 'response_trailers': return this.withMetadata({ response_trailers: {} }, this.finish(true));
      default:
        this.deps.metrics.streamErrors.inc({ reason: 'unknown_message' });
        this.deps.logger.warn({ request_id: this.requestId }, 'ext_proc message of unknown kind ignored');
        return undefined;
    }
  }

  private onRequestHeaders(h: HttpHeaders__Output | null | undefined): Reply {
    const headers = readHeaders(h?.headers);
    this.requestId = headers.get('x-request-id') ?? '';
    this.route = matchRoute(headers.get(':method') ?? '', headers.get(':path') ?? '');
    if (!this.route) {
      this.passthrough = true;
      this.deps.metrics.unmetered.inc();
      return { request_headers: { response: {} }, mode_override: SKIP_REST };
    }
    this.deps.metrics.openStreams.inc();
    const encoding = headers.get('content-encoding');
    if (encoding && encoding !== 'identity') this.reqUnreadable = 'request_encoded';
    if (h?.end_of_stream) this.completeRequestBody(false);
    return { request_headers: { response: {} } };
  }

  private onRequestBody(b: HttpBody__Output | null | undefined): Reply {
    const chunk = b?.body ?? Buffer.alloc(0);
    const echo = this.requestBodyMode === 'FULL_DUPLEX_STREAMED';
    const reply: ProcessingResponse = echo
      ? { request_body: { response: { body_mutation: { streamed_response: { body: chunk, end_of_stream: b?.end_of_stream ?? false } } } } }
      : { request_body: { response: {} } };
    if (this.passthrough || this.reqDone || !this.route) return reply;
    this.collect(chunk);
    const single = this.requestBodyMode === 'BUFFERED' || this.requestBodyMode === 'BUFFERED_PARTIAL';
    if (b?.end_of_stream || single) {
      if (this.requestBodyMode === 'BUFFERED_PARTIAL' && !b?.end_of_stream) this.reqUnreadable ??= 'truncated';
      const mutated = this.completeRequestBody(single && !echo && this.reqChunks.length <= 1);
      if (mutated) return { request_body: { response: { body_mutation: { body: mutated } } } };
    }
    return reply;
  }

  private collect(chunk: Buffer): void {
    if (this.reqOverCap || chunk.length === 0) return;
    if (this.reqBytes + chunk.length > this.deps.config.maxRequestBodyBytes) {
      this.reqOverCap = true;
      this.reqChunks = [];
      return;
    }
    this.reqBytes += chunk.length;
    this.reqChunks.push(chunk);
  }

  /** Parses and counts the request body once it is complete. Returns a replacement body when one is wanted. */
  private completeRequestBody(canMutate: boolean): Buffer | undefined {
    if (this.reqDone || this.passthrough || !this.route) return undefined;
    this.reqDone = true;
    const route = this.route;
    const problem = this.reqOverCap ? 'body_too_large' : this.reqUnreadable;
    const raw = this.reqChunks.length === 1 ? (this.reqChunks[0] as Buffer) : Buffer.concat(this.reqChunks);
    this.reqChunks = [];
    if (problem) return this.requestProblem(problem);
    if (raw.length === 0) {
      this.facts = readRequestFacts(route, undefined);
      return undefined;
    }
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      this.requestProblem('utf8_invalid');
      text = raw.toString('utf8');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return this.requestProblem('json_invalid');
    }
    this.facts = readRequestFacts(route, body);
    this.startCount(body, raw.length);
    if (!canMutate || !this.deps.config.injectStreamUsage) return undefined;
    const replaced = withStreamUsage(route, body, this.facts);
    this.injected = replaced !== undefined;
    return replaced;
  }

  private startCount(body: unknown, bytes: number): void {
    const route = this.route as Route;
    const model = route.azureDeployment && this.facts.model === route.pathModel ? undefined : this.facts.model;
    this.precount = this.deps.counter.count(route.endpoint, body, model, bytes).then(
      (c) => (this.precountValue = c),
      (err: unknown) => {
        this.deps.metrics.parseFailures.inc({ phase: 'request', reason: 'tokenize_failed' });
        this.deps.logger.warn({ request_id: this.requestId, err }, 'input token count failed');
        return undefined;
      },
    );
  }

  private requestProblem(reason: string): undefined {
    this.deps.metrics.parseFailures.inc({ phase: 'request', reason });
    this.deps.logger.debug({ request_id: this.requestId, reason }, 'request body not metered; passed through');
    return undefined;
  }

  private onResponseHeaders(h: HttpHeaders__Output | null | undefined): Reply | Promise<Reply> {
    if (this.passthrough || !this.route) return { response_headers: { response: {} } };
    this.completeRequestBody(false);
    const headers = readHeaders(h?.headers);
    const status = Number(headers.get(':status'));
    this.status = Number.isInteger(status) ? status : undefined;
    this.meter = this.deps.createResponseMeter({
      endpoint: this.route.endpoint, status: this.status ?? 0, contentType: headers.get('content-type'),
      contentEncoding: headers.get('content-encoding'), stream: this.facts.stream, sse: this.route.sse, model: this.facts.model,
    });
    const build = (): ProcessingResponse => {
      const count = this.precountValue;
      return count
        ? { response_headers: { response: { header_mutation: { set_headers: [setHeader(PRECOUNT_HEADER, String(count.tokens))] } } } }
        : { response_headers: { response: {} } };
    };
    const pending = this.precountValue === undefined ? this.precount : undefined;
    // Wait briefly for a count still running (large bodies), but never long enough to threaten Envoy's message timeout.
    const reply = pending ? Promise.race([pending, delay(PRECOUNT_WAIT_MS)]).then(build) : build();
    return h?.end_of_stream ? this.withMetadata(reply, this.finish(true)) : reply;
  }

  private onResponseBody(b: HttpBody__Output | null | undefined): Reply | Promise<Reply> {
    const chunk = b?.body ?? Buffer.alloc(0);
    const echo = this.responseBodyMode === 'FULL_DUPLEX_STREAMED';
    const reply: ProcessingResponse = echo
      ? { response_body: { response: { body_mutation: { streamed_response: { body: chunk, end_of_stream: b?.end_of_stream ?? false } } } } }
      : { response_body: { response: {} } };
    if (this.passthrough || !this.route) return reply;
    if (!this.meter) {
      this.deps.metrics.streamErrors.inc({ reason: 'body_before_headers' });
      return reply;
    }
    if (chunk.length > 0) this.meter.write(chunk);
    return b?.end_of_stream ? this.withMetadata(reply, this.finish(true)) : reply;
  }

  private withMetadata(reply: Reply | Promise<Reply>, metadata: Promise<Struct | undefined>): Promise<Reply> {
    return Promise.all([reply, metadata]).then(([r, md]) => (r && md ? { ...r, dynamic_metadata: md } : r));
  }

  /** Called when the gRPC stream ends for any reason: accounts the request if the response never completed. */
  close(): Promise<void> {
    if (this.passthrough || !this.route) return Promise.resolve();
    return this.finish(false).then(() => undefined);
  }

  /** Settles the request once: final usage, metrics, log line; resolves to the dynamic metadata. */
  private finish(complete: boolean): Promise<Struct | undefined> {
    if (this.finishing) return this.finishing.then(() => undefined);
    if (!complete && this.meter) this.responseIncomplete = true;
    const route = this.route;
    if (!route) return Promise.resolve(undefined);
    this.completeRequestBody(false);
    this.finishing = Promise.all([this.meter?.end(), this.precount]).then(([raw, precount]) => {
      // Usage the provider started to report but never finished (a stream cut short) is partly our estimate.
      const reading = raw?.problems.includes('usage_incomplete') ? { ...raw, usageSource: 'estimated' as const } : raw;
      const record = this.record(reading, precount);
      this.deps.metrics.openStreams.dec();
      recordMetrics(this.deps.metrics, record);
      logRecord(this.deps.logger, record);
      return metadataFor(record);
    });
    return this.finishing;
  }

  private record(reading: ResponseMeterResult | undefined, precount: InputCount | undefined): RequestRecord {
    const route = this.route as Route;
    const problems = reading ? [...reading.problems] : [];
    if (this.status === undefined) problems.push('no_response');
    else if (this.responseIncomplete) problems.push('response_incomplete');
    const record: RequestRecord = {
      requestId: this.requestId, provider: route.provider, endpoint: route.endpoint, stream: this.facts.stream,
      outcome: decideOutcome(this.status, precount, reading), problems, injectedIncludeUsage: this.injected,
      durationSeconds: Number(this.now() - this.startedAt) / 1e9,
    };
    if (this.facts.model !== undefined) record.requestModel = this.facts.model;
    if (reading?.model !== undefined) record.responseModel = reading.model;
    if (this.status !== undefined) record.status = this.status;
    if (precount) record.precount = precount;
    if (reading?.usageSource === 'provider') record.reportedUsage = reading.usage;
    return record;
  }
}
