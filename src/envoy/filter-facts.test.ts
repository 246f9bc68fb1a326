import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { filterFactsFrom, parseBodyModes, RENDERED_FILTER } from './filter-facts.js';

describe('filter facts', () => {
  it('parses REQUEST,RESPONSE body modes, case-insensitively', () => {
    expect(parseBodyModes('none, streamed')).toEqual({ requestBodyMode: 'NONE', responseBodyMode: 'STREAMED' });
    expect(parseBodyModes('BUFFERED')).toBeUndefined();
    expect(parseBodyModes('BUFFERED,STREAMED,NONE')).toBeUndefined();
    expect(parseBodyModes('GRPC,STREAMED')).toBeUndefined();
  });
  it('reads published facts only when every field is right', () => {
    expect(filterFactsFrom({ ...RENDERED_FILTER })).toEqual(RENDERED_FILTER);
    expect(filterFactsFrom({ ...RENDERED_FILTER, messageTimeoutMs: 0 })).toBeUndefined();
    expect(filterFactsFrom({ ...RENDERED_FILTER, requestBodyMode: 'SOMETIMES' })).toBeUndefined();
    expect(filterFactsFrom('x')).toBeUndefined();
  });
  it('--message-timeout and --assume-body-modes default to what the operator renders, and are validated', () => {
    const { config } = loadConfig(['extproc'], {});
    expect({ messageTimeoutMs: config.messageTimeoutMs, ...config.assumedBodyModes }).toEqual(RENDERED_FILTER);
    expect(loadConfig(['extproc', '--message-timeout', '1.5', '--assume-body-modes', 'BUFFERED,STREAMED'], {}).config)
      .toMatchObject({ messageTimeoutMs: 1500, assumedBodyModes: { requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED' } });
    expect(() => loadConfig(['extproc', '--assume-body-modes', 'BUFFERED'], {})).toThrow(/--assume-body-modes: expected REQUEST,RESPONSE body modes/);
    expect(() => loadConfig(['extproc'], { TOKENMETER_MESSAGE_TIMEOUT: '0' })).toThrow(/TOKENMETER_MESSAGE_TIMEOUT: expected a positive number of seconds/);
  });
});
