/**
 * Reading a complete request body: UTF-8, JSON, request facts. Pure; never throws. A body that cannot be read yields
 * a label-safe problem and no parsed value (the request still passes through unchanged).
 */
import { TextDecoder } from 'node:util';
import { readRequestFacts } from './request-facts.js';
import type { Route } from './routes.js';
import type { RequestFacts } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface RequestBodyReading {
  /** The parsed JSON, when the body parsed. */
  body?: unknown;
  facts: RequestFacts;
  /** Reasons the body could not be fully read, e.g. utf8_invalid (still parsed leniently), json_invalid. */
  problems: string[];
}

export function readRequestBody(route: Route, raw: Buffer): RequestBodyReading {
  if (raw.length === 0) return { facts: readRequestFacts(route, undefined), problems: [] };
  const problems: string[] = [];
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    problems.push('utf8_invalid');
    text = raw.toString('utf8');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    problems.push('json_invalid');
    return { facts: readRequestFacts(route, undefined), problems };
  }
  return { body, facts: readRequestFacts(route, body), problems };
}
