import { describe, expect, it } from 'vitest';
import { loadConfig, parseHostPort, usage } from './config.js';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const { command, config } = loadConfig(['extproc'], {});
    expect(command).toBe('extproc');
    expect(config.grpc).toEqual({ host: '0.0.0.0', port: 50051 });
    expect(config.admin).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(config.injectStreamUsage).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('flags win over environment, environment over defaults', () => {
    const env = { TOKENMETER_GRPC_ADDRESS: '127.0.0.1:7000', TOKENMETER_LOG_LEVEL: 'debug', TOKENMETER_MAX_REQUEST_BODY: '1MiB' };
    const { config } = loadConfig(['extproc', '--grpc-address', '127.0.0.1:7001'], env);
    expect(config.grpc.port).toBe(7001);
    expect(config.logLevel).toBe('debug');
    expect(config.maxRequestBodyBytes).toBe(1024 * 1024);
  });

  it('rejects bad values naming the flag or variable', () => {
    expect(() => loadConfig(['extproc', '--grpc-address', 'nope'], {})).toThrow(/--grpc-address: expected HOST:PORT/);
    expect(() => loadConfig(['extproc'], { TOKENMETER_LOG_LEVEL: 'loud' })).toThrow(/TOKENMETER_LOG_LEVEL/);
    expect(() => loadConfig(['extproc', '--bogus'], {})).toThrow(/bogus/);
    expect(() => loadConfig(['extproc', '--encoding-overrides', 'x=p50k'], {})).toThrow(/--encoding-overrides: expected MODEL=o200k_base/);
  });

  it('reads the per-connection stream-reset limit (default 10000)', () => {
    expect(loadConfig(['extproc'], {}).config.maxStreamResetsPerSecond).toBe(10_000);
    expect(loadConfig(['extproc'], { TOKENMETER_MAX_STREAM_RESETS_PER_SECOND: '2000' }).config.maxStreamResetsPerSecond).toBe(2000);
    expect(() => loadConfig(['extproc', '--max-stream-resets-per-second', '0'], {})).toThrow(/--max-stream-resets-per-second: expected an integer from 1 to 1000000/);
    expect(() => loadConfig(['extproc', '--max-stream-resets-per-second', '2.5'], {})).toThrow(/--max-stream-resets-per-second/);
  });

  it('parses encoding overrides and IPv6 addresses', () => {
    const { config } = loadConfig(['extproc', '--encoding-overrides', 'my-model=cl100k_base, ft:*=o200k_base'], {});
    expect(config.encodingOverrides).toEqual({ 'my-model': 'cl100k_base', 'ft:*': 'o200k_base' });
    expect(parseHostPort('[::1]:80', 'x')).toEqual({ host: '[::1]', port: 80 });
  });
});

describe('count options', () => {
  it('are read for the count command and rejected elsewhere', () => {
    const parsed = loadConfig(['count', 'body.json', '--endpoint', 'openai.chat', '--model', 'gpt-4o'], { TOKENMETER_ENCODING_OVERRIDES: 'x=cl100k_base' });
    expect(parsed.command).toBe('count');
    expect(parsed.rest).toEqual(['body.json']);
    expect(parsed.count).toEqual({ endpoint: 'openai.chat', model: 'gpt-4o' });
    expect(parsed.config.encodingOverrides).toEqual({ x: 'cl100k_base' });
    expect(loadConfig(['count', '-'], {}).rest).toEqual(['-']);
    expect(() => loadConfig(['extproc', '--model', 'gpt-4o'], {})).toThrow(/--model is an option of the count command/);
    expect(() => loadConfig(['count', '-', '--endpoint', ' '], {})).toThrow(/--endpoint: expected a value/);
  });

  it('usage lists the count command', () => {
    expect(usage()).toContain('count FILE|-');
    expect(usage()).toContain('--endpoint');
  });
});
