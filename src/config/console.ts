/**
 * The budget console's options (`tokenmeter extproc` serves it at /console/ in local mode; `tokenmeter console` is
 * the console alone). Parsers throw TM_CONFIG_INVALID naming the flag or variable, like every option (config.ts).
 */
import { fail } from './parsers.js';

export interface ConsoleConfig {
  /** extproc: serve /console/ on the admin address — auto (local mode: --policies, not --policies-configmap), on, off. */
  console: 'auto' | 'on' | 'off';
  /** Lower-case name of a trusted authenticating proxy's user header (e.g. x-forwarded-user); '' = none. */
  consoleUserHeader: string;
}

function parseConsole(raw: string, name: string): ConsoleConfig['console'] {
  const v = raw.trim().toLowerCase();
  if (v === 'auto' || v === 'on' || v === 'off') return v;
  if (v === 'true') return 'on';
  if (v === 'false') return 'off';
  return fail(`${name}: expected auto, on or off, got "${raw}"`);
}

function parseHeaderName(raw: string, name: string): string {
  const v = raw.trim().toLowerCase();
  if (v === '') return '';
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(v)) fail(`${name}: expected an HTTP header name such as x-forwarded-user, got "${raw}"`);
  if (v === 'authorization' || v === 'cookie') fail(`${name}: ${v} cannot name a user`);
  return v;
}

export const CONSOLE_OPTIONS = [
  { key: 'console', flag: 'console', env: 'TOKENMETER_CONSOLE', fallback: 'auto', parse: parseConsole, help: 'serve the budget console at /console/ on the admin address: auto (in local mode, i.e. with --policies), on, off' },
  { key: 'consoleUserHeader', flag: 'console-user-header', env: 'TOKENMETER_CONSOLE_USER_HEADER', fallback: '', parse: parseHeaderName, help: 'trust this header of an authenticating proxy (e.g. x-forwarded-user from oauth2-proxy) as the console user; only when nothing else can reach the console' },
] as const;
