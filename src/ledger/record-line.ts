/**
 * A usage record as one line of the ledger's local files (the journal and the spill files): a JSON array of its
 * values in a fixed order, tagged with the format (`["u1", id, requestId, …]`). Half the bytes of the record as a JSON
 * object and about twice as fast to write, which matters because every record is journaled. Lines written as JSON
 * objects (the spill files of earlier versions) are read too. Pure: no I/O.
 */
import type { UsageRecord } from './record.js';

const TAG = 'u1';

/** The record's fields in line order. Append only: a new field goes at the end (older lines then lack it). */
const FIELDS = [
  'id', 'requestId', 'ts', 'policy', 'limit', 'tier', 'override', 'subject', 'provider', 'endpoint', 'requestModel',
  'responseModel', 'inputTokens', 'cachedInputTokens', 'cacheWriteTokens', 'outputTokens', 'reasoningTokens',
  'usageSource', 'costUsd', 'priceVersion', 'decision', 'rejected', 'status', 'stream', 'durationMs',
] as const satisfies readonly (keyof UsageRecord)[];

export function recordLine(r: UsageRecord): string {
  const values: unknown[] = new Array<unknown>(FIELDS.length + 1);
  values[0] = TAG;
  for (let i = 0; i < FIELDS.length; i++) values[i + 1] = r[FIELDS[i] as keyof UsageRecord];
  return JSON.stringify(values);
}

/** The record on a line (either form); undefined for a line that is not one (torn, foreign, another format). */
export function parseRecordLine(line: string): UsageRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  let r: Record<string, unknown>;
  if (Array.isArray(v)) {
    const values = v as unknown[];
    if (values[0] !== TAG || values.length !== FIELDS.length + 1) return undefined;
    r = {};
    FIELDS.forEach((f, i) => {
      r[f] = values[i + 1];
    });
  } else if (v !== null && typeof v === 'object') {
    r = v as Record<string, unknown>;
  } else {
    return undefined;
  }
  return typeof r.id === 'string' && typeof r.ts === 'number' ? (r as unknown as UsageRecord) : undefined;
}
