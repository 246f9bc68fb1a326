/**
 * One ext_proc stream = one HTTP request. Answers every ProcessingRequest exactly once, in order, with the matching
 * kind, and never holds a body chunk back waiting for later ones: metering happens beside the traffic. Bad input is
 * counted and passed through; it never fails the stream.
 */
import { reservedInput } from '../tokenize/server-tools.js';
import type { ProcessingRequest__Output } from '../gen/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { HttpBody__Output } from '../gen/envoy/service/ext_proc/v3/HttpBody.js';
import type { HttpHeaders__Output } from '../gen/envoy/service/ext_proc/v3/HttpHeaders.js';
import type { Struct } from '../gen/google/protobuf/Struct.js';
import { matchRoute, type Route } from '../llm/routes.js';
import { rewrittenBody, withStreamUsage } from '../llm/request-facts.js';
import { readRequestBody } from '../llm/request-body.js';
import type { InputCount, RequestFacts } from '../llm/types.js';
import type { Admission } from '../limits/limiter.js';
import { tokenUsage } from '../policy/charge.js';
import { decideOutcome, type Outcome } from '../metering/outcome.js';
import { headerOptions, immediateReply } from './admission.js';
import type { ResponseMeter, ResponseMeterResult, SessionDeps } from './deps.js';
import { readHeaders, setHeader, type HeaderLookup } from './headers.js';
import type { HeaderValueOption } from '../gen/envoy/config/core/v3/HeaderValueOption.js';
import { logRecord, metadataFor, recordMetrics, type RequestRecord } from './report.js';
import { buildUsageRecord } from '../ledger/record.js';
import { uuidv7 } from '../ledger/ids.js';

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

