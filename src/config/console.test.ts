import { describe, expect, it } from 'vitest';
import { loadConfig, usage } from './config.js';
import { consoleEnabled } from '../console/serve.js';

describe('console options', () => {
  it('--console auto|on|off (env TOKENMETER_CONSOLE); auto serves the console in local mode only', () => {
    expect(loadConfig(['extproc'], {}).config.console).toBe('auto');
    expect(loadConfig(['extproc', '--console', 'OFF'], {}).config.console).toBe('off');
    expect(loadConfig(['extproc'], { TOKENMETER_CONSOLE: 'on' }).config.console).toBe('on');
    expect(() => loadConfig(['extproc', '--console', 'maybe'], {})).toThrow('--console: expected auto, on or off, got "maybe"');
    const local = loadConfig(['extproc', '--policies', 'examples/policies'], {}).config;
    const cluster = loadConfig(['extproc', '--policies-configmap', 'tm/limits'], {}).config;
    expect([consoleEnabled(local), consoleEnabled(cluster), consoleEnabled({ ...cluster, console: 'on' }), consoleEnabled({ ...local, console: 'off' })]).toEqual([true, false, true, false]);
  });

  it('--console-user-header: a header name, lower-cased; never authorization or cookie', () => {
    expect(loadConfig(['console', '--console-user-header', 'X-Forwarded-User'], {}).config.consoleUserHeader).toBe('x-forwarded-user');
    expect(loadConfig(['console'], { TOKENMETER_CONSOLE_USER_HEADER: 'x-auth-request-email' }).config.consoleUserHeader).toBe('x-auth-request-email');
    expect(() => loadConfig(['console', '--console-user-header', 'x user'], {})).toThrow(/expected an HTTP header name/);
    expect(() => loadConfig(['console', '--console-user-header', 'Authorization'], {})).toThrow(/authorization cannot name a user/);
  });

  it('usage lists the console command', () => {
    expect(usage()).toContain('console       serve the budget console');
    expect(usage()).toContain('--console-user-header');
  });
});
