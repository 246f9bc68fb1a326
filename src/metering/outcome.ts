/**
 * The final numbers for one request, from our input pre-count and what the response told us. Pure.
 * Provider-reported usage wins; what the provider left unreported is estimated (input from the pre-count, output
 * from the streamed text); an upstream error, or a request whose response never started, bills nothing.
 */
import type { InputCount, Usage } from '../llm/types.js';

export type UsageSource = 'provider' | 'estimated' | 'none';

export interface ResponseReading {
  usage: Usage;
  /** 'estimated' when the response reader filled in (part of) the usage itself, e.g. a stream cut short. */
  usageSource?: UsageSource;
  /** Output tokens counted from the response text when the provider reported none. */
  estimatedOutputTokens?: number;
  model?: string;
}

export interface Outcome {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
  source: UsageSource;
}

const NOTHING: Outcome = { inputTokens: 0, outputTokens: 0, totalTokens: 0, source: 'none' };

export function decideOutcome(status: number | undefined, precount: InputCount | undefined, reading: ResponseReading | undefined): Outcome {
  // No response ever started: since Envoy 1.33.1 its own local replies (503 no healthy upstream, 504, 413) never reach
  // the processor, so this is most likely a request the provider never saw. Nothing is billed (README, "Reserve, then settle").
  if (status === undefined || status >= 400) return NOTHING;
  const usage = reading?.usage ?? {};
  const reportedIn = usage.inputTokens;
  const reportedOut = usage.outputTokens;
  if (reportedIn === undefined && reportedOut === undefined && precount === undefined) return NOTHING;
  const inputTokens = reportedIn ?? precount?.tokens ?? 0;
  const outputTokens = reportedOut ?? reading?.estimatedOutputTokens ?? 0;
  const fullyReported = reading?.usageSource !== 'estimated' && reportedIn !== undefined
    && (reportedOut !== undefined || usage.totalTokens !== undefined);
  const outcome: Outcome = {
    inputTokens,
    outputTokens,
    totalTokens: fullyReported && usage.totalTokens !== undefined ? usage.totalTokens : inputTokens + outputTokens,
    source: fullyReported ? 'provider' : 'estimated',
  };
  if (usage.cachedInputTokens !== undefined) outcome.cachedInputTokens = usage.cachedInputTokens;
  if (usage.cacheWriteTokens !== undefined) outcome.cacheWriteTokens = usage.cacheWriteTokens;
  if (usage.reasoningTokens !== undefined) outcome.reasoningTokens = usage.reasoningTokens;
  return outcome;
}

/** |ours − reported| / reported, when both are known and reported > 0. */
export function precountRelativeError(precount: InputCount | undefined, usage: Usage | undefined): number | undefined {
  const reported = usage?.inputTokens;
  if (!precount || reported === undefined || reported <= 0) return undefined;
  return Math.abs(precount.tokens - reported) / reported;
}
