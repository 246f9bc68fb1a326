/**
 * The pino logger, created once by the composition root and passed in. Header-like fields that could carry
 * credentials are redacted as a second line of defence; the code never logs bodies or prompt text.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';

export type { Logger } from 'pino';

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { app: 'tokenmeter' },
    redact: { paths: ['authorization', '*.authorization', 'headers', '*.headers', 'api_key', '*.api_key'], censor: '[redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
