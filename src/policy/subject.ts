/**
 * The subject of a request — whose budget it draws from — as a bounded, label-safe counter key.
 *
 * - Header: the header's value (trimmed).
 * - ClientIP: Envoy's `source.address` (the peer), or with `trustedProxyHops: N` the x-forwarded-for entry N places
 *   from the right (each trusted proxy appends the address it received the connection from). When Envoy itself
 *   appended the peer (use_remote_address), that last entry equals the peer and is skipped first. Fewer than N
 *   entries means the request bypassed the proxy chain: the peer address is used. Hop counting trusts the chain:
 *   clients must not be able to reach Envoy around the proxies.
 * - APIKey: sha256 of the credential from `authorization: Bearer`, `x-api-key`, `api-key` (Azure),
 *   `x-goog-api-key` (Gemini) or the `key` query parameter, in that order. Never the key itself. A Bearer JWT is
 *   hashed like any key (a budget per token, not per user: use JWTClaim for users).
 * - JWTClaim: a claim of the Bearer JWT payload, by dot-separated path (a top-level claim whose name contains dots,
 *   e.g. `https://example.com/org`, is found by its full name first). The signature is NOT verified: verification is
 *   Envoy's jwt_authn filter's job, in front of tokenmeter. Without jwt_authn, a client can forge any claim; prefer
 *   jwt_authn's `claim_to_headers` with a Header subject when in doubt.
 *
 * Keys: a value of 1–64 characters of [A-Za-z0-9._:@+=-] is used as is; anything else (long values, spaces, braces
 * that would break Redis hash tags…) becomes `#` + the first 32 hex digits of its sha256; credentials are always
 * hashed. `(anonymous)` is the shared key of onMissing: Shared, `(all)` the key of a policy without subject; neither
 * can collide with a value. `logId` is a short hash of the key for log lines: raw values are never logged.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { priceModelName } from './prices.js';
import type { Subject } from './types.js';

export interface SubjectInput {
  /** Request headers, names lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  /** :path with its query string (for `?key=`). */
  path: string;
  /** Envoy attribute `source.address` ("ip:port" or "[v6]:port"), when known. */
  sourceAddress?: string;
}

export type SubjectValue = { missing: false; key: string } | { missing: true; status: 400 | 401; message: string };

export type SubjectDecision =
  /** `recorded`: the subject as the spend ledger and the per-subject budget metric show it (see recordedSubject). */
  | { kind: 'key'; key: string; logId: string; shared: boolean; recorded: string }
  | { kind: 'reject'; status: 400 | 401; message: string };

export const SHARED_KEY = '(anonymous)';
export const GLOBAL_KEY = '(all)';
const SAFE_VALUE = /^[A-Za-z0-9._:@+=-]{1,64}$/;
/** Longest subject value the ledger keeps as the request carried it; a longer one is recorded as its hash. */
export const MAX_RECORDED_SUBJECT = 256;
const MAX_JWT_LENGTH = 16 * 1024;

function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** `#` + 32 hex digits (128 bits) of sha256. */
export function hashKey(value: string): string {
  return `#${sha256hex(value).slice(0, 32)}`;
}

/** The key of a subject value: the value when short and safe, else its hash. */
export function valueKey(value: string): string {
  return SAFE_VALUE.test(value) ? value : hashKey(value);
}

/**
 * The model part of a perModel counter key: the price lookup name (lower case, provider path dropped) without a
 * dated snapshot suffix, bounded like subject values; `(none)` when the request names no model.
 */
export function modelKey(model: string | undefined): string {
  const m = priceModelName(model ?? '').replace(/-(\d{8}|\d{4}-\d{2}-\d{2})$/, '');
  return m === '' ? '(none)' : valueKey(m);
}

/** A short, non-reversible id of a key for logs. */
export function logIdOf(key: string): string {
  return sha256hex(`tokenmeter-subject:${key}`).slice(0, 16);
}

const missing = (status: 400 | 401, message: string): SubjectValue => ({ missing: true, status, message });

