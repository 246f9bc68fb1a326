/**
 * Small HTTP helpers of the admin API: JSON replies, the one error shape `{error: {message, code}}`, a capped body
 * reader and the bearer-token check.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../errors/catalogue.js';

/** Catalogue codes plus the HTTP-level ones of the admin API. */
/** Every admin error code is in the one catalogue (src/errors/catalogue.ts). */
export type AdminErrorCode = ErrorCode;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(text);
}

export function sendError(res: ServerResponse, status: number, code: AdminErrorCode, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { message, code } }, headers);
}

export type BodyReading = { ok: true; body: Buffer } | { ok: false; reason: 'too_large' | 'aborted' };

/**
 * Reads a request body of at most `maxBytes`. A declared or actual larger body stops reading at once (the caller
 * answers 413 and the connection is closed).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyReading> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve({ ok: false, reason: 'too_large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyReading): void => {
      if (done) return;
      done = true;
      req.removeListener('data', onData);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        finish({ ok: false, reason: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish({ ok: true, body: Buffer.concat(chunks, size) }));
    req.once('error', () => finish({ ok: false, reason: 'aborted' }));
    req.once('close', () => finish({ ok: false, reason: 'aborted' }));
  });
}

/** Answers 413 and closes the connection (the rest of the body is not read). */
export function sendTooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number): void {
  res.once('finish', () => req.destroy());
  sendError(res, 413, 'TM_BODY_TOO_LARGE', `request body larger than ${maxBytes} bytes (--max-request-body)`, { connection: 'close' });
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Whether the request carries `authorization: Bearer <token>`; always true when no token is configured. Compared in
 * constant time (of the digests, so the token's length does not leak either).
 */
export function bearerAuthorized(req: IncomingMessage, token: string): boolean {
  if (token === '') return true;
  const m = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  const given = m?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token)) && given !== '';
}

/** Answers 401 with the challenge header. */
export function sendUnauthorized(res: ServerResponse): void {
  sendError(res, 401, 'TM_UNAUTHORIZED', 'this endpoint needs authorization: Bearer <admin token> (--admin-token)', {
    'www-authenticate': 'Bearer realm="tokenmeter"',
  });
}
