/**
 * The one catalogue of tokenmeter errors. Every error has a stable code (safe to alert and grep on), a message for
 * humans and, where it wraps another failure, the original `cause`.
 */

export const ErrorCodes = {
  CONFIG_INVALID: 'TM_CONFIG_INVALID',
  BODY_TOO_LARGE: 'TM_BODY_TOO_LARGE',
  JSON_INVALID: 'TM_JSON_INVALID',
  UTF8_INVALID: 'TM_UTF8_INVALID',
  DECODE_FAILED: 'TM_DECODE_FAILED',
  DECODE_TOO_LARGE: 'TM_DECODE_TOO_LARGE',
  ENCODING_UNSUPPORTED: 'TM_ENCODING_UNSUPPORTED',
  SSE_INVALID: 'TM_SSE_INVALID',
  PROTOCOL_UNEXPECTED: 'TM_PROTOCOL_UNEXPECTED',
  TOKENIZE_FAILED: 'TM_TOKENIZE_FAILED',
  SERVER_START_FAILED: 'TM_SERVER_START_FAILED',
  /** The counter store (Redis) could not answer in time; the caller applies the policy's failureMode. */
  STORE_UNAVAILABLE: 'TM_STORE_UNAVAILABLE',
  /** A counter store call with malformed arguments (a caller bug, never a store outage). */
  STORE_REQUEST_INVALID: 'TM_STORE_REQUEST_INVALID',
  /** TokenPolicy YAML that does not validate (src/policy); the message lists every problem with its field path. */
  POLICY_INVALID: 'TM_POLICY_INVALID',
  NOT_FOUND: 'TM_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'TM_METHOD_NOT_ALLOWED',
  UNAUTHORIZED: 'TM_UNAUTHORIZED',
  REQUEST_INVALID: 'TM_REQUEST_INVALID',
  INTERNAL: 'TM_INTERNAL',
  /** The Kubernetes API answered with an error status (src/k8s KubeApiError: status, reason, message). */
  KUBE_API: 'TM_KUBE_API',
  /** The Kubernetes API could not be reached (connection refused, reset, DNS): no HTTP status. */
  KUBE_UNREACHABLE: 'TM_KUBE_UNREACHABLE',
  /** A kubeconfig that cannot be loaded or names no cluster. */
  KUBE_CONFIG_INVALID: 'TM_KUBE_CONFIG_INVALID',
  /** The spend ledger's store (SQLite file, PostgreSQL) could not be read or written; writes are retried or spilled. */
  LEDGER_UNAVAILABLE: 'TM_LEDGER_UNAVAILABLE',
  /** The admin server cannot serve this now: too many open event streams, or the console's assets were not built. */
  UNAVAILABLE: 'TM_UNAVAILABLE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class TokenmeterError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenmeterError';
    this.code = code;
  }
}

export function isTokenmeterError(err: unknown): err is TokenmeterError {
  return err instanceof TokenmeterError;
}

/** A short, label-safe reason for an error (its code without prefix, lower-case), for metrics. */
export function errorReason(err: unknown): string {
  return isTokenmeterError(err) ? err.code.replace(/^TM_/, '').toLowerCase() : 'internal';
}