function header(input: SubjectInput, name: string): string | undefined {
  const v = input.headers[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** An IP from "ip", "ip:port", "[v6]:port" or "::ffff:v4", normalised; undefined when not an IP. */
export function normaliseIp(raw: string): string | undefined {
  let s = raw.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracket) s = bracket[1] ?? '';
  else if (/^[\d.]+:\d+$/.test(s)) s = s.slice(0, s.indexOf(':'));
  s = s.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return isIP(s) === 0 ? undefined : s;
}

function clientIp(input: SubjectInput, hops: number): SubjectValue {
  const peer = input.sourceAddress === undefined ? undefined : normaliseIp(input.sourceAddress);
  const xff = header(input, 'x-forwarded-for');
  if (hops > 0 && xff !== undefined) {
    const entries = xff.split(',').map((e) => e.trim()).filter((e) => e !== '');
    if (peer !== undefined && entries.length > 0 && normaliseIp(entries[entries.length - 1] ?? '') === peer) entries.pop();
    if (entries.length >= hops) {
      const ip = normaliseIp(entries[entries.length - hops] ?? '');
      return ip === undefined ? missing(400, 'x-forwarded-for does not hold a valid client address') : { missing: false, key: ip };
    }
  }
  return peer === undefined ? missing(400, 'the client address is unknown') : { missing: false, key: peer };
}

function bearer(input: SubjectInput): string | undefined {
  const m = /^bearer\s+(\S+)\s*$/i.exec(header(input, 'authorization') ?? '');
  return m?.[1];
}

function queryKey(path: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  const v = new URLSearchParams(path.slice(q + 1)).get('key')?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function apiKey(input: SubjectInput): SubjectValue {
  const credential = bearer(input) ?? header(input, 'x-api-key') ?? header(input, 'api-key') ??
    header(input, 'x-goog-api-key') ?? queryKey(input.path);
  if (credential === undefined) {
    return missing(401, 'missing API key: send authorization: Bearer, x-api-key, api-key, x-goog-api-key or ?key=');
  }
  return { missing: false, key: hashKey(credential) };
}

function claimAt(payload: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The payload of a JWT, decoded but NOT verified; undefined when `token` is not a JWT with a JSON object payload. */
export function unverifiedJwtPayload(token: string): Record<string, unknown> | undefined {
  if (token.length > MAX_JWT_LENGTH) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[1] ?? '')) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function jwtClaim(input: SubjectInput, claim: string): RawSubjectValue {
  const fail = (message: string): RawSubjectValue => missing(401, message) as RawSubjectValue;
  const token = bearer(input);
  if (token === undefined) return fail(`missing bearer token (claim ${claim} is needed to pick a token budget)`);
  const payload = unverifiedJwtPayload(token);
  if (!payload) return fail('the bearer token is not a JWT');
  const v = claimAt(payload, claim);
  if (typeof v === 'number' || typeof v === 'boolean') return { missing: false, key: valueKey(String(v)), raw: String(v) };
  if (typeof v === 'string' && v.trim() !== '') return { missing: false, key: valueKey(v.trim()), raw: v.trim() };
  return fail(v === undefined ? `the bearer token has no claim ${claim}` : `claim ${claim} is not a string or number`);
}

/**
 * The recorded form of a subject from its counter key (for listings read from the counter store): the key when it is
 * the value or already a hash, the hash of the address (ClientIP) or of the value (hashInLedger). A long or unusual
 * Header/JWTClaim value is only known by its hash here, while the ledger records it as carried.
 */
export function recordedFromKey(subject: Subject | undefined, key: string): string {
  if (!subject || key === SHARED_KEY || key === GLOBAL_KEY || key.startsWith('#')) return key;
  if (subject.from === 'ClientIP') return hashKey(key);
  if ((subject.from === 'Header' || subject.from === 'JWTClaim') && subject.hashInLedger === true) return hashKey(key);
  return key;
}

/** The subject value of a request for a subject spec, or why it is missing. */
export function subjectValue(subject: Subject, input: SubjectInput): SubjectValue {
  const v = readSubject(subject, input);
  return v.missing ? v : { missing: false, key: v.key };
}

type RawSubjectValue = { missing: false; key: string; raw: string } | Extract<SubjectValue, { missing: true }>;

function readSubject(subject: Subject, input: SubjectInput): RawSubjectValue {
  switch (subject.from) {
    case 'Header': {
      const v = header(input, subject.header);
      return v === undefined
        ? missing(400, `missing request header ${subject.header} (it selects the token budget)`) as RawSubjectValue
        : { missing: false, key: valueKey(v), raw: v };
    }
    case 'ClientIP': return withRaw(clientIp(input, subject.trustedProxyHops));
    case 'APIKey': return withRaw(apiKey(input));
    case 'JWTClaim': return jwtClaim(input, subject.claim);
  }
}

function withRaw(v: SubjectValue): RawSubjectValue {
  return v.missing ? v : { ...v, raw: v.key };
}

/**
 * The subject as the spend ledger records it (and the per-subject budget metric names it): for Header and JWTClaim
 * subjects the value as the request carried it (trimmed), unless the policy sets `hashInLedger` or the value is longer
 * than MAX_RECORDED_SUBJECT; always a hash for APIKey (the credential's, as in the counter key) and ClientIP. The
 * hash is `#` + 32 hex digits of sha256 of the value, so a known value can be looked up by hashing it the same way.
 */
export function recordedSubject(subject: Subject, raw: string): string {
  switch (subject.from) {
    case 'APIKey': return raw;
    case 'ClientIP': return hashKey(raw);
    case 'Header':
    case 'JWTClaim':
      return subject.hashInLedger === true || raw.length > MAX_RECORDED_SUBJECT ? hashKey(raw) : raw;
  }
}

/**
 * The counter key of a request for a policy's subject, with onMissing applied: Shared → the shared key, Reject →
 * a rejection (401 for APIKey/JWTClaim, 400 otherwise) with a message safe to return to the client.
 */
export function subjectFor(subject: Subject | undefined, input: SubjectInput): SubjectDecision {
  if (subject === undefined) return { kind: 'key', key: GLOBAL_KEY, logId: logIdOf(GLOBAL_KEY), shared: true, recorded: GLOBAL_KEY };
  const v = readSubject(subject, input);
  if (!v.missing) return { kind: 'key', key: v.key, logId: logIdOf(v.key), shared: false, recorded: recordedSubject(subject, v.raw) };
  if (subject.onMissing === 'Shared') return { kind: 'key', key: SHARED_KEY, logId: logIdOf(SHARED_KEY), shared: true, recorded: SHARED_KEY };
  return { kind: 'reject', status: v.status, message: v.message };
}
