/**
 * Replays the demo traffic (traffic.ts) through the emulated Envoy against a running ext_proc: the ordinary requests,
 * then the heavy tenant's big requests until one is refused (429) and a couple more, as a client that retries would.
 */
import { FUNCTIONAL_TIMEOUT_MS, runExchange, type ExchangeResult } from '../test/envoy/emulator.js';
import type { ExternalProcessorClient } from '../src/gen/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { demoTraffic, heavyRequest, HEAVY_TENANT, type DemoRequest } from './traffic.js';

export interface ReplayStats {
  sent: number;
  refused: number;
  /** Per subject: requests sent and refused. */
  subjects: Record<string, { sent: number; refused: number }>;
  /** The heavy tenant's first refused request (its index), if any. */
  heavyRefusedAt: number | null;
}

/** The immediate responses tokenmeter sends (budgets): Envoy's StatusCode names. */
const CODES: Record<string, number> = { BadRequest: 400, Unauthorized: 401, TooManyRequests: 429, ServiceUnavailable: 503 };

/** The status the client got: the processor's immediate response, else the upstream's. */
export function statusOf(r: ExchangeResult, upstream: number | undefined): number {
  const immediate = r.immediate?.status?.code;
  if (immediate === undefined || immediate === null) return upstream ?? 200;
  return typeof immediate === 'number' ? immediate : CODES[immediate] ?? 500;
}

async function send(client: ExternalProcessorClient, d: DemoRequest, stats: ReplayStats, timeoutMs: number): Promise<number> {
  const r = await runExchange(client, d.exchange, { messageTimeoutMs: timeoutMs });
  const status = statusOf(r, d.exchange.status);
  const s = (stats.subjects[d.subject] ??= { sent: 0, refused: 0 });
  s.sent++;
  stats.sent++;
  if (status === 429) {
    s.refused++;
    stats.refused++;
  }
  return status;
}

export interface ReplayOptions {
  /** Makes request ids unique per run. */
  run: string;
  /** Pause between requests (ms). */
  paceMs?: number;
  maxHeavy?: number;
  /** Refused requests the heavy tenant still sends after its first. */
  afterRefusal?: number;
  /** The emulated Envoy's message timeout (default: the functional tests' 2 s). */
  messageTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

export async function replayDemo(client: ExternalProcessorClient, opts: ReplayOptions): Promise<ReplayStats> {
  const timeout = opts.messageTimeoutMs ?? FUNCTIONAL_TIMEOUT_MS;
  const stats: ReplayStats = { sent: 0, refused: 0, subjects: {}, heavyRefusedAt: null };
  const pause = (): Promise<void> => new Promise((r) => setTimeout(r, opts.paceMs ?? 0));
  for (const d of demoTraffic(opts.run)) {
    const status = await send(client, d, stats, timeout);
    opts.onProgress?.(`${d.policy} ${d.subject.padEnd(9)} ${d.fixture} → ${status}`);
    await pause();
  }
  let extra = opts.afterRefusal ?? 2;
  for (let i = 0; i < (opts.maxHeavy ?? 80); i++) {
    const d = heavyRequest(opts.run, i);
    const status = await send(client, d, stats, timeout);
    opts.onProgress?.(`${d.policy} ${HEAVY_TENANT.padEnd(9)} ${d.fixture} → ${status}${status === 429 ? ' (refused: over its budget)' : ''}`);
    if (status === 429) {
      stats.heavyRefusedAt ??= i;
      if (extra-- <= 0) break;
    }
    await pause();
  }
  return stats;
}
