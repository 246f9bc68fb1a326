/**
 * Value parsers shared by the command option sets (src/config/config.ts, src/config/operator.ts): each validates one
 * raw flag or environment value and throws TM_CONFIG_INVALID naming it.
 */
import { ErrorCodes, TokenmeterError } from '../errors/catalogue.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface HostPort {
  host: string;
  port: number;
}

export function fail(message: string): never {
  throw new TokenmeterError(ErrorCodes.CONFIG_INVALID, message);
}

export function parseHostPort(raw: string, name: string): HostPort {
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) fail(`${name}: expected HOST:PORT, got "${raw}"`);
  return { host: m[1] === '' ? '0.0.0.0' : (m[1] as string), port };
}

export function parseBytes(raw: string, name: string): number {
  const m = /^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(raw.trim());
  if (!m) fail(`${name}: expected a byte size such as 4MiB, got "${raw}"`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('g') ? 1024 ** 3 : 1;
  const n = Number(m[1]) * mult;
  if (n < 1024) fail(`${name}: must be at least 1KiB, got "${raw}"`);
  return n;
}

export function parseSeconds(raw: string, name: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 86400) fail(`${name}: expected seconds between 0 and 86400, got "${raw}"`);
  return Math.round(n * 1000);
}

export function parseBool(raw: string, name: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  return fail(`${name}: expected true or false, got "${raw}"`);
}

export function parseLevel(raw: string, name: string): LogLevel {
  const level = raw.toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) fail(`${name}: expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return level;
}