/** Envoy's source.address attribute, when the filter is configured to send it (request_attributes). */
function sourceAddress(msg: ProcessingRequest__Output): string | undefined {
  for (const struct of Object.values(msg.attributes ?? {})) {
    const v = struct.fields?.['source.address'];
    if (v?.kind === 'stringValue' && v.stringValue) return v.stringValue;
  }
  return undefined;
}

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
  /** The parsed request body, kept while the budget decision may still rewrite it. */
  private parsedBody: unknown;
  private reqHeaders: HeaderLookup = new Map();
  private sourceAddress: string | undefined;
  private admission: Promise<Admission | undefined> | undefined;
  private admitted: Admission | undefined;
  private settling: Promise<void> | undefined;
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
    if (msg.request === 'request_headers') this.sourceAddress = sourceAddress(msg);
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
        return this.gate({ request_trailers: {} });
      case 'response_headers': return this.onResponseHeaders(msg.response_headers);
      case 'response_body': return this.onResponseBody(msg.response_body);
      case 'response_trailers': return this.withMetadata({ response_trailers: {} }, this.finish(true));
      default:
        this.deps.metrics.streamErrors.inc({ reason: 'unknown_message' });
        this.deps.logger.warn({ request_id: this.requestId }, 'ext_proc message of unknown kind ignored');
        return undefined;
    }
  }

  private onRequestHeaders(h: HttpHeaders__Output | null | undefined): Reply | Promise<Reply> {
    const headers = readHeaders(h?.headers);
    this.reqHeaders = headers;
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
    return this.gate({ request_headers: { response: {} } });
  }

  /**
   * The reply to the message that completed the request: held until the budget decision, replaced when rejected, and
   * built by `clamped` instead when the decision lowered the output cap (the body is rewritten).
   */
  private gate(reply: ProcessingResponse, clamped?: (cap: number) => ProcessingResponse): Reply | Promise<Reply> {
    if (!this.admission || this.admitted) return reply;
    return this.admission.then((a) => {
      if (a?.outputCap !== undefined && clamped) return clamped(a.outputCap);
      if (!a?.rejection) return reply;
      this.status = a.rejection.status;
      return immediateReply(a.rejection);
    });
  }

  private onRequestBody(b: HttpBody__Output | null | undefined): Reply | Promise<Reply> {
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
      const withBody = (body: Buffer): ProcessingResponse => ({ request_body: { response: { ...this.contentLengthFor(body), body_mutation: { body } } } });
      return this.gate(mutated ? withBody(mutated) : reply, (cap) => {
        const body = this.parsedBody === undefined || !this.route ? undefined
          : rewrittenBody(this.route, this.parsedBody, this.facts, { includeUsage: this.deps.config.injectStreamUsage, outputCap: cap });
        this.parsedBody = undefined;
        return body ? withBody(body) : mutated ? withBody(mutated) : reply;
      });
    }
    return reply;
  }

  /**
   * The content-length that must go with a replaced request body. Envoy (since 1.29) keeps the client's content-length
   * only in BUFFERED mode with request headers sent, and then rejects a mutated body whose length differs from it with
   * a 500 ("mismatch between content length and the length of the mutated body"): setting it is the processor's job.
   * In the other modes Envoy has removed the header itself, so none is added.
   */
  private contentLengthFor(body: Buffer): { header_mutation?: { set_headers: HeaderValueOption[] } } {
    if (this.requestBodyMode !== 'BUFFERED' || !this.reqHeaders.has('content-length')) return {};
    return { header_mutation: { set_headers: [setHeader('content-length', String(body.length))] } };
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

  /** Parses, counts and admits the request body once it is complete. Returns a replacement body when one is wanted. */
  private completeRequestBody(canMutate: boolean): Buffer | undefined {
    if (this.reqDone || this.passthrough || !this.route) return undefined;
    this.reqDone = true;
    const route = this.route;
    const bytes = this.reqBytes;
    const problem = this.reqOverCap ? 'body_too_large' : this.reqUnreadable;
    const raw = this.reqChunks.length === 1 ? (this.reqChunks[0] as Buffer) : Buffer.concat(this.reqChunks);
    this.reqChunks = [];
    const reading = problem ? undefined : readRequestBody(route, raw);
    for (const p of problem ? [problem] : reading?.problems ?? []) this.requestProblem(p);
    if (reading) this.facts = reading.facts;
    if (reading?.body !== undefined) this.startCount(reading.body, raw.length);
    // The body may be rewritten (a clamped output cap) only when this reply can carry it; kept until the decision.
    if (canMutate && reading?.body !== undefined && this.deps.limiter?.active()) this.parsedBody = reading.body;
    this.startAdmission(bytes, this.parsedBody !== undefined);
    if (!canMutate || !this.deps.config.injectStreamUsage || reading?.body === undefined) return undefined;
    const replaced = withStreamUsage(route, reading.body, this.facts);
    this.injected = replaced !== undefined;
    return replaced;
  }

  /** Asks the limiter, once the input is counted. A body we could not count reserves bytes/4 tokens (documented). */
  private startAdmission(bytes: number, clampable: boolean): void {
    const limiter = this.deps.limiter;
    const route = this.route;
    if (!limiter?.active() || !route) return;
    const h = this.reqHeaders;
    this.admission = (this.precount ?? Promise.resolve(undefined)).then((count) => limiter.admit({
      requestId: this.requestId, provider: route.provider, endpoint: route.endpoint, host: h.get(':authority') ?? h.get('host') ?? '',
      path: h.get(':path') ?? '', method: h.get(':method') ?? '', headers: Object.fromEntries(h), sourceAddress: this.sourceAddress,
      model: this.facts.model, maxOutputTokens: this.facts.maxOutputTokens, inputTokens: reservedInput(count, bytes), clampable,
    })).then((a) => {
      if (a?.outputCap === undefined) this.parsedBody = undefined;
      return (this.admitted = a);
    }, (err: unknown) => {
      this.parsedBody = undefined;
      this.deps.metrics.streamErrors.inc({ reason: 'admission_failed' });
      this.deps.logger.error({ err, request_id: this.requestId }, 'budget check failed; request allowed');
      return undefined;
    });
  }

  private startCount(body: unknown, bytes: number): void {
    const route = this.route as Route;
    // An Azure deployment name is counted as a model only if it is one (or --encoding-overrides names it); otherwise
    // the count uses the default encoding and is marked inexact.
    this.precount = this.deps.counter.count(route.endpoint, body, this.facts.model, bytes).then(
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
      const set = headerOptions(this.admitted?.headers);
      if (count) set.push(setHeader(PRECOUNT_HEADER, String(count.tokens)));
      return { response_headers: { response: set.length > 0 ? { header_mutation: { set_headers: set } } : {} } };
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
    return this.finish(false).then(() => this.settling);
  }

  /** Settles the request once: final usage, metrics, log line; resolves to the dynamic metadata. */
  private finish(complete: boolean): Promise<Struct | undefined> {
    if (this.finishing) return this.finishing.then(() => undefined);
    if (!complete && this.meter) this.responseIncomplete = true;
    const route = this.route;
    if (!route) return Promise.resolve(undefined);
    this.completeRequestBody(false);
    this.finishing = Promise.all([this.meter?.end(), this.precount, this.admission]).then(([raw, precount]) => {
      // Usage the provider started to report but never finished (a stream cut short) is partly our estimate.
      const reading = raw?.problems.includes('usage_incomplete') ? { ...raw, usageSource: 'estimated' as const } : raw;
      const record = this.record(reading, precount);
      this.deps.metrics.openStreams.dec();
      recordMetrics(this.deps.metrics, record);
      // The reply does not wait for the store: settle, then write the log line (it carries what was charged) and hand
      // the usage record to the ledger's queue (never awaited).
      this.settling = this.settle(record).then((charged) => {
        logRecord(this.deps.logger, record, this.admitted?.log, charged);
        this.toLedger(record);
      });
      return metadataFor(record);
    });
    return this.finishing;
  }

  private toLedger(record: RequestRecord): void {
    const ledger = this.deps.ledger;
    if (!ledger) return;
    const ts = Math.round((this.deps.wallClock ?? Date.now)() - record.durationSeconds * 1000);
    try {
      const usage = buildUsageRecord(record, this.admitted, uuidv7(ts), ts);
      ledger.add(usage);
      const metrics = this.deps.metrics;
      if (usage.costUsd > 0) metrics.ledger.spend.inc({ policy: usage.policy ?? 'none', model: metrics.models.label(record.responseModel ?? record.requestModel) }, usage.costUsd);
    } catch (err) {
      this.deps.metrics.streamErrors.inc({ reason: 'ledger_failed' });
      this.deps.logger.error({ err, request_id: this.requestId }, 'usage record not built');
    }
  }

  private settle(record: RequestRecord): Promise<Record<string, number> | undefined> {
    const a = this.admitted;
    if (!a) return Promise.resolve(undefined);
    const usage = tokenUsage(outcomeUsage(record.outcome));
    return a.settle(usage, record.responseModel ?? record.requestModel).catch(() => undefined);
  }

  private record(reading: ResponseMeterResult | undefined, precount: InputCount | undefined): RequestRecord {
    const route = this.route as Route;
    const problems: string[] = reading ? [...reading.problems] : [];
    if (this.status === undefined) problems.push('no_response');
    if (precount?.serverTools) problems.push('server_side_tools');
    else if (this.responseIncomplete) problems.push('response_incomplete');
    const record: RequestRecord = {
      rejected: this.admitted?.rejection !== undefined,
      requestId: this.requestId, provider: route.provider, endpoint: route.endpoint, stream: this.facts.stream,
      outcome: decideOutcome(this.status, precount, reading), problems, injectedIncludeUsage: this.injected,
      durationSeconds: Number(this.now() - this.startedAt) / 1e9,
    };
    if (this.facts.model !== undefined) record.requestModel = this.facts.model;
    const host = this.reqHeaders.get(':authority') ?? this.reqHeaders.get('host');
    if (host) record.apiHost = host;
    if (reading?.model !== undefined) record.responseModel = reading.model;
    if (this.status !== undefined) record.status = this.status;
    if (precount) record.precount = precount;
    if (reading?.usageSource === 'provider') record.reportedUsage = reading.usage;
    return record;
  }
}

function outcomeUsage(o: Outcome): { inputTokens: number; outputTokens: number; cachedInputTokens?: number; cacheWriteTokens?: number; reasoningTokens?: number } {
  return { inputTokens: o.inputTokens, outputTokens: o.outputTokens, cachedInputTokens: o.cachedInputTokens, cacheWriteTokens: o.cacheWriteTokens, reasoningTokens: o.reasoningTokens };
}
