/**
 * How a response body is framed (SSE, one JSON document, or Gemini's JSON-array stream), chosen from the content
 * type and confirmed by sniffing the first non-blank byte; and the bounded collector for one-document JSON bodies.
 */
import { isUtf8 } from 'node:buffer';
import type { Endpoint } from './types.js';

export type Framing = 'sse' | 'json' | 'json_array';

/** The framing the headers announce. */
export function expectedFraming(endpoint: Endpoint, contentType: string | undefined, stream: boolean | undefined): Framing {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.includes('text/event-stream')) return 'sse';
  if (endpoint === 'gemini.stream') return 'json_array'; // streamGenerateContent without alt=sse
  if (ct === '' && stream === true) return 'sse';
  return 'json';
}

/** true for bytes skipped before the first meaningful one: whitespace and a UTF-8 BOM's bytes. */
export function isLeadingFiller(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 || b === 0xef || b === 0xbb || b === 0xbf;
}

function isAsciiLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

/**
 * The framing the first meaningful byte shows; wrong content types are common (a Gemini `alt=sse` error is plain
 * JSON; some servers send SSE as application/json or with no content type).
 */
export function sniffFraming(first: number, expected: Framing): Framing {
  if (first === 0x5b) return 'json_array'; // [
  if (first === 0x7b) return expected === 'json_array' ? 'json_array' : 'json'; // {
  if (isAsciiLetter(first) || first === 0x3a) return 'sse'; // field name or ':' comment
  return expected;
}

export type JsonBodyOutcome =
  | { ok: true; value: unknown; utf8Valid: boolean }
  | { ok: false; problem: 'body_too_large' | 'json_invalid' | 'truncated'; utf8Valid: boolean };

/** Collects a one-document JSON body up to maxBytes and parses it once, at the end. */
export class JsonBodyCollector {
  private parts: Buffer[] = [];
  private length = 0;
  private over = false;

  constructor(private readonly maxBytes: number) {}

  add(chunk: Buffer): void {
    if (this.over || chunk.length === 0) return;
    if (this.length + chunk.length > this.maxBytes) {
      this.over = true;
      this.parts = [];
      return;
    }
    this.parts.push(chunk);
    this.length += chunk.length;
  }

  get bytes(): number {
    return this.length;
  }

  finish(): JsonBodyOutcome {
    if (this.over) return { ok: false, problem: 'body_too_large', utf8Valid: true };
    const body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts = [];
    const utf8Valid = isUtf8(body);
    try {
      return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown, utf8Valid };
    } catch {
      return { ok: false, problem: endsInsideValue(body) ? 'truncated' : 'json_invalid', utf8Valid };
    }
  }
}

/** true when the bytes stop inside an object, array or string: the document was cut short. Failure path only. */
export function endsInsideValue(body: Uint8Array): boolean {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (const b of body) {
    if (inString) {
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) depth--;
  }
  return inString || depth > 0;
}
