/**
 * `stream_options.include_usage: true` for an OpenAI streaming chat request, without re-serialising a body that does
 * not have `stream_options` yet: the member is appended before the body's closing brace, so a multi-MiB prompt costs
 * one copy instead of a JSON.stringify (~80–150 ms for 8 MiB on a busy core, all of it inside Envoy's message
 * timeout). Bodies that already name stream_options, or that were not clean UTF-8, go through withStreamUsage.
 */
import { withStreamUsage } from './request-facts.js';
import type { Route } from './routes.js';
import type { RequestFacts } from './types.js';

const MEMBER = '"stream_options":{"include_usage":true}';
const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** `raw` (a JSON object's text) with `member` appended as its last member; undefined if raw does not end in `}`. */
export function appendMember(raw: Buffer, member: string): Buffer | undefined {
  let end = raw.length - 1;
  while (end >= 0 && isSpace(raw[end])) end--;
  if (end < 0 || raw[end] !== 0x7d) return undefined;
  let last = end - 1;
  while (last >= 0 && isSpace(raw[last])) last--;
  const sep = raw[last] === 0x7b ? '' : ',';
  return Buffer.concat([raw.subarray(0, end), Buffer.from(`${sep}${member}`), raw.subarray(end)]);
}

/** The replacement body asking for usage, or undefined when none is needed (see withStreamUsage). */
export function injectStreamUsage(route: Route, raw: Buffer, body: unknown, facts: RequestFacts, problems: readonly string[]): Buffer | undefined {
  const plain = typeof body === 'object' && body !== null && !Array.isArray(body) && !('stream_options' in body) && problems.length === 0;
  if (plain && route.endpoint === 'openai.chat' && facts.stream && facts.includeUsage === false) {
    const spliced = appendMember(raw, MEMBER);
    if (spliced) return spliced;
  }
  return withStreamUsage(route, body, facts);
}
