/**
 * Reading and writing Envoy header maps. Envoy sends values in raw_value (current) or value (older): read both.
 * Replies put values in raw_value only.
 */
import type { HeaderMap__Output } from '../gen/envoy/config/core/v3/HeaderMap.js';
import type { HeaderValueOption } from '../gen/envoy/config/core/v3/HeaderValueOption.js';

export type HeaderLookup = ReadonlyMap<string, string>;

export function readHeaders(map: HeaderMap__Output | null | undefined): HeaderLookup {
  const out = new Map<string, string>();
  for (const h of map?.headers ?? []) {
    const raw = h.raw_value;
    const value = raw && raw.length > 0 ? raw.toString('utf8') : h.value;
    const key = h.key.toLowerCase();
    const prev = out.get(key);
    out.set(key, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

export function setHeader(key: string, value: string): HeaderValueOption {
  return { header: { key, raw_value: Buffer.from(value) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}

/** "2xx", "4xx"… from a :status value. */
export function statusClass(status: number | undefined): string {
  return status !== undefined && status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none';
}
