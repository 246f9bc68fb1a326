/**
 * The ext_proc side of budgets: turning a Limiter's Admission into Envoy replies (ImmediateResponse for rejections,
 * x-ratelimit-* header mutations on allowed responses) and feeding its events into metrics.
 */
import type { ProcessingResponse } from '../gen/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { HeaderValueOption } from '../gen/envoy/config/core/v3/HeaderValueOption.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { LimiterEvents } from '../limits/limiter.js';
import type { Rejection } from '../limits/rejection.js';
import { errorReason } from '../errors/catalogue.js';
import { setHeader } from './headers.js';

export function immediateReply(r: Rejection): ProcessingResponse {
  return {
    immediate_response: {
      status: { code: r.status as unknown as 'OK' },
      headers: { set_headers: Object.entries(r.headers).map(([k, v]) => setHeader(k, v)) },
      body: Buffer.from(r.body),
      details: r.details,
    },
  };
}

export function headerOptions(headers: Readonly<Record<string, string>> | undefined): HeaderValueOption[] {
  return headers ? Object.entries(headers).map(([k, v]) => setHeader(k, v)) : [];
}

/** Limiter events → Prometheus, and a store outage logged at most once per interval. */
export function limiterEvents(metrics: Metrics, logger: Logger, storeKind: string, logEveryMs = 30_000): LimiterEvents {
  let lastLog = -Infinity;
  return {
    // No tier label for policies without tiers: their series stay what they were.
    decision: (policy, limit, tier, outcome) => metrics.limitDecisions.inc(tier === '' ? { policy, limit, outcome } : { policy, limit, tier, outcome }),
    storeLatency: (op, seconds) => metrics.storeDuration.observe({ store: storeKind, op }, seconds),
    settled: (policy, limit, reserved, actual, seconds) => {
      metrics.settleDuration.observe(seconds);
      if (reserved > 0) metrics.reservationError.observe({ policy, limit }, (actual - reserved) / reserved);
    },
    usage: (c) => metrics.subjectUsage.observe(c),
    storeError: (err) => {
      metrics.storeErrors.inc({ store: storeKind });
      const now = Date.now();
      if (now - lastLog >= logEveryMs) {
        lastLog = now;
        logger.error({ err, reason: errorReason(err) }, 'counter store unavailable; applying each policy\'s failureMode (logged once per interval)');
      }
    },
  };
}
